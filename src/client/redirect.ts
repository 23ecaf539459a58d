// Where a redirect leads in the client's `follow` mode: the Fetch standard's rules, as fetch applied them before.
import { HttpRedirectError } from './errors.js';

/** The statuses fetch treats as redirects (304 and 300 are answers, not redirects). */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** fetch's limit: the 21st redirect is an error. */
export const MAX_REDIRECTS = 20;

/** One request of a redirect chain. */
export interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** Headers that describe a body: dropped with the body when a redirect turns the request into a GET. */
const BODY_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
]);
/** Credentials that never follow a redirect to another origin. */
const ORIGIN_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'host']);

const without = (headers: Record<string, string>, names: ReadonlySet<string>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !names.has(name.toLowerCase())));

/**
 * The request that follows `hop`'s redirect answer, or undefined when the answer has no Location (it is then
 * the response). `followed` counts the redirects taken before this one.
 */
export function nextHop(hop: Hop, status: number, location: string | undefined, followed: number): Hop | undefined {
  if (location === undefined) return undefined;
  if (followed >= MAX_REDIRECTS) throw new HttpRedirectError('redirect count exceeded');
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    throw new HttpRedirectError('the redirect location is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpRedirectError('the redirect location is not an http(s) URL');
  }
  // fetch never puts URL credentials on the wire; a location carrying some is refused rather than sent.
  if (url.username || url.password) throw new HttpRedirectError('the redirect location includes credentials');
  let { method, headers, body } = hop;
  if (
    ((status === 301 || status === 302) && method === 'POST') ||
    (status === 303 && !['GET', 'HEAD'].includes(method))
  ) {
    method = 'GET';
    body = undefined;
    headers = without(headers, BODY_HEADERS);
  }
  if (url.origin !== hop.url.origin) headers = without(headers, ORIGIN_HEADERS);
  return { url, method, headers, body };
}
