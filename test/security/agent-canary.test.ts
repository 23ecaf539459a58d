// Agent canary: a secret value is planted and the agent is run through fetch, rotation, endpoint reads
// (good and bad), render failures, a denied secret, a server kill and restart, and token swaps. The value
// must reach the files and good endpoint answers, and nothing else: no agent log line, no endpoint error
// body, no server log line, no audit record.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSegments } from '../../src/audit/index.js';
import { type AgentProcess, runAgentOnce, spawnAgent } from '../support/agent.js';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { freePort, type ServerProcess, spawnServer } from '../support/process.js';
import { secretsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { trustConfig, webRole } from '../support/workload.js';

// 24 characters: a multiple of 3, so any value starting with it base64-encodes to a fixed prefix.
const CANARY = `kscanary${randomBytes(8).toString('hex')}`;
const CANARY_B64 = Buffer.from(CANARY).toString('base64');
const dbValue = (v: number) => JSON.stringify({ username: 'app', password: `${CANARY}-v${v}` });

let issuer: OidcIssuer;
let server: ServerProcess;
/** Output of the servers killed so far (the current one's is `server.output()`). */
let earlierServerOutput = '';
let serverPort: number;
let dataDir: string;
let dir: string;
let agent: AgentProcess;
/** What `keysafe agent --once` printed. */
let onceOutput = '';
const agentLog = () => agent.output() + onceOutput;
let endpoint: string;
let localToken: string;
/** Every endpoint answer that was not a success. */
const errorBodies: string[] = [];

const sm = () => secretsClient(server);
const startServer = () =>
  spawnServer(dataDir, ['--config', join(dir, 'server.json')], { KEYSAFE_LOG_LEVEL: 'debug' }, serverPort);
const file = (...p: string[]) => (existsSync(join(dir, ...p)) ? readFileSync(join(dir, ...p), 'utf8') : '');
const reloads = () => file('reloads').split('\n').filter(Boolean).length;
const logins = () => agentLog().split('"logged in"').length - 1;

/** GET on the agent endpoint; non-2xx bodies are kept for the final check. */
async function get(path: string, init: RequestInit = {}, token: string | null = localToken) {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set('X-Aws-Parameters-Secrets-Token', token);
  const res = await fetch(`${endpoint}${path}`, { ...init, headers });
  const body = await res.text();
  if (res.status >= 300) errorBodies.push(`${res.status} ${path}: ${body}`);
  return { status: res.status, body };
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
  dir = tempDir('keysafe-agent-canary-');
  dataDir = join(dir, 'data');
  serverPort = await freePort();
  writeFileSync(join(dir, 'server.json'), JSON.stringify(trustConfig(issuer.url, [webRole()])));
  server = await startServer();
  const admin = sm();
  await admin.send(new CreateSecretCommand({ Name: 'app/db', SecretString: dbValue(0) }));
  await admin.send(new CreateSecretCommand({ Name: 'app/raw', SecretString: `${CANARY}-raw` }));
  await admin.send(new CreateSecretCommand({ Name: 'app/bin', SecretBinary: Buffer.from(`${CANARY}-bin`) }));
  // Rendered fine at first; rotated later into values that cannot be rendered.
  await admin.send(new CreateSecretCommand({ Name: 'app/notjson', SecretString: '{"ok":true}' }));
  await admin.send(new CreateSecretCommand({ Name: 'app/nofield', SecretString: '{"password":"fine"}' }));
  // A secret the role may not read.
  await admin.send(new CreateSecretCommand({ Name: 'other/private', SecretString: `${CANARY}-denied` }));

  writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
  agent = await spawnAgent({
    dir,
    server: server.url,
    secrets: [
      { id: 'app/db', path: join(dir, 'secrets', 'db.json'), format: 'json' },
      { id: 'app/db', path: join(dir, 'secrets', 'db.env'), format: 'env' },
      {
        id: 'app/db',
        path: join(dir, 'secrets', 'db.url'),
        format: 'template',
        template: 'postgres://{{username}}:{{password}}@db/app',
      },
      { id: 'app/raw', path: join(dir, 'secrets', 'raw') },
      { id: 'app/bin', path: join(dir, 'secrets', 'bin') },
      { id: 'app/notjson', path: join(dir, 'broken1', 'notjson.json'), format: 'json' },
      { id: 'app/nofield', path: join(dir, 'broken2', 'url'), format: 'template', template: '{{password}}' },
      { id: 'other/private', path: join(dir, 'denied', 'private') },
    ],
    settings: {
      logLevel: 'debug',
      onChange: { command: ['/bin/sh', '-c', `echo reloaded >> '${join(dir, 'reloads')}'`], debounceMs: 0 },
    },
  });
  endpoint = agent.endpoint;
  await until(() => file('secrets', 'db.url') !== '' && file('secrets', 'bin') !== '', 10_000).catch((e) => {
    throw new Error(`${(e as Error).message}; agent log:\n${agentLog()}`);
  });
  await until(() => existsSync(join(dir, 'local-token')), 5000);
  localToken = agent.localToken();
});

