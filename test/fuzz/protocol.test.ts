// The AWS JSON endpoint's framing under fuzzing (real HTTP): any X-Amz-Target, body bytes (non-JSON,
// invalid UTF-8, deep nesting, duplicate keys), content type and Authorization header, and STS form
// bodies, are answered without a 5xx, with a documented error code, and never with the admin token or a
// stored secret in the body. Oversized bodies are refused 413 and the server keeps answering.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kmsOperations } from '../../src/kms/api.js';
import { secretsOperations } from '../../src/secrets/api.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  ANY_SERVICE_CODES,
  awsCall,
  edgeString,
  expectWellFormed,
  fuzzTimeout,
  hostileValue,
  httpRuns,
  KMS_CODES,
  SECRETS_CODES,
  unicodeString,
} from './support.js';

let server: TestServer;
const CANARY = `CANARY-protocol-${randomUUID()}`;

const TARGETS = [
  ...Object.keys(kmsOperations).map((o) => `TrentService.${o}`),
  ...Object.keys(secretsOperations).map((o) => `secretsmanager.${o}`),
];

const target = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TARGETS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'TrentService.',
      '.Encrypt',
      'TrentService',
      'TrentService.__proto__',
      'TrentService.constructor',
      'TrentService.hasOwnProperty',
      'secretsmanager.toString',
      '__proto__.Encrypt',
      'constructor.name',
      'TrentService.Encrypt.Decrypt',
      'trentservice.Encrypt',
      'AWSSecurityTokenServiceV20110615.GetCallerIdentity',
      'sts.GetCallerIdentity',
      ' TrentService.Encrypt',
    ),
  },
  { weight: 1, arbitrary: fc.oneof(edgeString, unicodeString(30)).filter((s) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s)) },
);

