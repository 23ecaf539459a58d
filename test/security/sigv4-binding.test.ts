// The signature binds the operation: a SigV4 request whose X-Amz-Target (or any x-amz-* header) was not
// signed is refused over real HTTP before any operation runs, so a signed DescribeSecret cannot become
// GetSecretValue.
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { postRaw, type RawHeaders, signJsonRequest } from '../support/sigv4.js';

const VALUE = 'binding-test-value-8c1f2e';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await server.secretsClient().send(new CreateSecretCommand({ Name: 'bound/db', SecretString: VALUE }));
});

afterAll(async () => {
  await server?.stop();
});

/** A DescribeSecret call signed by the SDK's own signer with the admin's keys; `unsignable` are left out. */
const signDescribe = (unsignableHeaders: string[] = [], headers: Record<string, string> = {}): Promise<RawHeaders> =>
  signJsonRequest(server.url, server.admin, 'secretsmanager.DescribeSecret', BODY, { unsignableHeaders, headers });

const BODY = JSON.stringify({ SecretId: 'bound/db' });

interface Answer {
  status: number;
  text: string;
  type: string | undefined;
}

/** Sends the headers as they are over node:http (arrays become repeated header lines). */
async function send(headers: RawHeaders): Promise<Answer> {
  const { status, text } = await postRaw(server.url, headers, BODY);
  let type: string | undefined;
  try {
    type = JSON.parse(text).__type;
  } catch {}
  return { status, text, type };
}

function expectRefused(a: Answer, message: RegExp): void {
  expect({ status: a.status, type: a.type }).toEqual({ status: 400, type: 'InvalidSignatureException' });
  expect(JSON.parse(a.text).message).toMatch(message);
  expect(a.text).not.toContain(VALUE);
}

describe('SigV4 binds the operation and every x-amz-* header', () => {
  it('answers a correctly signed DescribeSecret (the control)', async () => {
    const a = await send(await signDescribe());
    expect(a.status, a.text).toBe(200);
    expect(JSON.parse(a.text).Name).toBe('bound/db');
    expect(a.text).not.toContain(VALUE);
  });

  it('refuses a DescribeSecret whose unsigned X-Amz-Target was changed to GetSecretValue', async () => {
    const headers = await signDescribe(['x-amz-target']);
    expect(headers['authorization']).not.toContain('x-amz-target');
    expectRefused(
      await send({ ...headers, 'x-amz-target': 'secretsmanager.GetSecretValue' }),
      /'X-Amz-Target' must be a 'SignedHeader'/,
    );
    // Unchanged, it is refused too: the operation must be bound whatever it is.
    expectRefused(await send(headers), /'X-Amz-Target' must be a 'SignedHeader'/);
  });

  it('refuses a signed X-Amz-Target that was swapped or repeated after signing', async () => {
    const headers = await signDescribe();
    expectRefused(
      await send({ ...headers, 'x-amz-target': 'secretsmanager.GetSecretValue' }),
      /signature we calculated does not match/,
    );
    expectRefused(
      await send({ ...headers, 'x-amz-target': ['secretsmanager.DescribeSecret', 'secretsmanager.GetSecretValue'] }),
      /signature we calculated does not match/,
    );
  });

  it('refuses an x-amz-* header added without being signed', async () => {
    const headers = await signDescribe();
    expectRefused(await send({ ...headers, 'x-amz-security-token': 'smuggled' }), /'X-Amz-Security-Token'/);
    expectRefused(await send({ ...headers, 'x-amz-meta-note': 'x' }), /'X-Amz-Meta-Note' must be a 'SignedHeader'/);
    // Signed, the same header is fine.
    const signed = await send(await signDescribe([], { 'x-amz-meta-note': 'x' }));
    expect(signed.status, signed.text).toBe(200);
  });
});
