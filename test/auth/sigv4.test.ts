// SigV4 verification against requests signed by the real AWS signers (smithy, botocore), and its rejections.
import { execFileSync } from 'node:child_process';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { isSigV4, type SignedRequest, type SigV4Options, verifySigV4 } from '../../src/auth/sigv4.js';
import { type ErrorCode, isAppError } from '../../src/core/errors.js';

const AKID = 'AKIDKEYSAFETEST00001';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYKEYSAFESECRET';
const NOW = Date.UTC(2026, 10, 29, 4, 36, 37); // 20261129T043637Z
const BODY = '{"KeyId":"alias/x","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}';
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const secrets = new Map([[AKID, SECRET]]);
const opts = (over: Partial<SigV4Options> = {}): SigV4Options => ({
  now: NOW,
  lookupSecret: (id) => secrets.get(id),
  services: ['kms'],
  ...over,
});

interface SignOptions {
  secret?: string;
  sessionToken?: string;
  service?: string;
  region?: string;
  at?: number;
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  unsignable?: string[];
  body?: string;
}

/** Signs a KMS Encrypt call the way @aws-sdk/client-kms does: same signer, same hash, same headers. */
async function sdkSign(o: SignOptions = {}): Promise<SignedRequest> {
  const body = o.body ?? BODY;
  const signer = new SignatureV4({
    credentials: { accessKeyId: AKID, secretAccessKey: o.secret ?? SECRET, sessionToken: o.sessionToken },
    region: o.region ?? 'us-east-1',
    service: o.service ?? 'kms',
    sha256: Hash.bind(null, 'sha256'),
  });
  const request: HttpRequest = {
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8270,
    path: o.path ?? '/',
    query: o.query ?? {},
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'TrentService.Encrypt',
      host: '127.0.0.1:8270',
      'content-length': String(Buffer.byteLength(body)),
      'x-amz-user-agent': 'aws-sdk-js/3.1164.0',
      'user-agent': 'aws-sdk-js/3.1164.0 ua/2.1 os/linux lang/js md/nodejs#20.19.0 api/kms#3.1164.0',
      'amz-sdk-invocation-id': '5f0c7f83-0b8f-4d55-9b9c-8f6b1c1b2e0a',
      'amz-sdk-request': 'attempt=1; max=3',
      ...o.headers,
    },
    body,
  };
  const signed = await signer.sign(request, {
    signingDate: new Date(o.at ?? NOW),
    unsignableHeaders: o.unsignable ? new Set(o.unsignable) : undefined,
  });
  const query = new URLSearchParams(signed.query as Record<string, string>).toString().replace(/\+/g, '%20');
  return {
    method: signed.method,
    path: signed.path,
    query,
    headers: new Headers(signed.headers),
    body: new TextEncoder().encode(body),
  };
}

/** A copy of `req` with headers changed (undefined deletes). */
function withHeaders(req: SignedRequest, changes: Record<string, string | undefined>): SignedRequest {
  const headers = new Headers(req.headers as Headers);
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) headers.delete(name);
    else headers.set(name, value);
  }
  return { ...req, headers };
}

const authOf = (req: SignedRequest): string => req.headers.get('authorization')!;
const signatureOf = (req: SignedRequest): string => /Signature=([0-9a-f]+)/.exec(authOf(req))![1]!;

/** Runs `fn`, expects an AppError with `code`, and checks no secret or expected value leaked into it. */
function expectRejected(fn: () => unknown, code: ErrorCode, message?: string | RegExp, hidden: string[] = []): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (!isAppError(thrown)) throw new Error(`expected AppError ${code}, got ${String(thrown)}`);
  expect(thrown.code).toBe(code);
  if (typeof message === 'string') expect(thrown.message).toBe(message);
  else if (message) expect(thrown.message).toMatch(message);
  // Canonical requests and strings to sign are multi-line; a message never is.
  for (const s of [SECRET, '\n', ...hidden]) expect(thrown.message).not.toContain(s);
}

describe('isSigV4', () => {
  it('recognises an AWS4-HMAC-SHA256 Authorization header and nothing else', async () => {
    expect(isSigV4((await sdkSign()).headers)).toBe(true);
    expect(isSigV4(new Headers())).toBe(false);
    expect(isSigV4(new Headers({ authorization: 'Bearer abc' }))).toBe(false);
  });
});

