// Rotation webhooks against a real local receiver: the allow list, the signature recipe from the README, replay, no network oracle.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const SECRET = 'whsec-0123456789abcdef0123456789abcdef';

/** The README's verification recipe, verbatim. */
function verifyKeysafeWebhook(
  secret: string,
  headers: IncomingHttpHeaders,
  rawBody: string,
  seen: Set<string>,
  nowSeconds = Date.now() / 1000,
): boolean {
  const ts = String(headers['x-keysafe-timestamp']);
  const id = String(headers['x-keysafe-delivery']);
  const sig = Buffer.from(String(headers['x-keysafe-signature']));
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${ts}.${rawBody}`).digest('hex')}`);
  if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) return false; // forged or altered
  if (Math.abs(nowSeconds - Number(ts)) > 300) return false; // stale
  if (JSON.parse(rawBody).DeliveryId !== id || seen.has(id)) return false; // replayed
  seen.add(id);
  return true;
}

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

let server: TestServer;
let receiver: Server;
let receiverOrigin = '';
let closedOrigin = '';
const deliveries: Delivery[] = [];
const seen = new Set<string>();

async function freeClosedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise((ok) => s.close(ok));
  return port;
}

async function call(operation: string, input: object): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.admin.token}`, 'x-amz-target': `secretsmanager.${operation}` },
    body: JSON.stringify(input),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function lastFailure(secretId: string): Promise<string | undefined> {
  const { body } = await call('DescribeSecret', { SecretId: secretId });
  return (body as { KeysafeRotation?: { LastFailure?: { Message: string } } }).KeysafeRotation?.LastFailure?.Message;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body });
      if (req.url?.startsWith('/hooks/missing')) return res.writeHead(404).end('no such hook on 10.1.2.3');
      if (!verifyKeysafeWebhook(SECRET, req.headers, body, seen)) return res.writeHead(401).end();
      // A rotation endpoint does the work with its own credentials: createSecret stores the new value.
      const event = JSON.parse(body) as { Step: string; SecretId: string; ClientRequestToken: string };
      const work =
        event.Step === 'createSecret'
          ? call('PutSecretValue', {
              SecretId: event.SecretId,
              ClientRequestToken: event.ClientRequestToken,
              SecretString: 'v1',
              VersionStages: ['AWSPENDING'],
            })
          : Promise.resolve();
      void work.then(() => res.writeHead(200).end());
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
  receiverOrigin = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  closedOrigin = `http://127.0.0.1:${await freeClosedPort()}`;
  server = await startTestServer({
    config: {
      rotation: { webhookAllow: [`${receiverOrigin}/hooks/`, `${closedOrigin}/hooks/`], webhookSecret: SECRET },
    },
  });
});

afterAll(async () => {
  await server?.stop();
  receiver?.closeAllConnections();
  await new Promise((ok) => receiver?.close(ok));
});

describe('rotation webhooks', () => {
  it('refuses at RotateSecret a URL outside rotation.webhookAllow, and stores nothing', async () => {
    await call('CreateSecret', { Name: 'hook/refused', SecretString: 'v0' });
    for (const url of [
      `${receiverOrigin}/elsewhere`,
      `${receiverOrigin}/hooksx/a`,
      'http://127.0.0.1:1/hooks/a',
      `http://user:pw@${receiverOrigin.slice(7)}/hooks/a`,
      'http://169.254.169.254/latest/meta-data/',
    ]) {
      const { status, body } = await call('RotateSecret', {
        SecretId: 'hook/refused',
        RotationLambdaARN: `keysafe:rotation:webhook:${url}`,
      });
      expect(status).toBe(400);
      expect(body.__type).toBe('InvalidParameterException');
      expect(String(body.message)).toContain('rotation.webhookAllow');
    }
    const { body } = await call('DescribeSecret', { SecretId: 'hook/refused' });
    expect(body.RotationLambdaARN).toBeUndefined();
    expect(deliveries).toHaveLength(0);
  });

  it('signs each delivery so the receiver verifies it with the README recipe; a replay or an altered body is rejected', async () => {
    await call('CreateSecret', { Name: 'hook/ok', SecretString: 'v0' });
    await call('RotateSecret', {
      SecretId: 'hook/ok',
      RotationLambdaARN: `keysafe:rotation:webhook:${receiverOrigin}/hooks/ok`,
    });
    await server.rotation.idle();
    // Every step was accepted (the receiver answers 401 to what does not verify).
    expect((await lastFailure('hook/ok')) ?? '').toBe('');
    const steps = deliveries.map((d) => JSON.parse(d.body).Step);
    expect(steps).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    expect(new Set(deliveries.map((d) => d.headers['x-keysafe-delivery'])).size).toBe(4);
    const current = await call('GetSecretValue', { SecretId: 'hook/ok' });
    expect(current.body.SecretString).toBe('v1');

    const first = deliveries[0]!;
    expect(verifyKeysafeWebhook(SECRET, first.headers, first.body, seen)).toBe(false); // replayed
    const fresh = new Set<string>();
    expect(verifyKeysafeWebhook(SECRET, first.headers, first.body.replace('createSecret', 'finishSecret'), fresh)).toBe(
      false,
    ); // altered
    expect(verifyKeysafeWebhook(SECRET, first.headers, first.body, fresh, Date.now() / 1000 + 3600)).toBe(false); // stale
    expect(verifyKeysafeWebhook('another-secret-0123456789abcdef0123', first.headers, first.body, fresh)).toBe(false);
    expect(verifyKeysafeWebhook(SECRET, first.headers, first.body, fresh)).toBe(true); // the genuine one, once
  });

  it('gives the same LastFailure for a closed port and a 404, naming no status, host or port', async () => {
    const messages: (string | undefined)[] = [];
    for (const [name, url] of [
      ['hook/closed', `${closedOrigin}/hooks/a`],
      ['hook/missing', `${receiverOrigin}/hooks/missing`],
    ] as const) {
      await call('CreateSecret', { Name: name, SecretString: 'v0' });
      const { status } = await call('RotateSecret', {
        SecretId: name,
        RotationLambdaARN: `keysafe:rotation:webhook:${url}`,
      });
      expect(status).toBe(200);
      await server.rotation.idle();
      messages.push(await lastFailure(name));
    }
    expect(messages[0]).toBe(
      'createSecret: the rotation webhook did not confirm the step (the server log has the details)',
    );
    expect(messages[1]).toBe(messages[0]);
  });
});
