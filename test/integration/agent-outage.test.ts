// The agent through outages: the server killed and back, and the workload's token replaced or expired.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { CLI, freePort, type ServerProcess, spawnServer } from '../support/process.js';
import { tempDir } from '../support/server.js';

let issuer: OidcIssuer;
let server: ServerProcess;
let serverPort: number;
let dataDir: string;
let dir: string;
let agent: ChildProcess;
let agentLog = '';
let endpoint: string;
let localToken: string;

const until = async (check: () => boolean | Promise<boolean>, ms: number): Promise<void> => {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

const sm = () =>
  new SecretsManagerClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: server.admin.accessKeyId, secretAccessKey: server.admin.secretAccessKey },
  });

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
    JSON.stringify({
      issuers: [{ name: 'cluster', issuer: issuer.url, audiences: ['keysafe'], discovery: true }],
      roles: [
        {
          name: 'web',
          issuer: 'cluster',
          subjects: ['system:serviceaccount:shop:web'],
          policy: { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' }] },
        },
      ],
    }),
  );
  server = await startServer();
  await sm().send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'v0' }));
  writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'agent.json'),
    JSON.stringify({
      server: server.url,
      auth: { role: 'web', tokenFile: join(dir, 'token') },
      listen: `127.0.0.1:${port}`,
      localTokenFile: join(dir, 'local-token'),
      secrets: [{ id: 'app/db', path: join(dir, 'secrets', 'db') }],
    }),
  );
  agent = spawn(process.execPath, [CLI, 'agent', '--config', join(dir, 'agent.json')]);
  agent.stdout!.on('data', (d) => {
    agentLog += d;
  });
  agent.stderr!.on('data', (d) => {
    agentLog += d;
  });
  await until(() => existsSync(join(dir, 'secrets', 'db')), 10_000);
  localToken = readFileSync(join(dir, 'local-token'), 'utf8').trim();
});

afterAll(async () => {
  agent?.kill('SIGTERM');
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
    expect(agent.exitCode).toBeNull(); // no restart needed
  });

  it('logs in again when the token file is replaced, and reports an expired token without crashing', async () => {
    const logins = () => agentLog.split('"logged in"').length - 1;
    const before = logins();
    writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
    await until(() => logins() > before, 5000);

    // A token that expired: the login is refused, reported clearly, retried; the agent keeps serving.
    const hour = 3600;
    writeFileSync(
      join(dir, 'token'),
      await issuer.kubernetesToken({ issuedAt: Math.floor(Date.now() / 1000) - 2 * hour }),
    );
    await until(() => agentLog.includes('The web identity token is expired'), 5000);
    expect(agent.exitCode).toBeNull();
    expect((await served()).status).toBe(200);

    writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
    const recovered = logins();
    await until(() => logins() > recovered, 10_000);
    await sm().send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'v2' }));
    await until(() => file() === 'v2', 3000);
    expect(agentLog).not.toContain('eyJ'); // no JWT in any log line
  });
});
