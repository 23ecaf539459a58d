// A workload logs in with a Kubernetes-shaped JWT and reads its own secret, and only its own.

import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import { type TestServer, tempDir } from '../support/server.js';
import { bearerCall, login as loginAt } from '../support/session.js';
import { SHOP_WEB_READER, startWorkloadServer } from '../support/workload.js';

const run = promisify(execFile);
let issuer: OidcIssuer;
let server: TestServer;

beforeAll(async () => {
  let admin: SecretsManagerClient;
  ({ issuer, server, admin } = await startWorkloadServer({
    subjects: ['system:serviceaccount:shop:*'],
    claims: { 'kubernetes.io.serviceaccount.name': 'web' },
    statements: [SHOP_WEB_READER],
  }));
  await admin.send(new CreateSecretCommand({ Name: 'shop/web/db', SecretString: 'web-password' }));
  await admin.send(new CreateSecretCommand({ Name: 'shop/api/db', SecretString: 'api-password' }));
});

afterAll(async () => {
  await server?.stop();
  await issuer?.stop();
});

const login = (role: string, jwt: string) => loginAt(server.url, { role, jwt });

async function getSecret(token: string, secretId: string) {
  const res = await bearerCall(server.url, token, 'secretsmanager.GetSecretValue', { SecretId: secretId });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('workload login', () => {
  it('exchanges a projected service-account token for a session that reads only its own secrets', async () => {
    const res = await login('web', await issuer.kubernetesToken());
    expect(res.status).toBe(200);
    const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: string };
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
    const own = await getSecret(token, 'shop/web/db');
    expect(own.body.SecretString).toBe('web-password');
    const other = await getSecret(token, 'shop/api/db');
    expect(other.status).toBe(400);
    expect(other.body.__type).toBe('AccessDeniedException');
    expect(other.body.message).toContain('secretsmanager:GetSecretValue');
    expect(other.body.message).toContain('shop/api/db');
    expect(other.body.message).not.toContain('api-password');
  });

  it('refuses a token whose service account the role does not bind', async () => {
    const res = await login('web', await issuer.kubernetesToken({ serviceAccount: 'api' }));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { __type: string }).__type).toBe('IDPRejectedClaim');
  });

  it('lets an AWS SDK app configured only by environment variables read its secret via STS', async () => {
    const dir = tempDir();
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, await issuer.kubernetesToken());
    const script = `
      import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
      const sm = new SecretsManagerClient({});
      const own = await sm.send(new GetSecretValueCommand({ SecretId: 'shop/web/db' }));
      let denied = '';
      try { await sm.send(new GetSecretValueCommand({ SecretId: 'shop/api/db' })); } catch (e) { denied = e.name; }
      console.log(JSON.stringify({ own: own.SecretString, denied }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        AWS_REGION: 'us-east-1',
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: 'arn:aws:iam::000000000000:role/web',
        AWS_ENDPOINT_URL: server.url,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '1',
      },
    });
    expect(JSON.parse(stdout)).toEqual({ own: 'web-password', denied: 'AccessDeniedException' });
    rmSync(dir, { recursive: true, force: true });
  });
});
