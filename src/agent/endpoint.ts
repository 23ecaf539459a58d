// The agent's localhost endpoint (Hono): the AWS Secrets Manager Agent's GET API over the agent's secrets, plus health.
//
// Compatibility with the AWS agent (aws/aws-secretsmanager-agent, server.rs and parse.rs), so code written
// for it or for the Lambda extension works unchanged:
// - checks in its order: `X-Forwarded-For` → 400 "Forwarded", token → 403 "Bad Token", method → 405
//   "Not allowed"; these three answers are its plain-text bodies, byte for byte;
// - the token may come in `X-Aws-Parameters-Secrets-Token` or `X-Vault-Token` (its default ssrf_headers);
//   unlike the AWS agent we compare in constant time and refuse everything while the token is empty;
// - query parameters secretId, versionId, versionStage, refreshNow; any other → 400 "unknown parameter: <p>";
// - success: the GetSecretValue JSON; a Secrets Manager error: `{"__type","message"}` with the status AWS
//   gives it (400 for ResourceNotFoundException), as the AWS agent passes AWS's answer through.
// Keysafe additions: `GET /v1/secrets/<id>` (id may contain `/`; ETag, Age, If-None-Match → 304; errors use
// the native API's statuses, so an unknown secret is 404 there), `/healthz`, `/readyz`, `/metrics`, and
// `/ping` as the AWS agent has it. Health routes need no token: they carry no secret.
//
// Hot path: no Headers objects, no stringify when the source hands a pre-serialized body, and a
// synchronous answer (no promise) when the source answers synchronously from memory.
import { type Context, Hono } from 'hono';
import { AppError } from '../core/errors.js';
import { awsErrorBody, nativeStatusOf, statusOf } from '../core/http-errors.js';
import { constantTimeEqual } from '../crypto/index.js';
import type { Logger } from '../observability/logger.js';
import { NO_VERSION, parseQuery, type SecretVersionQuery, versionQuery } from './endpoint-query.js';

export { parseQuery, type SecretVersionQuery } from './endpoint-query.js';

/** One secret version as the agent holds it. */
export interface ServedSecret {
  /** The GetSecretValue JSON: ARN, Name, VersionId, SecretString | SecretBinary (base64), VersionStages, CreatedDate. */
  body: Record<string, unknown>;
  /** `body` already serialized, cached by the caller per version: spares a JSON.stringify per request. */
  json?: string;
  versionId: string;
  /** When the agent last confirmed this value with the server (ms since the epoch): the Age header. */
  fetchedAt: number;
}

export interface SecretSource {
  /**
   * The version asked for (AWSCURRENT when neither is given). Throws AppError (ResourceNotFoundException,
   * ServiceUnavailableException when too stale…) whose message never holds a secret value. May answer
   * synchronously: the endpoint then answers without a promise.
   */
  get(secretId: string, options: SecretVersionQuery): ServedSecret | Promise<ServedSecret>;
}

export interface AgentEndpointDeps {
  /** The value required in X-Aws-Parameters-Secrets-Token; read per request so a rewritten token file applies. */
  localToken: () => string;
  source: SecretSource;
  readiness: () => { ready: boolean; detail: Record<string, unknown> };
  metrics: () => string;
  now: () => number;
  /** For unexpected failures only (a programmer mistake): logs the error's name, never its message. */
  logger?: Logger;
}

const SECRETS_PREFIX = '/v1/secrets/';
const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;
const TEXT_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } as const;
const METRICS_HEADERS = { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } as const;
const INTERNAL = new AppError('InternalFailure', 'The agent encountered an internal error.');

const text = (body: string, status: number) => new Response(body, { status, headers: TEXT_HEADERS });

export function createAgentEndpoint(deps: AgentEndpointDeps): Hono {
  const app = new Hono();
  app.all('/secretsmanager/get', (c) => lambdaGet(c, deps));
  app.all(`${SECRETS_PREFIX}*`, (c) => nativeGet(c, deps));
  app.all('/healthz', (c) =>
    c.req.method === 'GET'
      ? new Response('{"status":"ok"}', { status: 200, headers: JSON_HEADERS })
      : text('Not allowed', 405),
  );
  app.all('/ping', (c) => (c.req.method === 'GET' ? text('healthy', 200) : text('Not allowed', 405)));
  app.all('/readyz', (c) => {
    if (c.req.method !== 'GET') return text('Not allowed', 405);
    const { ready, detail } = deps.readiness();
    return new Response(JSON.stringify({ status: ready ? 'ready' : 'not ready', detail }), {
      status: ready ? 200 : 503,
      headers: JSON_HEADERS,
    });
  });
  app.all('/metrics', (c) =>
    c.req.method === 'GET'
      ? new Response(deps.metrics(), { status: 200, headers: METRICS_HEADERS })
      : text('Not allowed', 405),
  );
  app.notFound(() => text('Not found', 404));
  app.onError((e) => failure(e, true, deps.logger));
  return app;
}

