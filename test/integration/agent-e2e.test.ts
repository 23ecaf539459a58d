// The sidecar end to end: a real server, a real agent process, real files, a real consumer process.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import { CLI, freePort } from '../support/process.js';
import { type TestServer, tempDir } from '../support/server.js';
import { startWorkloadServer } from '../support/workload.js';

let issuer: OidcIssuer;
let server: TestServer;
let admin: SecretsManagerClient;
let dir: string;
let agent: ChildProcess;
let consumer: ChildProcess;
let agentLog = '';
let endpoint: string;

const until = async (check: () => boolean, ms: number): Promise<number> => {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - started;
};

beforeAll(async () => {
  ({ issuer, server, admin } = await startWorkloadServer());
  await admin.send(new CreateSecretCommand({ Name: 'app/db', SecretString: '{"username":"app","password":"v0"}' }));

  dir = tempDir('keysafe-agent-');
  writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
  // A consumer that counts SIGHUPs into a file and publishes its pid.
  consumer = spawn(process.execPath, [
    '-e',
    `require('fs').writeFileSync(${JSON.stringify(join(dir, 'app.pid'))}, String(process.pid));
     let n = 0; process.on('SIGHUP', () => require('fs').writeFileSync(${JSON.stringify(join(dir, 'hups'))}, String(++n)));
     setInterval(() => {}, 1000);`,
  ]);
  await until(() => existsSync(join(dir, 'app.pid')), 5000);
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'agent.json'),
    JSON.stringify({
      server: server.url,
      auth: { role: 'web', tokenFile: join(dir, 'token') },
      listen: `127.0.0.1:${port}`,
      localTokenFile: join(dir, 'local-token'),
      secrets: [
        { id: 'app/db', path: join(dir, 'secrets', 'db.json'), format: 'json' },
        {
          id: 'app/db',
          path: join(dir, 'secrets', 'db.url'),
          format: 'template',
          template: 'postgres://{{username}}:{{password}}@db/app',
        },
      ],
      onChange: { signal: 'SIGHUP', pidFile: join(dir, 'app.pid'), debounceMs: 0 },
    }),
  );
  agent = spawn(process.execPath, [CLI, 'agent', '--config', join(dir, 'agent.json')]);
  agent.stdout!.on('data', (d) => {
    agentLog += d;
  });
  agent.stderr!.on('data', (d) => {
    agentLog += d;
  });
  // Both names: on the first write each visible link appears on its own.
  await until(() => existsSync(join(dir, 'secrets', 'db.url')) && existsSync(join(dir, 'secrets', 'db.json')), 10_000);
});

afterAll(async () => {
  agent?.kill('SIGTERM');
  consumer?.kill('SIGKILL');
  await server?.stop();
  await issuer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const read = (name: string) => readFileSync(join(dir, 'secrets', name), 'utf8');
const hups = () => (existsSync(join(dir, 'hups')) ? Number(readFileSync(join(dir, 'hups'), 'utf8')) : 0);

describe('keysafe agent', () => {
  it('writes the files at start', () => {
    expect(JSON.parse(read('db.json'))).toEqual({ username: 'app', password: 'v0' });
    expect(read('db.url')).toBe('postgres://app:v0@db/app');
  });

  it('rewrites the files, serves the new version and signals the consumer within a second of a rotation', async () => {
    const localToken = readFileSync(join(dir, 'local-token'), 'utf8').trim();
    const before = hups();
    const started = Date.now();
    const put = await admin.send(
      new PutSecretValueCommand({ SecretId: 'app/db', SecretString: '{"username":"app","password":"v1"}' }),
    );
    await until(() => read('db.url') === 'postgres://app:v1@db/app', 1000);
    await until(() => hups() > before, 1000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(JSON.parse(read('db.json')).password).toBe('v1');
    const res = await fetch(`${endpoint}/secretsmanager/get?secretId=app/db`, {
      headers: { 'X-Aws-Parameters-Secrets-Token': localToken },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { VersionId: string; SecretString: string };
    expect(body.VersionId).toBe(put.VersionId);
    expect(JSON.parse(body.SecretString).password).toBe('v1');
  });

  it('guards the endpoint with the local token', async () => {
    expect((await fetch(`${endpoint}/secretsmanager/get?secretId=app/db`)).status).toBe(403);
    expect(agentLog).not.toContain('"password"');
    expect(agentLog).not.toContain('v1@db');
  });
});

describe('keysafe exec', () => {
  it('runs a command with secrets in its environment, restarts it on rotation, and passes its exit code on', async () => {
    const config = join(dir, 'exec.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: server.url,
        auth: { role: 'web', tokenFile: join(dir, 'token') },
        secrets: [{ id: 'app/db', env: { password: 'DB_PASSWORD', username: 'DB_USER' } }],
        exec: { onChange: 'restart', gracePeriodSeconds: 2 },
      }),
    );
    const seen = join(dir, 'exec-seen');
    // Appends the password it started with; exits 7 once it has seen v2.
    const script = `const fs = require('fs');
      fs.appendFileSync(${JSON.stringify(seen)}, process.env.DB_USER + ':' + process.env.DB_PASSWORD + '\\n');
      if (process.env.DB_PASSWORD === 'v2') process.exit(7);
      setInterval(() => {}, 1000);`;
    const exec = spawn(process.execPath, [CLI, 'exec', '--config', config, '--', process.execPath, '-e', script]);
    let stderr = '';
    exec.stderr!.on('data', (d) => {
      stderr += d;
    });
    const exitCode = new Promise<number | null>((r) => exec.once('exit', r));
    await until(() => existsSync(seen) && readFileSync(seen, 'utf8').endsWith('\n'), 10_000);
    expect(readFileSync(seen, 'utf8')).toBe('app:v1\n');
    await admin.send(
      new PutSecretValueCommand({ SecretId: 'app/db', SecretString: '{"username":"app","password":"v2"}' }),
    );
    expect(await exitCode).toBe(7);
    expect(readFileSync(seen, 'utf8')).toBe('app:v1\napp:v2\n');
    expect(stderr).not.toContain('v2');
  });
});
