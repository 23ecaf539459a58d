// The agent's localhost endpoint over real HTTP: AWS-agent compatibility, every security check, ETag/Age, health.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createAgentEndpoint,
  parseQuery,
  type SecretVersionQuery,
  type ServedSecret,
} from '../../src/agent/endpoint.js';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { createLogger } from '../../src/observability/logger.js';

const TOKEN = 'local-token-4f1c2b9a7e3d5c6b8a9f0e1d2c3b4a5f';
const CANARY = 'canary-Zx81-db-password-value';
const VERSION = '5767290c-d089-49ed-b97c-17086f8c9d79';
const OLD_VERSION = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf';

const START = Date.UTC(2026, 0, 1, 12);
const clock = new ManualClock(START);
/** The current version was last confirmed 42.5 s before the clock's start. */
const FETCHED_AT = START - 42_500;
const calls: { secretId: string; options: SecretVersionQuery }[] = [];
const logs: string[] = [];
let ready = false;
let localToken = TOKEN;
/** How the source answers: sync from memory (as the agent does), or async. */
let mode: 'sync' | 'async' = 'sync';
let failWith: unknown;

function gsv(versionId: string, stage: string, value: string): Record<string, unknown> {
  return {
    ARN,
    Name: 'app/db',
    VersionId: versionId,
    SecretString: value,
    VersionStages: [stage],
    CreatedDate: 1767268800,
  };
}

function lookup(secretId: string, options: SecretVersionQuery): ServedSecret {
  calls.push({ secretId, options });
  if (failWith !== undefined) throw failWith;
  if (secretId !== 'app/db' && secretId !== ARN) {
    throw new AppError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  }
  if (options.versionId === OLD_VERSION || options.versionStage === 'AWSPREVIOUS') {
    return { body: gsv(OLD_VERSION, 'AWSPREVIOUS', 'old-value'), versionId: OLD_VERSION, fetchedAt: clock.now() };
  }
  if (options.versionId !== undefined && options.versionId !== VERSION) {
    throw new AppError(
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret value for VersionId.",
    );
  }
  const body = gsv(VERSION, 'AWSCURRENT', CANARY);
  // Pre-serialized with a marker key order the endpoint must send verbatim (no re-stringify).
  return { body, json: JSON.stringify(body), versionId: VERSION, fetchedAt: FETCHED_AT };
}

const app = createAgentEndpoint({
  localToken: () => localToken,
  source: {
    get: (secretId, options) =>
      mode === 'sync' ? lookup(secretId, options) : Promise.resolve().then(() => lookup(secretId, options)),
  },
  readiness: () => ({ ready, detail: { secrets: { 'app/db': ready ? 'written' : 'pending' } } }),
  metrics: () => 'keysafe_agent_up 1\n',
  now: () => clock.now(),
  logger: createLogger('debug', (line) => logs.push(line)),
});

let server: ReturnType<typeof serve>;
let base: string;

beforeAll(async () => {
  await new Promise<void>((ok) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ok());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
});

beforeEach(() => {
  clock.set(START);
  calls.length = 0;
  logs.length = 0;
  ready = false;
  localToken = TOKEN;
  mode = 'sync';
  failWith = undefined;
});

