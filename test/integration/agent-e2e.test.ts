// The sidecar end to end: a real server, a real agent process, real files, a real consumer process.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, spawnAgent, writeAgentConfig } from '../support/agent.js';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import { CLI } from '../support/process.js';
import { type TestServer, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { startWorkloadServer } from '../support/workload.js';

let issuer: OidcIssuer;
let server: TestServer;
let admin: SecretsManagerClient;
let dir: string;
let agent: AgentProcess;
let consumer: ChildProcess;
let endpoint: string;

/** Polls every 5 ms: the rotation test bounds a latency. */
const soon = (check: () => boolean, ms: number) => until(check, ms, 'condition', 5);

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
  await soon(() => existsSync(join(dir, 'app.pid')), 5000);
  agent = await spawnAgent({
    dir,
    server: server.url,
    secrets: [
      { id: 'app/db', path: join(dir, 'secrets', 'db.json'), format: 'json' },
      {
        id: 'app/db',
        path: join(dir, 'secrets', 'db.url'),
        format: 'template',
        template: 'postgres://{{username}}:{{password}}@db/app',
      },
    ],
    settings: { onChange: { signal: 'SIGHUP', pidFile: join(dir, 'app.pid'), debounceMs: 0 } },
  });
  endpoint = agent.endpoint;
  // Both names: on the first write each visible link appears on its own.
  await soon(() => existsSync(join(dir, 'secrets', 'db.url')) && existsSync(join(dir, 'secrets', 'db.json')), 10_000);
});

afterAll(async () => {
  agent?.child.kill('SIGTERM');
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
    await soon(() => read('db.url') === 'postgres://app:v1@db/app', 1000);
    await soon(() => hups() > before, 1000);
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
    expect(agent.output()).not.toContain('"password"');
    expect(agent.output()).not.toContain('v1@db');
  });
});

describe('keysafe exec', () => {
  it('runs a command with secrets in its environment, restarts it on rotation, and passes its exit code on', async () => {
    const { configFile: config } = await writeAgentConfig({
      dir,
      file: 'exec.json',
      server: server.url,
      endpoint: false,
      secrets: [{ id: 'app/db', env: { password: 'DB_PASSWORD', username: 'DB_USER' } }],
      settings: { exec: { onChange: 'restart', gracePeriodSeconds: 2 } },
    });
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
    await soon(() => existsSync(seen) && readFileSync(seen, 'utf8').endsWith('\n'), 10_000);
    expect(readFileSync(seen, 'utf8')).toBe('app:v1\n');
    await admin.send(
      new PutSecretValueCommand({ SecretId: 'app/db', SecretString: '{"username":"app","password":"v2"}' }),
    );
    expect(await exitCode).toBe(7);
    expect(readFileSync(seen, 'utf8')).toBe('app:v1\napp:v2\n');
    expect(stderr).not.toContain('v2');
  });
});
