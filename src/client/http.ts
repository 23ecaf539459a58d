// The one HTTP(S) client for all outbound calls: agent, issuer keys, Terraform provider, webhook, reload hook, CLI.
//
// Built on node:http, not undici: undici 7 (an Agent with keep-alive, per-CA connect options) cost the
// sidecar 16–19 MB of RSS, far over the 3 MB issue 15 allowed. Measured with
// `BENCH_ONLY=rotation,coldstart npm run bench:agent` (the undici build through BENCH_AGENT_CLI), 3 runs
// interleaved with the node:http build: agent RSS idle 103.0 / 104.0 / 92.0 MB against 84.2–86.9 MB
// (medians 103.0 vs 84.4), after 200 rotations 100.2 / 101.8 / 99.9 MB against 83.4–85.4 MB (medians
// 100.2 vs 83.9). node:http is loaded by the agent's own endpoint anyway, so this client costs it nothing.
//
// What every caller gets: keep-alive connections (Node's global agents; the https pool is keyed by CA as
// well, so a connection checked against one CA never serves a request that names another), a per-request CA,
// one timeout covering the whole exchange (body included), abort by signal, a body read whole up to a size
// cap or streamed, a redirect mode, and one set of errors (./errors.ts).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  HttpAbortError,
  HttpClientError,
  HttpConnectionError,
  HttpRedirectError,
  HttpTimeoutError,
  ResponseTooLargeError,
} from './errors.js';
import { type Hop, nextHop, REDIRECT_STATUSES } from './redirect.js';

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Aborts the request, and the response body while it is read: HttpAbortError. */
  signal?: AbortSignal;
  /** The whole exchange, redirects and the body included, must end within this: HttpTimeoutError. */
  timeoutMs?: number;
  /** PEM certificates to trust for https instead of the system's (e.g. a cluster's API server CA). */
  ca?: string;
  /**
   * A 301/302/303/307/308 answer is: `manual` (default) the response, `error` an HttpRedirectError,
   * `follow` followed as fetch follows it (at most 20; a POST becomes a GET on 301/302/303; credentials
   * are dropped on the way to another origin).
   */
  redirect?: 'manual' | 'error' | 'follow';
}

export interface HttpResponse {
  status: number;
  /** The body as a stream of strings (the watch); its errors are the stream's own. */
  body: IncomingMessage;
  /** The whole body; past `maxBytes` the response is abandoned and ResponseTooLargeError thrown. */
  text(maxBytes?: number): Promise<string>;
  /** Abandons the response without reading its body. */
  discard(): void;
}

/** Sends one request; resolves once the response's head has arrived (the body is the caller's to read). */
export async function send(url: URL, init: HttpRequest = {}): Promise<HttpResponse> {
  const deadline = startDeadline(init.timeoutMs);
  const signals = [init.signal, deadline?.signal].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
  const fail = (e: unknown): HttpClientError => {
    if (e instanceof HttpClientError) return e;
    if (init.signal?.aborted) return new HttpAbortError();
    if (deadline?.signal.aborted) return new HttpTimeoutError(deadline.timeoutMs);
    return new HttpConnectionError(e);
  };
  let hop: Hop = { url, method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body };
  for (let followed = 0; ; followed++) {
    let res: IncomingMessage;
    try {
      res = await exchange(hop, init.ca, signal);
      const next = redirectOf(res, hop, init.redirect ?? 'manual', followed);
      if (next) {
        res.resume(); // drained, not destroyed: the connection goes back to the pool
        hop = next;
        continue;
      }
    } catch (e) {
      deadline?.clear();
      throw fail(e);
    }
    if (deadline) res.once('close', deadline.clear);
    res.setEncoding('utf8');
    return {
      status: res.statusCode ?? 0,
      body: res,
      text: async (maxBytes) => {
        try {
          return await readAll(res, maxBytes);
        } catch (e) {
          throw fail(e);
        }
      },
      discard: () => res.destroy(),
    };
  }
}

/** The request `res` redirects to under `mode`, or undefined when `res` is the answer. */
function redirectOf(res: IncomingMessage, hop: Hop, mode: HttpRequest['redirect'], followed: number): Hop | undefined {
  const status = res.statusCode ?? 0;
  if (mode === 'manual' || !REDIRECT_STATUSES.has(status)) return undefined;
  try {
    if (mode === 'error') throw new HttpRedirectError(`unexpected redirect (HTTP ${status})`);
    return nextHop(hop, status, res.headers.location, followed);
  } catch (e) {
    res.destroy();
    throw e;
  }
}

/** One request on the wire; resolves with the response once its head has arrived. */
function exchange(hop: Hop, ca: string | undefined, signal: AbortSignal | undefined): Promise<IncomingMessage> {
  const request = hop.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      hop.url,
      {
        method: hop.method,
        headers: {
          // Names the caller to proxies, firewalls and webhook receivers that ask for one (fetch sent `node`).
          'user-agent': 'keysafe',
          ...hop.headers,
          ...(hop.body !== undefined && { 'content-length': Buffer.byteLength(hop.body) }),
        },
        ...(signal && { signal }),
        ...(ca && { ca }),
      },
      resolve,
    );
    req.on('error', reject);
    req.end(hop.body);
  });
}

/** A timer that aborts the exchange; cleared once the response is closed (read, discarded or failed). */
function startDeadline(timeoutMs: number | undefined) {
  if (timeoutMs === undefined) return undefined;
  const controller = new AbortController();
  // Unref'd: a pending exchange holds the process open by its socket, a finished one must not by its timer.
  const timer = setTimeout(() => controller.abort(), timeoutMs).unref();
  return { signal: controller.signal, timeoutMs, clear: () => clearTimeout(timer) };
}

async function readAll(res: IncomingMessage, maxBytes = Number.POSITIVE_INFINITY): Promise<string> {
  // Read incrementally and stop at the cap: neither a declared nor an endless body is buffered.
  if (Number(res.headers['content-length']) > maxBytes) {
    res.destroy();
    throw new ResponseTooLargeError(maxBytes);
  }
  let text = '';
  let bytes = 0;
  for await (const chunk of res) {
    bytes += Buffer.byteLength(chunk as string);
    if (bytes > maxBytes) {
      res.destroy();
      throw new ResponseTooLargeError(maxBytes);
    }
    text += chunk;
  }
  return text;
}