async function get(
  path: string,
  headers: Record<string, string> = { 'X-Aws-Parameters-Secrets-Token': TOKEN },
  method = 'GET',
) {
  const res = await fetch(`${base}${path}`, { method, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('GET /secretsmanager/get (the AWS Secrets Manager Agent shape)', () => {
  it('answers the GetSecretValue JSON of AWSCURRENT, the pre-serialized body verbatim', async () => {
    const res = await get('/secretsmanager/get?secretId=app%2Fdb');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(res.text)).toEqual(gsv(VERSION, 'AWSCURRENT', CANARY));
    expect(res.text).toBe(JSON.stringify(gsv(VERSION, 'AWSCURRENT', CANARY)));
    expect(calls).toEqual([{ secretId: 'app/db', options: {} }]);
  });

  it('serializes the body when the source gives no pre-serialized json', async () => {
    const res = await get('/secretsmanager/get?secretId=app/db&versionStage=AWSPREVIOUS');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual(gsv(OLD_VERSION, 'AWSPREVIOUS', 'old-value'));
  });

  it('passes versionId and versionStage through to the source', async () => {
    await get(`/secretsmanager/get?secretId=app/db&versionId=${OLD_VERSION}`);
    await get('/secretsmanager/get?secretId=app/db&versionStage=AWSPREVIOUS');
    await get(`/secretsmanager/get?versionStage=AWSCURRENT&secretId=${encodeURIComponent(ARN)}&versionId=${VERSION}`);
    expect(calls).toEqual([
      { secretId: 'app/db', options: { versionId: OLD_VERSION } },
      { secretId: 'app/db', options: { versionStage: 'AWSPREVIOUS' } },
      { secretId: ARN, options: { versionId: VERSION, versionStage: 'AWSCURRENT' } },
    ]);
  });

  it('answers from an asynchronous source the same way', async () => {
    mode = 'async';
    const res = await get('/secretsmanager/get?secretId=app/db');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ VersionId: VERSION, SecretString: CANARY });
    const missing = await get('/secretsmanager/get?secretId=nope');
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)).toMatchObject({ __type: 'ResourceNotFoundException' });
  });

  it('answers an unknown secret with the AWS error shape and 400, as the AWS agent passes AWS through', async () => {
    const res = await get('/secretsmanager/get?secretId=shop/other');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(res.text)).toEqual({
      __type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  });

  it('refuses a missing secretId, unknown parameters and a bad refreshNow with the AWS agent messages', async () => {
    expect(await get('/secretsmanager/get')).toMatchObject({ status: 400, text: 'missing parameter secretId' });
    expect(await get('/secretsmanager/get?secretId=')).toMatchObject({
      status: 400,
      text: 'missing parameter secretId',
    });
    expect(await get('/secretsmanager/get?secretId=app/db&abc=1')).toMatchObject({
      status: 400,
      text: 'unknown parameter: abc',
    });
    expect(await get('/secretsmanager/get?secretId=app/db&refreshNow=maybe')).toMatchObject({
      status: 400,
      text: 'invalid refreshNow value',
    });
    expect((await get('/secretsmanager/get?secretId=app/db&refreshNow=TRUE')).status).toBe(200);
    expect(calls.map((c) => c.secretId)).toEqual(['app/db']);
  });
});

describe('the local token, forwarding and methods', () => {
  it('answers 403 "Bad Token" to a missing or wrong token, without asking the source', async () => {
    const missing = await get('/secretsmanager/get?secretId=app/db', {});
    const wrong = await get('/secretsmanager/get?secretId=app/db', {
      'X-Aws-Parameters-Secrets-Token': 'x'.repeat(TOKEN.length),
    });
    const prefix = await get('/secretsmanager/get?secretId=app/db', {
      'X-Aws-Parameters-Secrets-Token': TOKEN.slice(0, -1),
    });
    const longer = await get('/v1/secrets/app/db', { 'X-Aws-Parameters-Secrets-Token': `${TOKEN}0` });
    for (const res of [missing, wrong, prefix, longer]) expect(res).toMatchObject({ status: 403, text: 'Bad Token' });
    expect(calls).toEqual([]);
  });

  it('accepts the token in X-Vault-Token too, as the AWS agent does by default', async () => {
    expect((await get('/secretsmanager/get?secretId=app/db', { 'X-Vault-Token': TOKEN })).status).toBe(200);
    expect((await get('/secretsmanager/get?secretId=app/db', { 'X-Vault-Token': 'nope' })).status).toBe(403);
  });

  it('refuses everything while the local token is empty, even an empty header', async () => {
    localToken = '';
    const res = await get('/secretsmanager/get?secretId=app/db', { 'X-Aws-Parameters-Secrets-Token': '' });
    expect(res).toMatchObject({ status: 403, text: 'Bad Token' });
  });

  it('uses the current local token on every request (a rewritten token file applies at once)', async () => {
    localToken = 'second-token';
    expect((await get('/secretsmanager/get?secretId=app/db')).status).toBe(403);
    expect(
      (await get('/secretsmanager/get?secretId=app/db', { 'X-Aws-Parameters-Secrets-Token': 'second-token' })).status,
    ).toBe(200);
  });

  it('answers 400 "Forwarded" to any X-Forwarded-For (or Forwarded) header, before the token check', async () => {
    const withToken = await get('/secretsmanager/get?secretId=app/db', {
      'X-Aws-Parameters-Secrets-Token': TOKEN,
      'X-Forwarded-For': '127.0.0.1',
    });
    const withoutToken = await get('/v1/secrets/app/db', { 'X-Forwarded-For': '10.0.0.1' });
    const forwarded = await get('/v1/secrets/app/db', {
      'X-Aws-Parameters-Secrets-Token': TOKEN,
      Forwarded: 'for=10.0.0.1',
    });
    const empty = await get('/v1/secrets/app/db', { 'X-Aws-Parameters-Secrets-Token': TOKEN, 'X-Forwarded-For': '' });
    for (const res of [withToken, withoutToken, forwarded, empty])
      expect(res).toMatchObject({ status: 400, text: 'Forwarded' });
    expect(calls).toEqual([]);
  });

  it('answers 405 "Not allowed" to anything but GET, after the token check as the AWS agent does', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD']) {
      const res = await get('/secretsmanager/get?secretId=app/db', { 'X-Aws-Parameters-Secrets-Token': TOKEN }, method);
      expect(res.status).toBe(405);
      if (method !== 'HEAD') expect(res.text).toBe('Not allowed');
      expect((await get('/v1/secrets/app/db', { 'X-Aws-Parameters-Secrets-Token': TOKEN }, method)).status).toBe(405);
    }
    expect((await get('/secretsmanager/get?secretId=app/db', {}, 'POST')).status).toBe(403);
    for (const path of ['/healthz', '/readyz', '/metrics', '/ping'])
      expect((await get(path, {}, 'POST')).status).toBe(405);
    expect(calls).toEqual([]);
  });

  it('answers 404 "Not found" for other paths', async () => {
    expect(await get('/v1/other/app/db')).toMatchObject({ status: 404, text: 'Not found' });
    expect(await get('/v1/%73ecrets/app/db')).toMatchObject({ status: 404, text: 'Not found' });
  });
});

