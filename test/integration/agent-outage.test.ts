// The agent through outages: the server killed and back, and the workload's token replaced or expired.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, spawnAgent } from '../support/agent.js';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { freePort, type ServerProcess, spawnServer } from '../support/process.js';
import { secretsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { ANY_SECRET_READER, trustConfig, webRole } from '../support/workload.js';

let issuer: OidcIssuer;
let server: ServerProcess;
let serverPort: number;
let dataDir: string;
let dir: string;
let agent: AgentProcess;
let endpoint: string;
let localToken: string;

const sm = () => secretsClient(server, { retries: true });

const startServer = () => spawnServer(dataDir, ['--config', join(dir, 'server.json')], {}, serverPort);
const file = () => readFileSync(join(dir, 'secrets', 'db'), 'utf8');
const served = async () => {
  const res = await fetch(`${endpoint}/v1/secrets/app/db`, {
    headers: { 'X-Aws-Parameters-Secrets-Token': localToken },
  });
  return {
    status: res.status,
    age: Number(res.headers.get('age')),
    body: (await res.json()) as { SecretString?: string },
  };
};

beforeAll(async () => {
  issuer = await startOidcIssuer();
  dir = tempDir('keysafe-outage-');
  dataDir = join(dir, 'data');
  serverPort = await freePort();
  writeFileSync(
    join(dir, 'server.json'),
    JSON.stringify(trustConfig(issuer.url, [webRole({ statements: [ANY_SECRET_READER] })])),
  );
  server = await startServer();
  await sm().send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'v0' }));
  writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
  agent = await spawnAgent({ dir, server: server.url, secrets: [{ id: 'app/db', path: join(dir, 'secrets', 'db') }] });
  endpoint = agent.endpoint;
  await until(() => existsSync(join(dir, 'secrets', 'db')), 10_000);
  localToken = agent.localToken();
});

afterAll(async () => {
  agent?.child.kill('SIGTERM');
  server?.child.kill('SIGKILL');
  await issuer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent outages', () => {
  it('keeps serving the last value while the server is down and catches up when it returns', async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    await new Promise((r) => setTimeout(r, 1200));
    const during = await served();
    expect(during.status).toBe(200);
    expect(during.body.SecretString).toBe('v0');
    expect(during.age).toBeGreaterThanOrEqual(1);
    expect(file()).toBe('v0');
    const ready = (await (await fetch(`${endpoint}/readyz`)).json()) as { connected?: boolean };
    expect(JSON.stringify(ready)).toContain('"connected":false');

    server = await startServer();
    const back = Date.now();
    await sm().send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'v1' }));
    await until(() => file() === 'v1', 3000);
    expect(Date.now() - back).toBeLessThan(3000);
    const after = await served();
    expect(after.body.SecretString).toBe('v1');
    expect(after.age).toBe(0);
    expect(agent.child.exitCode).toBeNull(); // no restart needed
  });

  it('logs in again when the token file is replaced, and reports an expired token without crashing', async () => {
    const logins = () => agent.output().split('"logged in"').length - 1;
    const before = logins();
    writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
    await until(() => logins() > before, 5000);

    // A token that expired: the login is refused, reported clearly, retried; the agent keeps serving.
    const hour = 3600;
    writeFileSync(
      join(dir, 'token'),
      await issuer.kubernetesToken({ issuedAt: Math.floor(Date.now() / 1000) - 2 * hour }),
    );
    await until(() => agent.output().includes('The web identity token is expired'), 5000);
    expect(agent.child.exitCode).toBeNull();
    expect((await served()).status).toBe(200);

    writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
    const recovered = logins();
    await until(() => logins() > recovered, 10_000);
    await sm().send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'v2' }));
    await until(() => file() === 'v2', 3000);
    expect(agent.output()).not.toContain('eyJ'); // no JWT in any log line
  });
});
