// The server's agent API: secret values encrypted to the agent's key, and the change stream.
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { compactDecrypt, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

let workload: WorkloadServer;
let server: TestServer;
let admin: SecretsManagerClient;

beforeAll(async () => {
  workload = await startWorkloadServer();
  ({ server, admin } = workload);
  await admin.send(new CreateSecretCommand({ Name: 'app/db', SecretString: '{"password":"v1"}' }));
  await admin.send(new CreateSecretCommand({ Name: 'other/db', SecretString: 'not yours' }));
});

afterAll(async () => {
  await workload?.stop();
});

async function agentSession() {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
  const token = await workload.session('web', {}, await exportJWK(publicKey));
  return { token, privateKey };
}

describe('agent API', () => {
  it('delivers a secret value only inside a JWE for the key the session logged in with', async () => {
    const { token, privateKey } = await agentSession();
    const res = await fetch(`${server.url}/v1/secrets/app/db`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain('v1'); // the value is not in the clear
    const body = JSON.parse(text) as { Name: string; VersionId: string; jwe: string };
    expect(body.Name).toBe('app/db');
    const { plaintext, protectedHeader } = await compactDecrypt(body.jwe, privateKey);
    expect(protectedHeader).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM' });
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toEqual({ SecretString: '{"password":"v1"}' });

    const denied = await fetch(`${server.url}/v1/secrets/other/db`, { headers: { authorization: `Bearer ${token}` } });
    expect(denied.status).toBe(403);
    expect(await denied.text()).not.toContain('not yours');
  });

  it('streams the changes of readable secrets, resumable from a cursor', async () => {
    const { token } = await agentSession();
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/watch`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const nextEvent = async (): Promise<{ event: string; data: Record<string, unknown> }> => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) return { event, data: JSON.parse(data) };
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += value;
      }
    };
    const hello = await nextEvent();
    expect(hello.event).toBe('hello');
    const started = Date.now();
    await admin.send(new PutSecretValueCommand({ SecretId: 'other/db', SecretString: 'still not yours' }));
    const put = await admin.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: '{"password":"v2"}' }));
    const created = await nextEvent();
    // Only app/db's events reach this role: other/db's are filtered out.
    expect(created).toMatchObject({
      event: 'change',
      data: { type: 'VersionCreated', name: 'app/db', versionId: put.VersionId },
    });
    expect((await nextEvent()).data).toMatchObject({ type: 'StagesMoved', name: 'app/db' });
    expect(Date.now() - started).toBeLessThan(1000);
    controller.abort();

    // Reconnecting from the hello cursor replays what happened since, in order.
    const replay = await fetch(`${server.url}/v1/watch?cursor=${hello.data.cursor}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const text = replay.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = '';
    while (!seen.includes('StagesMoved')) seen += (await text.read()).value;
    expect(seen).toContain('"type":"VersionCreated","name":"app/db"');
    expect(seen).not.toContain('other/db');
    await text.cancel();
    await admin.send(
      new UpdateSecretVersionStageCommand({ SecretId: 'app/db', VersionStage: 'X', MoveToVersionId: put.VersionId }),
    );
  });

  it('refuses the watch without a session', async () => {
    const res = await fetch(`${server.url}/v1/watch`);
    expect(res.status).toBe(401);
  });
});