/** Bodies that are not what any operation expects. */
const body = fc.oneof(
  { weight: 2, arbitrary: hostileValue.map((v) => JSON.stringify(v) ?? '') },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '{',
      '}',
      '{}}',
      '{"a":1,}',
      "{'a':1}",
      'null',
      '[]',
      '"x"',
      '1',
      'true',
      '\ufeff{}',
      '{"KeyId":"a","KeyId":{"x":1}}',
      '{"SecretId":"a\\u0000b"}',
      '{"SecretId":"\\ud800"}',
      '{"__proto__":{"SecretId":"x"}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      `{"Plaintext":"${'A'.repeat(8)}","KeyId":"${'\\u0000'.repeat(100)}"}`,
      '{"NumberOfBytes":1e309}',
      '{"NumberOfBytes":-0}',
      '{"Limit":1.0000000000000002}',
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
      `{"Recipient":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
      `${'['.repeat(200_000)}`,
      Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
      Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]),
      Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]),
    ),
  },
);

const contentType = fc.constantFrom(
  'application/x-amz-json-1.1',
  'application/x-amz-json-1.0',
  'application/json',
  'text/plain',
  '',
  'application/x-amz-json-1.1; charset=latin1',
);

describe('AWS JSON endpoint framing under fuzzing (real HTTP)', { timeout: fuzzTimeout() }, () => {
  beforeAll(async () => {
    server = await startTestServer();
    const a = await awsCall(
      server,
      'secretsmanager.CreateSecret',
      JSON.stringify({ Name: 'fuzz/protocol', SecretString: CANARY }),
    );
    expect(a.status).toBe(200);
  });
  afterAll(async () => {
    await server?.stop();
  });

  const leaks = (text: string) => {
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(server.admin.token);
    expect(text).not.toContain(server.admin.secretAccessKey);
  };

  it('accepts as documented only codes src/core/errors.ts defines (the sets the fuzzers check against)', () => {
    const source = readFileSync(new URL('../../src/core/errors.ts', import.meta.url), 'utf8');
    const list = source.slice(source.indexOf('const ERROR_CODES'), source.indexOf('] as const'));
    const defined = new Set([...list.matchAll(/'(\w+)'/g)].map((m) => m[1]));
    for (const code of [...KMS_CODES, ...SECRETS_CODES]) expect(defined.has(code), code).toBe(true);
    // The fault codes are 5xx: never an acceptable answer to bad input.
    for (const fault of ['KMSInternalException', 'InternalServiceError', 'InternalFailure']) {
      expect(defined.has(fault)).toBe(true);
      expect(ANY_SERVICE_CODES.has(fault)).toBe(false);
    }
  });

  it('answers any target, body and content type with a documented error or a result, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(target, body, contentType, async (t, b, ct) => {
        const a = await awsCall(server, t, b, { 'content-type': ct });
        expectWellFormed(a, ANY_SERVICE_CODES, `${t} (${ct})`);
        if (a.status !== 200) leaks(a.text);
      }),
      { numRuns: httpRuns(150) },
    );
  });

  const authorization = fc.oneof(
    fc.constantFrom(
      '',
      'Bearer',
      'Bearer ',
      'Bearer x',
      'bearer TOKEN',
      'Basic a2V5c2FmZTp4',
      'Basic !!!',
      'AWS4-HMAC-SHA256',
      'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=' +
        '0'.repeat(64),
      'AWS4-HMAC-SHA256 Credential=ADMIN/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=' +
        '0'.repeat(64),
      'AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f, SignedHeaders=, Signature=',
      'AWS4-HMAC-SHA256 ,,,,',
      'AWS4-HMAC-SHA256 Credential=ADMIN/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=' +
        'f'.repeat(64),
    ),
    fc.oneof(edgeString, unicodeString(40)).map((s) => `Bearer ${s}`),
    fc.oneof(edgeString, unicodeString(60)).map((s) => `AWS4-HMAC-SHA256 ${s}`),
  );

  it('refuses any malformed credential with an authentication error, never 5xx, never echoing a token', async () => {
    const auth = fc.record({
      authorization: authorization.filter((s) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s)),
      date: fc.option(fc.constantFrom('20260101T000000Z', 'now', ''), { nil: undefined }),
      token: fc.option(fc.constantFrom('x', 'FwoGZXIvYXdzEXAMPLE', ''), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TARGETS), auth, async (t, h) => {
        const headers: Record<string, string> = {
          authorization: h.authorization.replace('ADMIN', server.admin.accessKeyId),
        };
        if (h.date !== undefined) headers['x-amz-date'] = h.date;
        if (h.token !== undefined) headers['x-amz-security-token'] = h.token;
        const a = await awsCall(server, t, '{}', headers);
        expectWellFormed(a, ANY_SERVICE_CODES, t);
        expect(a.status, a.text).not.toBe(200);
        expect([
          'MissingAuthenticationTokenException',
          'UnrecognizedClientException',
          'IncompleteSignatureException',
          'InvalidSignatureException',
          'ExpiredTokenException',
          'AccessDeniedException',
        ]).toContain(a.json!.__type);
        leaks(a.text);
      }),
      { numRuns: httpRuns(60) },
    );
  });

  const STS_CODES = new Set([
    'AccessDenied',
    'ValidationError',
    'Throttling',
    'InvalidAction',
    'MissingAuthenticationToken',
    'InvalidClientTokenId',
    'SignatureDoesNotMatch',
    'IncompleteSignature',
    'InvalidIdentityToken',
    'ExpiredTokenException',
    'IDPRejectedClaim',
    'IDPCommunicationError',
    'RequestEntityTooLargeException',
  ]);

  it('answers any STS form body with STS XML: a documented Code, never 5xx', async () => {
    const value = fc.oneof(edgeString, unicodeString(30), fc.constantFrom('900', '43201', '1e3', 'NaN', '-0'));
    const form = fc.record(
      {
        Action: fc.oneof(fc.constantFrom('AssumeRoleWithWebIdentity', 'GetCallerIdentity', 'AssumeRole', ''), value),
        Version: fc.constantFrom('2011-06-15', 'x'),
        RoleArn: fc.oneof(
          fc.constantFrom(
            'arn:aws:iam::000000000000:role/app',
            'arn:aws:iam::000000000000:role/',
            'arn:aws:iam::1:role/x',
          ),
          value,
        ),
        RoleSessionName: value,
        WebIdentityToken: fc.oneof(
          value,
          fc.constantFrom('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a.b.c', 'x'.repeat(20_001)),
        ),
        DurationSeconds: value,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(form, fc.boolean(), async (f, signed) => {
        const text = new URLSearchParams(f as Record<string, string>).toString();
        const res = await fetch(server.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
            ...(signed && { authorization: `Bearer ${server.admin.token}` }),
          },
          body: text,
        });
        const xml = await res.text();
        expect(res.status, xml).toBeLessThan(500);
        expect(res.headers.get('content-type')).toBe('text/xml');
        if (res.status === 200) {
          expect(xml).toMatch(/^<(AssumeRoleWithWebIdentity|GetCallerIdentity)Response /);
          return;
        }
        const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
        expect(STS_CODES.has(code ?? ''), `undocumented STS code ${code}: ${xml}`).toBe(true);
        expect(xml).not.toContain(server.admin.token);
        expect(xml).not.toContain('<script');
      }),
      { numRuns: httpRuns(60) },
    );
  });

  /** A raw request whose body is written only if the server has not answered first. */
  function rawPost(
    headers: Record<string, string | number>,
    chunks: Buffer[],
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const url = new URL(server.url);
      const req = request(
        { host: url.hostname, port: url.port, method: 'POST', path: '/', headers, agent: false },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(parts).toString('utf8') }));
          res.on('error', reject);
        },
      );
      // Writing after the server answered and closed may fail: that is the server's right.
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') reject(e);
      });
      (async () => {
        for (const c of chunks) {
          if (req.destroyed) return;
          if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch(() => {});
    });
  }

  it.each([
    ['declared larger than the limit', true],
    ['streamed (chunked) past the limit', false],
  ])('refuses a body %s with 413, and keeps answering', async (_what, declared) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const chunks = Array.from({ length: 20 }, () => chunk); // 1.25 MiB > the 1 MiB default
    const headers: Record<string, string | number> = {
      'x-amz-target': 'TrentService.GenerateRandom',
      'content-type': 'application/x-amz-json-1.1',
      authorization: `Bearer ${server.admin.token}`,
    };
    if (declared) headers['content-length'] = chunk.length * chunks.length;
    else headers['transfer-encoding'] = 'chunked';
    const a = await rawPost(headers, chunks);
    expect(a.status).toBe(413);
    expect(JSON.parse(a.text).__type).toBe('RequestEntityTooLargeException');
    const next = await awsCall(server, 'TrentService.GenerateRandom', '{"NumberOfBytes":8}');
    expect(next.status).toBe(200);
  });

  it('answers a nested document inside a field (deep Json) without a fault', async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const a = await awsCall(server, 'secretsmanager.GetSecretValue', `{"SecretId":${deep}}`);
    expectWellFormed(a, ANY_SERVICE_CODES, 'deep');
    expect(a.json!.__type).toBe('SerializationException');
  });
});