describe('GET /v1/secrets/<id>', () => {
  it('answers the same body with ETag (the version id) and Age (seconds since fetched)', async () => {
    const res = await get('/v1/secrets/app/db');
    expect(res.status).toBe(200);
    expect(res.text).toBe(JSON.stringify(gsv(VERSION, 'AWSCURRENT', CANARY)));
    expect(res.headers.get('etag')).toBe(`"${VERSION}"`);
    expect(res.headers.get('age')).toBe('42');
    clock.advance(60_000);
    expect((await get('/v1/secrets/app/db')).headers.get('age')).toBe('102');
  });

  it('takes an id with "/" either raw or percent-encoded, and ARNs', async () => {
    await get('/v1/secrets/app/db');
    await get('/v1/secrets/app%2Fdb');
    const arn = await get(`/v1/secrets/${encodeURIComponent(ARN)}`);
    expect(arn.status).toBe(200);
    expect(calls.map((c) => c.secretId)).toEqual(['app/db', 'app/db', ARN]);
  });

  it('passes versionId and versionStage through and validates the query like the AWS agent', async () => {
    const old = await get('/v1/secrets/app/db?versionStage=AWSPREVIOUS');
    expect(old.headers.get('etag')).toBe(`"${OLD_VERSION}"`);
    expect(old.headers.get('age')).toBe('0');
    await get(`/v1/secrets/app/db?versionId=${OLD_VERSION}`);
    expect(calls.map((c) => c.options)).toEqual([{ versionStage: 'AWSPREVIOUS' }, { versionId: OLD_VERSION }]);
    expect(await get('/v1/secrets/app/db?secretId=x')).toMatchObject({
      status: 400,
      text: 'unknown parameter: secretId',
    });
    expect(await get('/v1/secrets/')).toMatchObject({ status: 400, text: 'missing secret ID' });
    expect(await get('/v1/secrets/%E0%A4%A')).toMatchObject({ status: 400, text: 'malformed secret ID' });
  });

  it('answers 304 without a body when If-None-Match names the current version', async () => {
    const res = await get('/v1/secrets/app/db', {
      'X-Aws-Parameters-Secrets-Token': TOKEN,
      'If-None-Match': `"${VERSION}"`,
    });
    expect(res.status).toBe(304);
    expect(res.text).toBe('');
    expect(res.headers.get('etag')).toBe(`"${VERSION}"`);
    const changed = await get('/v1/secrets/app/db', {
      'X-Aws-Parameters-Secrets-Token': TOKEN,
      'If-None-Match': `"${OLD_VERSION}"`,
    });
    expect(changed.status).toBe(200);
  });

  it('answers an unknown secret with the AWS error shape and 404, the native API status', async () => {
    const res = await get('/v1/secrets/shop/other');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toEqual({
      __type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
    const version = await get('/v1/secrets/app/db?versionId=ffffffff-0000-0000-0000-000000000000');
    expect(version.status).toBe(404);
  });

  it('answers 503 with the AWS error shape when the source refuses a value too stale to serve', async () => {
    failWith = new AppError('ServiceUnavailableException', 'app/db is older than maxStaleSeconds (300).');
    const lambda = await get('/secretsmanager/get?secretId=app/db');
    const native = await get('/v1/secrets/app/db');
    for (const res of [lambda, native]) {
      expect(res.status).toBe(503);
      expect(JSON.parse(res.text)).toMatchObject({ __type: 'ServiceUnavailableException' });
    }
  });
});

describe('health, readiness and metrics', () => {
  it('answers /healthz 200 always and /ping "healthy", without a token', async () => {
    expect(await get('/healthz', {})).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    expect(await get('/ping', {})).toMatchObject({ status: 200, text: 'healthy' });
  });

  it('answers /readyz 503 until ready, then 200, with the detail either way', async () => {
    const before = await get('/readyz', {});
    expect(before.status).toBe(503);
    expect(JSON.parse(before.text)).toEqual({ status: 'not ready', detail: { secrets: { 'app/db': 'pending' } } });
    ready = true;
    const after = await get('/readyz', {});
    expect(after.status).toBe(200);
    expect(JSON.parse(after.text)).toEqual({ status: 'ready', detail: { secrets: { 'app/db': 'written' } } });
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const res = await get('/metrics', {});
    expect(res).toMatchObject({ status: 200, text: 'keysafe_agent_up 1\n' });
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});

describe('no secret value in any error', () => {
  it('answers an unexpected source failure with an opaque 500 and logs only the error name', async () => {
    failWith = new SyntaxError(`Unexpected token in JSON at position 3: "${CANARY}"`);
    for (const path of ['/secretsmanager/get?secretId=app/db', '/v1/secrets/app/db']) {
      const res = await get(path);
      expect(res.status).toBe(500);
      expect(JSON.parse(res.text)).toEqual({
        __type: 'InternalFailure',
        message: 'The agent encountered an internal error.',
      });
    }
    expect(logs.length).toBe(2);
    expect(logs.join('')).toContain('"error":"SyntaxError"');
    expect(logs.join('')).not.toContain(CANARY);
  });

  it('never puts the secret value in an error body, whatever the request', async () => {
    const bodies: string[] = [];
    const bad: [string, Record<string, string>, string?][] = [
      ['/secretsmanager/get?secretId=app/db', {}],
      ['/secretsmanager/get?secretId=app/db', { 'X-Aws-Parameters-Secrets-Token': 'wrong' }],
      [
        '/secretsmanager/get?secretId=app/db',
        { 'X-Aws-Parameters-Secrets-Token': TOKEN, 'X-Forwarded-For': '1.2.3.4' },
      ],
      ['/secretsmanager/get?secretId=app/db', { 'X-Aws-Parameters-Secrets-Token': TOKEN }, 'POST'],
      ['/secretsmanager/get?secretId=app/db&x=1', { 'X-Aws-Parameters-Secrets-Token': TOKEN }],
      ['/secretsmanager/get?secretId=app/db&versionId=nope', { 'X-Aws-Parameters-Secrets-Token': TOKEN }],
      ['/v1/secrets/app/db?versionId=nope', { 'X-Aws-Parameters-Secrets-Token': TOKEN }],
      ['/v1/secrets/app/db', { 'X-Aws-Parameters-Secrets-Token': TOKEN, 'If-None-Match': `"${VERSION}"` }],
      ['/v1/secrets/app/db', { 'X-Vault-Token': 'wrong' }],
      ['/readyz', {}],
    ];
    for (const [path, headers, method] of bad) {
      const res = await get(path, headers, method);
      expect(res.status).not.toBe(200);
      bodies.push(res.text, JSON.stringify([...res.headers]));
    }
    expect(bodies.join('\n')).not.toContain(CANARY);
    // The canary is really there on the success path, so the check above can fail.
    expect((await get('/secretsmanager/get?secretId=app/db')).text).toContain(CANARY);
  });
});

describe('in-process use (no node-server bindings)', () => {
  it('reads headers from the Request when app.fetch is called directly', async () => {
    const ok = await app.request('/secretsmanager/get?secretId=app/db', {
      headers: { 'X-Aws-Parameters-Secrets-Token': TOKEN },
    });
    expect(ok.status).toBe(200);
    expect((await app.request('/secretsmanager/get?secretId=app/db')).status).toBe(403);
    const fwd = await app.request('/v1/secrets/app/db', {
      headers: { 'X-Aws-Parameters-Secrets-Token': TOKEN, 'X-Forwarded-For': 'x' },
    });
    expect(fwd.status).toBe(400);
  });
});

describe('parseQuery', () => {
  it('decodes percent-encoding and "+", keeps the last occurrence, and ignores empty pairs', () => {
    expect(parseQuery('http://h/secretsmanager/get?secretId=a%2Fb+c&&versionStage=X&versionStage=Y', true)).toEqual({
      secretId: 'a/b c',
      versionStage: 'Y',
    });
    expect(parseQuery('http://h/x?versionId=%ZZ', false)).toBe('malformed query');
    expect(parseQuery('http://h/x', false)).toEqual({});
  });
});
