// A malformed %-escape anywhere in a native route's path or query is a 400 ValidationException, never a
// 500 and never silently taken as literal text: agent API, watch stream, admin API, Terraform backend.
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

let workload: WorkloadServer;
let server: TestServer;
let agentToken: string;

beforeAll(async () => {
  workload = await startWorkloadServer();
  server = workload.server;
  await workload.admin.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'escape-test-value' }));
  const { publicKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
  agentToken = await workload.session('web', {}, await exportJWK(publicKey));
});

afterAll(async () => {
  await workload?.stop();
});

/** Status and error code of `method path` with `token`; a stream is cancelled once its status is known. */
async function ask(method: string, path: string, token: string): Promise<{ status: number; type?: string }> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    controller.abort();
    return { status: res.status };
  }
  const text = await res.text();
  expect(text).not.toContain('escape-test-value');
  try {
    return { status: res.status, type: JSON.parse(text).__type };
  } catch {
    return { status: res.status };
  }
}

const MALFORMED = ['%E0%A4%A', '%ZZ', '%', '%FF', '%C3'];

describe('malformed percent-escapes on the native routes', () => {
  it('the control: well-formed escapes work', async () => {
    expect(await ask('GET', '/v1/secrets/app%2Fdb?versionStage=AWSCURRENT', agentToken)).toEqual({ status: 200 });
    expect((await ask('GET', '/v1/admin/roles/w%65b', server.admin.token)).status).toBe(200);
  });

  it.each(MALFORMED)('answers 400 ValidationException for %s in a path or query', async (bad) => {
    const cases: [string, string, string][] = [
      ['GET', `/v1/secrets/app${bad}`, agentToken],
      ['GET', `/v1/secrets/app%2Fdb?versionStage=${bad}`, agentToken],
      ['GET', `/v1/secrets/app%2Fdb?${bad}=1`, agentToken],
      ['GET', `/v1/watch?cursor=${bad}`, agentToken],
      ['GET', `/v1/admin/roles/w${bad}`, server.admin.token],
      ['GET', `/v1/admin/issuers/c${bad}`, server.admin.token],
      ['DELETE', `/v1/admin/roles/w${bad}`, server.admin.token],
      ['GET', `/v1/terraform/state/infra${bad}`, server.admin.token],
      ['GET', `/v1/terraform/state/infra?version=${bad}`, server.admin.token],
      ['LOCK', `/v1/terraform/state/infra${bad}`, server.admin.token],
      // Before authentication too.
      ['GET', `/v1/secrets/app${bad}`, 'not-a-token'],
    ];
    for (const [method, path, token] of cases) {
      expect({ path, ...(await ask(method, path, token)) }).toEqual({ path, status: 400, type: 'ValidationException' });
    }
  });
});