describe('verifySigV4 with real clients', () => {
  it('accepts a KMS Encrypt call signed by @smithy/signature-v4 as the JS SDK signs it', async () => {
    const req = await sdkSign();
    // The JS SDK signs its own headers and the payload hash; the test is only meaningful if they are.
    expect(authOf(req)).toContain(
      'SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target;x-amz-user-agent,',
    );
    expect(verifySigV4(req, opts())).toEqual({ accessKeyId: AKID, region: 'us-east-1', service: 'kms' });
  });

  it('accepts the request that KMSClient itself builds and signs', async () => {
    let captured: HttpRequest | undefined;
    const client = new KMSClient({
      region: 'eu-west-3',
      endpoint: 'http://127.0.0.1:8270',
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
      maxAttempts: 1,
      requestHandler: {
        handle: async (request: HttpRequest) => {
          captured = request;
          throw new Error('captured');
        },
      },
    });
    await expect(
      client.send(new EncryptCommand({ KeyId: 'alias/x', Plaintext: new TextEncoder().encode('hello') })),
    ).rejects.toThrow('captured');
    const req = captured!;
    const signed: SignedRequest = {
      method: req.method,
      path: req.path,
      query: '',
      headers: new Headers(req.headers),
      body: new TextEncoder().encode(req.body as string),
    };
    expect(verifySigV4(signed, opts({ now: Date.now() }))).toEqual({
      accessKeyId: AKID,
      region: 'eu-west-3',
      service: 'kms',
    });
  });

  describe('botocore (boto3, aws CLI)', () => {
    // One python run signs all three cases: botocore's import costs more than the tests.
    const script = `
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
import botocore.session

akid, secret, body = sys.argv[1], sys.argv[2], sys.argv[3]
def plain(h):
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h.items()}
def sign(token):
    req = AWSRequest(method='POST', url='http://127.0.0.1:8270/', data=body.encode(),
                     headers={'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.Encrypt'})
    SigV4Auth(Credentials(akid, secret, token), 'kms', 'us-east-1').add_auth(req)
    return {'headers': plain(req.headers), 'body': body}

class Captured(Exception):
    pass
captured = {}
def capture(request, **kwargs):
    captured['headers'] = plain(request.headers)
    captured['body'] = request.body.decode() if isinstance(request.body, bytes) else request.body
    raise Captured()
client = botocore.session.get_session().create_client(
    'kms', region_name='eu-west-3', endpoint_url='http://127.0.0.1:8270',
    aws_access_key_id=akid, aws_secret_access_key=secret, config=Config(retries={'total_max_attempts': 1}))
client.meta.events.register('before-send.kms', capture)
try:
    client.encrypt(KeyId='alias/x', Plaintext=b'hello', EncryptionContext={'a': 'b'})
except Captured:
    pass
print(json.dumps({'plain': sign(None), 'token': sign('FwoGZXIvYXdzEXAMPLETOKEN'), 'client': captured}))
`;
    type Signed = { headers: Record<string, string>; body: string };
    let cache: Record<'plain' | 'token' | 'client', Signed> | undefined;
    const botocore = () => {
      cache ??= JSON.parse(
        execFileSync('python3', ['-c', script, AKID, SECRET, BODY], {
          encoding: 'utf8',
          // Keep the developer's AWS config and endpoint overrides out of the signer.
          env: { PATH: process.env['PATH'], AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
        }),
      );
      return cache!;
    };
    // urllib3 adds Host on the wire; botocore signs it from the URL.
    const toRequest = (s: Signed): SignedRequest => ({
      method: 'POST',
      path: '/',
      query: '',
      headers: new Headers({ ...s.headers, host: '127.0.0.1:8270' }),
      body: new TextEncoder().encode(s.body),
    });

    it('accepts a POST signed by botocore SigV4Auth', () => {
      const req = toRequest(botocore().plain);
      expect(authOf(req)).toMatch(/SignedHeaders=content-type;host;x-amz-date;x-amz-target,/);
      expect(verifySigV4(req, opts({ now: Date.now() }))).toEqual({
        accessKeyId: AKID,
        region: 'us-east-1',
        service: 'kms',
      });
    });

    it('accepts a botocore request with a session token and reports the token', () => {
      const req = toRequest(botocore().token);
      expect(verifySigV4(req, opts({ now: Date.now() })).sessionToken).toBe('FwoGZXIvYXdzEXAMPLETOKEN');
    });

    it('accepts the request a botocore KMS client (boto3, aws CLI) sends for Encrypt', () => {
      const req = toRequest(botocore().client);
      expect(req.headers.get('x-amz-target')).toBe('TrentService.Encrypt');
      expect(verifySigV4(req, opts({ now: Date.now() })).region).toBe('eu-west-3');
    });

    it('rejects a botocore request whose body was changed (no x-amz-content-sha256 to catch it early)', () => {
      const req = toRequest(botocore().plain);
      expect(req.headers.get('x-amz-content-sha256')).toBeNull();
      const tampered = { ...req, body: new TextEncoder().encode(BODY.replace('alias/x', 'alias/y')) };
      expectRejected(() => verifySigV4(tampered, opts({ now: Date.now() })), 'InvalidSignatureException', MISMATCH);
    });
  });
});

describe('verifySigV4 canonicalisation', () => {
  it('accepts a signed query string and a non-root path with escaped characters', async () => {
    const req = await sdkSign({ path: '/a/b%20c/', query: { b: '2', a: 'x y', 'c*': "it's" } });
    expect(verifySigV4(req, opts()).service).toBe('kms');
  });

  it('collapses whitespace runs inside signed header values as the signers do', async () => {
    const req = await sdkSign({ headers: { 'x-custom': 'a   b \t c' } });
    expect(authOf(req)).toContain('x-custom');
    expect(verifySigV4(req, opts()).service).toBe('kms');
  });

  it('ignores changes to headers that were not signed', async () => {
    const req = withHeaders(await sdkSign(), { 'user-agent': 'proxy/1.0', 'x-forwarded-for': '10.0.0.1' });
    expect(verifySigV4(req, opts()).accessKeyId).toBe(AKID);
  });

  it('accepts a signature exactly 5 minutes old', async () => {
    const req = await sdkSign({ at: NOW - 5 * 60_000 });
    expect(verifySigV4(req, opts()).accessKeyId).toBe(AKID);
  });

  it('uses the current secret after the key is rotated, despite the signing-key cache', async () => {
    const local = new Map([[AKID, SECRET]]);
    const o = opts({ lookupSecret: (id) => local.get(id) });
    const old = await sdkSign();
    verifySigV4(old, o);
    local.set(AKID, 'rotated-secret');
    expect(verifySigV4(await sdkSign({ secret: 'rotated-secret' }), o).accessKeyId).toBe(AKID);
    expectRejected(() => verifySigV4(old, o), 'InvalidSignatureException', MISMATCH);
  });
  it('keeps verifying after more scopes than the signing-key cache holds', async () => {
    const regions = Array.from({ length: 300 }, (_, i) => `test-${i}`);
    const requests = await Promise.all(regions.map((region) => sdkSign({ region })));
    for (const [i, req] of requests.entries()) expect(verifySigV4(req, opts()).region).toBe(regions[i]);
    // The first scopes were evicted by now and must be derived again.
    expect(verifySigV4(requests[0]!, opts()).region).toBe('test-0');
  });
});

describe('verifySigV4 rejections', () => {
  it('rejects a changed body via the signed x-amz-content-sha256', async () => {
    const req = await sdkSign();
    const tampered = { ...req, body: new TextEncoder().encode(BODY.replace('aGVsbG8=', 'aGVsbG9=')) };
    expectRejected(
      () => verifySigV4(tampered, opts()),
      'InvalidSignatureException',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  });

  it('rejects a changed body whose x-amz-content-sha256 was changed to match', async () => {
    const req = await sdkSign();
    const body = BODY.replace('alias/x', 'alias/y');
    const tampered = withHeaders(
      { ...req, body: new TextEncoder().encode(body) },
      { 'x-amz-content-sha256': (await sdkSign({ body })).headers.get('x-amz-content-sha256')! },
    );
    expectRejected(() => verifySigV4(tampered, opts()), 'InvalidSignatureException', MISMATCH);
  });

  it('rejects a changed signed header', async () => {
    const req = withHeaders(await sdkSign(), { 'x-amz-target': 'TrentService.Decrypt' });
    expectRejected(() => verifySigV4(req, opts()), 'InvalidSignatureException', MISMATCH);
  });

  it('rejects a changed path or query string', async () => {
    const req = await sdkSign();
    expectRejected(() => verifySigV4({ ...req, path: '/x' }, opts()), 'InvalidSignatureException', MISMATCH);
    expectRejected(() => verifySigV4({ ...req, query: 'a=1' }, opts()), 'InvalidSignatureException', MISMATCH);
  });

  it('rejects a signed header that is missing from the request', async () => {
    const req = withHeaders(await sdkSign(), { 'amz-sdk-request': undefined });
    expectRejected(() => verifySigV4(req, opts()), 'InvalidSignatureException', /'amz-sdk-request' is missing/);
  });

  it('rejects a wrong secret without revealing the expected signature', async () => {
    const req = await sdkSign({ secret: 'not-the-secret' });
    const expected = signatureOf(await sdkSign());
    expectRejected(() => verifySigV4(req, opts()), 'InvalidSignatureException', MISMATCH, [expected]);
  });

  it('rejects an unknown access key', async () => {
    const req = await sdkSign();
    expectRejected(
      () => verifySigV4(req, opts({ lookupSecret: () => undefined })),
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  });

  it('rejects a signature 6 minutes old with AWS text the SDKs treat as clock skew', async () => {
    const req = await sdkSign({ at: NOW - 6 * 60_000 });
    expectRejected(
      () => verifySigV4(req, opts()),
      'InvalidSignatureException',
      'Signature expired: 20261129T043037Z is now earlier than 20261129T043137Z (20261129T043637Z - 5 min.)',
    );
  });

  it('rejects a signature 6 minutes in the future', async () => {
    const req = await sdkSign({ at: NOW + 6 * 60_000 });
    expectRejected(
      () => verifySigV4(req, opts()),
      'InvalidSignatureException',
      'Signature not yet current: 20261129T044237Z is still later than 20261129T044137Z (20261129T043637Z + 5 min.)',
    );
  });

  it('rejects a scope for a service that is not allowed', async () => {
    const req = await sdkSign({ service: 'secretsmanager' });
    expectRejected(
      () => verifySigV4(req, opts()),
      'InvalidSignatureException',
      "Credential should be scoped to correct service: 'kms'.",
    );
    expect(verifySigV4(req, opts({ services: ['kms', 'secretsmanager'] })).service).toBe('secretsmanager');
  });

  it('rejects a scope date that differs from X-Amz-Date', async () => {
    const req = await sdkSign();
    const forged = withHeaders(req, { authorization: authOf(req).replace('/20261129/', '/20261128/') });
    expectRejected(
      () => verifySigV4(forged, opts()),
      'InvalidSignatureException',
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261128' != '20261129', from '20261129T043637Z'.",
    );
  });

  it('rejects a correctly signed request that did not sign host', async () => {
    const req = await sdkSign({ unsignable: ['host'] });
    expect(authOf(req)).not.toMatch(/[=;]host[;,]/);
    expectRejected(() => verifySigV4(req, opts()), 'InvalidSignatureException', /'Host'/);
  });

  it('rejects a correctly signed request that did not sign x-amz-date', async () => {
    const req = await sdkSign({ unsignable: ['x-amz-date'] });
    expectRejected(
      () => verifySigV4(req, opts()),
      'InvalidSignatureException',
      /'X-Amz-Date' must be a 'SignedHeader'/,
    );
  });

  it('rejects a session token that was added without being signed', async () => {
    const req = withHeaders(await sdkSign(), { 'x-amz-security-token': 'smuggled' });
    expectRejected(() => verifySigV4(req, opts()), 'InvalidSignatureException', /'X-Amz-Security-Token'/);
  });

  it('rejects a correctly signed request that did not sign x-amz-target, changed or not', async () => {
    const req = await sdkSign({ unsignable: ['x-amz-target'] });
    expect(authOf(req)).not.toContain('x-amz-target');
    for (const target of ['TrentService.Encrypt', 'TrentService.Decrypt']) {
      expectRejected(
        () => verifySigV4(withHeaders(req, { 'x-amz-target': target }), opts()),
        'InvalidSignatureException',
        "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
      );
    }
  });

  it('rejects any x-amz-* header that was not signed, and takes it once signed', async () => {
    const added = withHeaders(await sdkSign(), { 'x-amz-expected-bucket-owner': '111122223333' });
    expectRejected(
      () => verifySigV4(added, opts()),
      'InvalidSignatureException',
      "'X-Amz-Expected-Bucket-Owner' must be a 'SignedHeader' in the AWS Authorization.",
    );
    const long = withHeaders(await sdkSign(), { [`x-amz-${'a'.repeat(5000)}`]: '1' });
    expectRejected(() => verifySigV4(long, opts()), 'InvalidSignatureException', /^'X-Amz-Aa{57}…' must be/);
    const signed = await sdkSign({ headers: { 'x-amz-expected-bucket-owner': '111122223333' } });
    expect(verifySigV4(signed, opts()).accessKeyId).toBe(AKID);
  });

  it('does not require headers outside x-amz-* (x-amzn-trace-id, user-agent) to be signed', async () => {
    const req = withHeaders(await sdkSign({ unsignable: ['content-type', 'content-length'] }), {
      'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793',
    });
    expect(verifySigV4(req, opts()).accessKeyId).toBe(AKID);
  });

  it('reports a signed session token to the caller', async () => {
    const req = await sdkSign({ sessionToken: 'FwoGZXIvYXdzEXAMPLE' });
    expect(verifySigV4(req, opts()).sessionToken).toBe('FwoGZXIvYXdzEXAMPLE');
  });

  for (const param of ['Signature', 'Credential', 'SignedHeaders']) {
    it(`rejects an Authorization header without ${param}`, async () => {
      const req = await sdkSign();
      const params = authOf(req).slice('AWS4-HMAC-SHA256 '.length).split(', ');
      const auth = `AWS4-HMAC-SHA256 ${params.filter((p) => !p.startsWith(`${param}=`)).join(', ')}`;
      expectRejected(
        () => verifySigV4(withHeaders(req, { authorization: auth }), opts()),
        'IncompleteSignatureException',
        `Authorization header requires '${param}' parameter.`,
      );
    });
  }

  it('names every missing parameter at once', () => {
    const req = { method: 'POST', path: '/', query: '', headers: new Headers(), body: new Uint8Array() };
    expectRejected(
      () => verifySigV4(withHeaders(req, { authorization: 'AWS4-HMAC-SHA256 Foo=bar' }), opts()),
      'IncompleteSignatureException',
      "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.",
    );
  });

  it('rejects garbage Authorization headers as incomplete signatures', async () => {
    const req = await sdkSign();
    const sig = signatureOf(req);
    const garbage = [
      'AWS4-HMAC-SHA256',
      'AWS4-HMAC-SHA256garbage',
      'AWS4-HMAC-SHA256 garbage',
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261129/us-east-1/kms, SignedHeaders=host;x-amz-date, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261129/us-east-1/kms/aws4_requesx, SignedHeaders=host;x-amz-date, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=/20261129/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/2026-11-29/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261129/US EAST/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261129/us-east-1/kms/aws4_request, SignedHeaders=host;;x-amz-date, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261129/us-east-1/kms/aws4_request, SignedHeaders=Host;x-amz-date, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261129/us-east-1/kms/aws4_request, SignedHeaders=host;x amz, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261129/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/20261129/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig.toUpperCase()}`,
    ];
    for (const authorization of garbage) {
      expectRejected(() => verifySigV4(withHeaders(req, { authorization }), opts()), 'IncompleteSignatureException');
    }
  });

  it('rejects a missing or malformed X-Amz-Date as incomplete', async () => {
    const req = await sdkSign();
    for (const date of [undefined, '2026-11-29T04:36:37Z', '20261129T043637']) {
      expectRejected(
        () => verifySigV4(withHeaders(req, { 'x-amz-date': date }), opts()),
        'IncompleteSignatureException',
        /X-Amz-Date/,
      );
    }
  });

  it('answers a request without Authorization with MissingAuthenticationTokenException', () => {
    const req = { method: 'POST', path: '/', query: '', headers: new Headers(), body: new Uint8Array() };
    expectRejected(
      () => verifySigV4(req, opts()),
      'MissingAuthenticationTokenException',
      'Missing Authentication Token',
    );
  });
});