const lambdaStyle = (s: ServedSecret) =>
  new Response(s.json ?? JSON.stringify(s.body), { status: 200, headers: JSON_HEADERS });

/** `GET /secretsmanager/get?secretId=…`: the AWS agent's route, its answers byte for byte. */
function lambdaGet(c: Context, deps: AgentEndpointDeps): Response | Promise<Response> {
  const refused = refuse(c, deps);
  if (refused) return refused;
  const query = parseQuery(c.req.url, true);
  if (typeof query === 'string') return text(query, 400);
  const { secretId } = query;
  if (secretId === undefined || secretId === '') return text('missing parameter secretId', 400);
  return answer(deps, secretId, versionQuery(query), lambdaStyle, false);
}

/** `GET /v1/secrets/<id>`: Keysafe's route, with ETag, Age and If-None-Match. */
function nativeGet(c: Context, deps: AgentEndpointDeps): Response | Promise<Response> {
  const refused = refuse(c, deps);
  if (refused) return refused;
  const url = c.req.url;
  const pathStart = url.indexOf('/', url.indexOf('//') + 2);
  // The router matched the decodeURI'd path; only the literal prefix is ours (not `/v1/%73ecrets/`).
  if (!url.startsWith(SECRETS_PREFIX, pathStart)) return text('Not found', 404);
  const queryStart = url.indexOf('?', pathStart);
  const rawId = url.slice(pathStart + SECRETS_PREFIX.length, queryStart === -1 ? undefined : queryStart);
  let secretId: string;
  try {
    // decodeURIComponent, not the router's decodeURI: `app%2Fdb` and `app/db` name the same secret.
    secretId = rawId.includes('%') ? decodeURIComponent(rawId) : rawId;
  } catch {
    return text('malformed secret ID', 400);
  }
  if (secretId === '') return text('missing secret ID', 400);
  const query = queryStart === -1 ? NO_VERSION : parseQuery(url, false);
  if (typeof query === 'string') return text(query, 400);
  const ifNoneMatch = header(c, 'if-none-match');
  return answer(deps, secretId, versionQuery(query), (s) => nativeStyle(s, ifNoneMatch, deps.now()), true);
}

function nativeStyle(s: ServedSecret, ifNoneMatch: string | undefined, now: number): Response {
  const etag = `"${s.versionId}"`;
  const age = Math.max(0, Math.floor((now - s.fetchedAt) / 1000));
  if (ifNoneMatch === etag) {
    return new Response(null, { status: 304, headers: { etag, age: `${age}`, 'cache-control': 'no-store' } });
  }
  return new Response(s.json ?? JSON.stringify(s.body), {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', etag, age: `${age}` },
  });
}

/** The AWS agent's request checks, in its order; undefined when the request may proceed. */
function refuse(c: Context, deps: AgentEndpointDeps): Response | undefined {
  if (header(c, 'x-forwarded-for') !== undefined || header(c, 'forwarded') !== undefined) {
    return text('Forwarded', 400);
  }
  const expected = deps.localToken();
  const aws = header(c, 'x-aws-parameters-secrets-token');
  const vault = aws === undefined ? header(c, 'x-vault-token') : undefined;
  const presented = aws ?? vault;
  // An empty expected token (a misconfiguration) would match an empty header: refuse everything instead.
  if (presented === undefined || expected === '' || !constantTimeEqual(presented, expected)) {
    return text('Bad Token', 403);
  }
  if (c.req.method !== 'GET') return text('Not allowed', 405);
  return undefined;
}

/** The source's answer through `ok`, synchronously when the source answers from memory. */
function answer(
  deps: AgentEndpointDeps,
  secretId: string,
  query: SecretVersionQuery,
  ok: (s: ServedSecret) => Response,
  native: boolean,
): Response | Promise<Response> {
  let result: ServedSecret | Promise<ServedSecret>;
  try {
    result = deps.source.get(secretId, query);
  } catch (e) {
    return failure(e, native, deps.logger);
  }
  if (typeof (result as Promise<ServedSecret>).then === 'function') {
    return (result as Promise<ServedSecret>).then(ok, (e: unknown) => failure(e, native, deps.logger));
  }
  return ok(result as ServedSecret);
}

function failure(e: unknown, native: boolean, logger: Logger | undefined): Response {
  let error: AppError;
  if (e instanceof AppError) {
    error = e;
  } else {
    // Not an AppError: a bug. Its message might quote data (a JSON.parse error quotes its input), so only
    // the name is logged and the client gets an opaque fault.
    logger?.error('agent endpoint failed unexpectedly', { error: e instanceof Error ? e.name : typeof e });
    error = INTERNAL;
  }
  return new Response(awsErrorBody(error), {
    status: native ? nativeStatusOf(error) : statusOf(error),
    headers: JSON_HEADERS,
  });
}

/** A request header, read from node's IncomingMessage when served by @hono/node-server (no Headers object). */
function header(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: { headers: Record<string, string | string[] | undefined> } } | undefined)
    ?.incoming;
  if (incoming) {
    const v = incoming.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }
  return c.req.raw.headers.get(name) ?? undefined;
}
