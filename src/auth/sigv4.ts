// Verifies AWS Signature Version 4 (Authorization header form) for the AWS JSON services: pure, no I/O.
import { AppError } from '../core/errors.js';
import { constantTimeEqual, hmacSha256, hmacSha256Hex, sha256Hex } from '../crypto/index.js';

export interface SignedRequest {
  method: string;
  /** The path as sent on the wire (still percent-encoded). */
  path: string;
  /** raw query string without '?' */
  query: string;
  headers: HeaderReader;
  /** The raw body bytes, before any parsing. */
  body: Uint8Array;
}

export interface SigV4Caller {
  accessKeyId: string;
  /** From the credential scope; the server derives ARN regions from it. */
  region: string;
  service: string;
  /** X-Amz-Security-Token, when sent (always signed). Checking it is the caller's job. */
  sessionToken?: string;
}

export interface SigV4Options {
  /** ms since the epoch */
  now: number;
  lookupSecret(accessKeyId: string): string | undefined;
  /** allowed scope services, e.g. ['kms'] */
  services: readonly string[];
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const PREFIX = `${ALGORITHM} `;
const TERMINATOR = 'aws4_request';
const MAX_SKEW_MS = 5 * 60_000;
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SCOPE_DATE = /^\d{8}$/;
const REGION = /^[a-z0-9-]{1,64}$/;
const SIGNATURE = /^[0-9a-f]{64}$/;
// Lowercase HTTP token names separated by ';': also keeps Headers.get from throwing on bad names.
const SIGNED_HEADERS = /^[!#$%&'*+.^_`|~0-9a-z-]+(?:;[!#$%&'*+.^_`|~0-9a-z-]+)*$/;
// Only values with a whitespace run or a non-space whitespace need the (allocating) collapse.
const NEEDS_COLLAPSE = /\s\s|[\t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;
const WHITESPACE_RUN = /\s+/g;

/** Read access to request headers (lowercase names): a fetch Headers or a node header adapter. */
export interface HeaderReader {
  get(name: string): string | null;
  /** Every header name the request carries, lowercase. */
  keys(): Iterable<string>;
}

/** True when the request claims SigV4 header authentication. */
export function isSigV4(headers: HeaderReader): boolean {
  return headers.get('authorization')?.startsWith(ALGORITHM) ?? false;
}

/**
 * Checks the request's SigV4 signature and returns who signed it. Throws AppError with AWS's codes:
 * IncompleteSignatureException (malformed header), UnrecognizedClientException (unknown key),
 * InvalidSignatureException (skew, scope, unsigned required headers, body hash, mismatch).
 */
export function verifySigV4(req: SignedRequest, opts: SigV4Options): SigV4Caller {
  const { headers } = req;
  const auth = parseAuthorization(headers.get('authorization'));

  const amzDate = headers.get('x-amz-date');
  if (amzDate === null) {
    throw incomplete("Authorization header requires existence of a 'X-Amz-Date' header.");
  }
  const m = AMZ_DATE.exec(amzDate);
  if (m === null) throw incomplete("X-Amz-Date must be in the ISO8601 basic format 'YYYYMMDDTHHMMSSZ'.");
  const signedAt = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);

  // Both values are validated above, so echoing them cannot leak or inject anything.
  if (!amzDate.startsWith(auth.date)) {
    throw invalid(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  if (!opts.services.includes(auth.service)) {
    throw invalid(
      `Credential should be scoped to correct service: ${opts.services.map((s) => `'${s}'`).join(' or ')}.`,
    );
  }
  if (!auth.names.includes('host')) {
    throw invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (!auth.names.includes('x-amz-date')) {
    throw invalid("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
  }
  // As AWS requires: an unsigned x-amz-* header could be changed on the way, and X-Amz-Target
  // names the operation (a signed DescribeSecret must not become GetSecretValue), the security
  // token the session. Every real signer (smithy, botocore, Go, Java) signs all it sends.
  for (const name of headers.keys()) {
    if (name.startsWith('x-amz-') && !auth.names.includes(name)) {
      throw invalid(`'${displayName(name)}' must be a 'SignedHeader' in the AWS Authorization.`);
    }
  }

  if (opts.now - signedAt > MAX_SKEW_MS) {
    throw invalid(
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(opts.now - MAX_SKEW_MS)} (${formatAmzDate(opts.now)} - 5 min.)`,
    );
  }
  if (signedAt - opts.now > MAX_SKEW_MS) {
    throw invalid(
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(opts.now + MAX_SKEW_MS)} (${formatAmzDate(opts.now)} + 5 min.)`,
    );
  }

  const secret = opts.lookupSecret(auth.accessKeyId);
  if (secret === undefined) {
    throw new AppError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }

  const sessionToken = headers.get('x-amz-security-token');

  const payloadHash = sha256Hex(req.body);
  const declaredHash = headers.get('x-amz-content-sha256');
  if (declaredHash !== null && declaredHash !== payloadHash) {
    throw invalid("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  let canonicalHeaders = '';
  for (const name of auth.names) {
    // Reuse the two values already read: Headers.get is a large share of the cost.
    const value = name === 'x-amz-date' ? amzDate : name === 'x-amz-content-sha256' ? declaredHash : headers.get(name);
    if (value === null) throw invalid(`The signed header '${name}' is missing from the request.`);
    canonicalHeaders += `${name}:${canonicalHeaderValue(value)}\n`;
  }
  const canonicalRequest = `${req.method}\n${canonicalUri(req.path)}\n${canonicalQuery(req.query)}\n${canonicalHeaders}\n${auth.signedHeaders}\n${payloadHash}`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${auth.scope}\n${sha256Hex(canonicalRequest)}`;
  const expected = hmacSha256Hex(signingKey(secret, auth), stringToSign);
  if (!constantTimeEqual(expected, auth.signature)) throw invalid(MISMATCH);

  const caller: SigV4Caller = { accessKeyId: auth.accessKeyId, region: auth.region, service: auth.service };
  if (sessionToken !== null) caller.sessionToken = sessionToken;
  return caller;
}

interface ParsedAuthorization {
  accessKeyId: string;
  /** date/region/service/aws4_request */
  scope: string;
  date: string;
  region: string;
  service: string;
  /** The SignedHeaders list as sent, and split. */
  signedHeaders: string;
  names: string[];
  signature: string;
}

function parseAuthorization(header: string | null): ParsedAuthorization {
  if (header === null) throw new AppError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  if (!header.startsWith(PREFIX)) {
    throw incomplete(`Authorization header requires the '${ALGORITHM}' algorithm.`);
  }

  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  // indexOf scanning instead of split/trim: this runs on every request.
  const end = header.length;
  let i = PREFIX.length;
  while (i < end) {
    let comma = header.indexOf(',', i);
    if (comma < 0) comma = end;
    let from = i;
    let to = comma;
    while (from < to && isSpace(header.charCodeAt(from))) from++;
    while (to > from && isSpace(header.charCodeAt(to - 1))) to--;
    if (to > from) {
      const eq = header.indexOf('=', from);
      if (eq <= from || eq >= to) throw incomplete("Authorization header parameters must be of the form 'Name=Value'.");
      const value = header.slice(eq + 1, to);
      if (eq - from === 10 && header.startsWith('Credential', from)) credential = value;
      else if (eq - from === 13 && header.startsWith('SignedHeaders', from)) signedHeaders = value;
      else if (eq - from === 9 && header.startsWith('Signature', from)) signature = value;
    }
    i = comma + 1;
  }

  if (!credential || !signature || !signedHeaders) {
    const missing: string[] = [];
    if (!credential) missing.push('Credential');
    if (!signature) missing.push('Signature');
    if (!signedHeaders) missing.push('SignedHeaders');
    throw incomplete(missing.map((p) => `Authorization header requires '${p}' parameter.`).join(' '));
  }

  const slash = credential.indexOf('/');
  const fields = credential.split('/');
  if (fields.length !== 5 || slash <= 0) {
    throw incomplete('Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term.');
  }
  const accessKeyId = fields[0]!;
  const date = fields[1]!;
  const region = fields[2]!;
  const service = fields[3]!;
  const terminator = fields[4]!;
  if (terminator !== TERMINATOR) {
    throw incomplete(`Credential should be scoped with a valid terminator: '${TERMINATOR}'.`);
  }
  if (!SCOPE_DATE.test(date)) throw incomplete('Credential should be scoped to a date in the format YYYYMMDD.');
  if (!REGION.test(region)) throw incomplete('Credential should be scoped to a valid region.');
  if (service === '') throw incomplete('Credential should be scoped to a service.');
  if (!SIGNED_HEADERS.test(signedHeaders)) {
    throw incomplete("SignedHeaders must be a ';'-separated list of lowercase header names.");
  }
  if (!SIGNATURE.test(signature)) throw incomplete('Signature must be 64 lowercase hexadecimal characters.');

  return {
    accessKeyId,
    scope: credential.slice(slash + 1),
    date,
    region,
    service,
    signedHeaders,
    names: signedHeaders.split(';'),
    signature,
  };
}

// Deriving the key costs four HMACs; it changes only per day, so caching makes it one Map lookup.
const KEY_CACHE_MAX = 256;
const keyCache = new Map<string, Buffer>();

function signingKey(secret: string, auth: ParsedAuthorization): Buffer {
  // The scope holds no '\n', so scope + '\n' + secret is unambiguous.
  const cacheKey = `${auth.scope}\n${secret}`;
  let key = keyCache.get(cacheKey);
  if (key === undefined) {
    key = hmacSha256(
      hmacSha256(hmacSha256(hmacSha256(`AWS4${secret}`, auth.date), auth.region), auth.service),
      TERMINATOR,
    );
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(cacheKey, key);
  }
  return key;
}

const isSpace = (c: number): boolean => c === 32 || c === 9;

function canonicalHeaderValue(value: string): string {
  const trimmed = value.trim();
  return NEEDS_COLLAPSE.test(trimmed) ? trimmed.replace(WHITESPACE_RUN, ' ') : trimmed;
}

/** Dot segments and empty segments removed, each segment encoded again, as botocore and smithy do. */
function canonicalUri(path: string): string {
  if (path === '/' || path === '') return '/';
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(uriEncode(segment));
  }
  const lead = path.startsWith('/') ? '/' : '';
  const trail = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `${lead}${segments.join('/')}${trail}`;
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs: string[][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([uriEncode(uriDecode(name)), uriEncode(uriDecode(value))]);
  }
  pairs.sort((a, b) => compare(a[0]!, b[0]!) || compare(a[1]!, b[1]!));
  return pairs.map((p) => `${p[0]}=${p[1]}`).join('&');
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** RFC 3986 encoding: only A-Z a-z 0-9 - _ . ~ stay as they are. */
function uriEncode(s: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(s);
  } catch {
    // A lone surrogate cannot have been signed by any client.
    throw invalid(MISMATCH);
  }
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function uriDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** 20261129T043637Z */
function formatAmzDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** x-amz-target → X-Amz-Target, cut short: a header name is a token (no quote, no newline) but may be long. */
function displayName(name: string): string {
  const short = name.length > 64 ? `${name.slice(0, 64)}…` : name;
  return short.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

const incomplete = (message: string): AppError => new AppError('IncompleteSignatureException', message);
const invalid = (message: string): AppError => new AppError('InvalidSignatureException', message);