afterAll(async () => {
  agent?.child.kill('SIGKILL');
  server?.child.kill('SIGKILL');
  await issuer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent canary', () => {
  it('writes the value to the files and reloads the consumer', async () => {
    expect(JSON.parse(file('secrets', 'db.json')).password).toBe(`${CANARY}-v0`);
    expect(file('secrets', 'db.env')).toContain(`password='${CANARY}-v0'`);
    expect(file('secrets', 'db.url')).toBe(`postgres://app:${CANARY}-v0@db/app`);
    expect(file('secrets', 'raw')).toBe(`${CANARY}-raw`);
    expect(file('secrets', 'bin')).toBe(`${CANARY}-bin`);
    // The denied secret left no file.
    expect(existsSync(join(dir, 'denied', 'private'))).toBe(false);
    await until(() => reloads() >= 1, 5000);
  });

  it('keeps the last good file when a rotation brings a value it cannot render', async () => {
    await until(() => file('broken1', 'notjson.json') !== '' && file('broken2', 'url') !== '', 5000);
    const failures = () => agentLog().split('could not render secret').length - 1;
    const before = failures();
    // Not JSON for format json (a JSON.parse message would quote it); a template field gone missing.
    await sm().send(new PutSecretValueCommand({ SecretId: 'app/notjson', SecretString: `${CANARY}-notjson` }));
    await sm().send(
      new PutSecretValueCommand({ SecretId: 'app/nofield', SecretString: JSON.stringify({ user: `${CANARY}-nf` }) }),
    );
    await until(() => failures() >= before + 2, 5000);
    expect(file('broken1', 'notjson.json')).toBe('{"ok":true}');
    expect(file('broken2', 'url')).toBe('fine');
  });

  it('serves the value to a good token only, and error answers carry none', async () => {
    const good = await get('/secretsmanager/get?secretId=app/db');
    expect(good.status).toBe(200);
    expect(good.body).toContain(`${CANARY}-v0`);
    const native = await get('/v1/secrets/app/bin');
    expect(native.status).toBe(200);
    expect(native.body).toContain(CANARY_B64);

    expect((await get('/secretsmanager/get?secretId=app/db', {}, null)).status).toBe(403);
    expect((await get('/secretsmanager/get?secretId=app/db', {}, 'wrong-token')).status).toBe(403);
    expect((await get('/v1/secrets/app/db', {}, `${localToken}x`)).status).toBe(403);
    expect(
      (await get('/secretsmanager/get?secretId=app/db', { headers: { 'X-Forwarded-For': '10.0.0.1' } })).status,
    ).toBe(400);
    expect((await get('/secretsmanager/get?secretId=app/db', { method: 'POST' })).status).toBe(405);
    expect((await get('/secretsmanager/get?secretId=app/nope')).status).toBe(400);
    expect((await get('/v1/secrets/app/nope')).status).toBe(404);
    const denied = await get('/secretsmanager/get?secretId=other/private');
    expect(denied.body).toContain('AccessDeniedException');
    expect((await get('/v1/secrets/app/db?versionId=00000000-0000-0000-0000-000000000000')).status).toBeGreaterThan(
      399,
    );
    expect((await get('/v1/secrets/app/db?versionStage=NOPE')).status).toBeGreaterThan(399);
    expect((await get('/secretsmanager/get?secretId=app/db&bogus=1')).status).toBe(400);
    const ready = await get('/readyz');
    const metrics = await get('/metrics');
    expect(ready.body + metrics.body).not.toContain(CANARY);
    expect(errorBodies.length).toBeGreaterThanOrEqual(10);
  });

  it('follows a rotation, and serves the previous version on request', async () => {
    const before = reloads();
    await sm().send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: dbValue(1) }));
    await until(() => file('secrets', 'db.url').includes('-v1@'), 3000);
    await until(() => reloads() > before, 3000);
    expect((await get('/v1/secrets/app/db')).body).toContain(`${CANARY}-v1`);
    expect((await get('/secretsmanager/get?secretId=app/db&versionStage=AWSPREVIOUS')).body).toContain(`${CANARY}-v0`);
  });

  it('keeps serving through a server kill and catches up after the restart', async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    earlierServerOutput += server.output();
    await until(() => agentLog().includes('watch stream lost'), 5000);
    const during = await get('/secretsmanager/get?secretId=app/db');
    expect(during.status).toBe(200);
    expect(during.body).toContain(`${CANARY}-v1`);
    // Not kept, so fetched live: fails while the server is down.
    expect((await get('/v1/secrets/app/raw?versionStage=AWSPREVIOUS')).status).toBeGreaterThan(399);

    server = await startServer();
    await sm().send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: dbValue(2) }));
    await until(() => file('secrets', 'db.url').includes('-v2@'), 5000);
  });

  it('logs in again after token swaps, an expired one in between', async () => {
    const before = logins();
    writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
    await until(() => logins() > before, 5000);
    writeFileSync(join(dir, 'token'), await issuer.kubernetesToken({ issuedAt: Math.floor(Date.now() / 1000) - 7200 }));
    await until(() => agentLog().includes('The web identity token is expired'), 5000);
    const recovered = logins();
    writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
    await until(() => logins() > recovered, 10_000);
    await sm().send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: dbValue(3) }));
    await until(() => file('secrets', 'db.url').includes('-v3@'), 5000);
    expect((await get('/secretsmanager/get?secretId=app/db')).body).toContain(`${CANARY}-v3`);
  });

  it('keysafe agent --once failing on the broken and denied secrets prints no value', async () => {
    const config = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    delete config.listen;
    delete config.localTokenFile;
    delete config.onChange;
    writeFileSync(join(dir, 'once.json'), JSON.stringify({ ...config, server: server.url }));
    const { code, out } = await runAgentOnce(join(dir, 'once.json'));
    expect(code).not.toBe(0);
    expect(out).toContain('other/private');
    onceOutput += out;
  });

  it('leaves the value out of every agent log line, endpoint error body, server log line and audit record', async () => {
    agent.child.kill('SIGTERM');
    await agent.exited;
    // The run went through the paths that could leak: make sure they were really taken.
    expect(agentLog()).toContain('logged in');
    expect(agentLog()).toContain('secret files written');
    expect(agentLog()).toContain('consumer reloaded');
    expect(agentLog()).toContain('could not render secret');
    expect(agentLog()).toContain('could not fetch secret');
    expect(agentLog()).toContain('watch stream lost');
    expect(agentLog()).toContain('login failed');
    const serverLog = earlierServerOutput + server.output();
    expect(serverLog.split('keysafe server listening').length - 1).toBe(2); // both servers' output is here
    const audit = listSegments(join(dataDir, 'audit'))
      .map((s) => readFileSync(s.path, 'utf8'))
      .join('');
    expect(audit).toContain('GetSecretValue');

    const leaks = (what: string, text: string) =>
      text
        .split('\n')
        .filter((line) => line.includes(CANARY) || line.includes(CANARY_B64))
        .map((line) => `${what}: ${line.slice(0, 300)}`);
    expect([
      ...leaks('agent', agentLog()),
      ...leaks('endpoint', errorBodies.join('\n')),
      ...leaks('server', serverLog),
      ...leaks('audit', audit),
    ]).toEqual([]);
  });
});
