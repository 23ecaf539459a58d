// Torture through the real agent: a reader process hammers the agent's files while the secret rotates 200
// times, and `keysafe agent --once` for init containers (all written → 0; a secret it cannot fetch → 1, named).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgentOnce } from '../support/agent.js';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import { type CapturedProcess, CLI, spawnCaptured } from '../support/process.js';
import { type TestServer, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { startWorkloadServer } from '../support/workload.js';

const ROTATIONS = 200;
/** In a value the role may not read: must never be printed. */
const FORBIDDEN_VALUE = 'forbidden-4b1e9c7d-value';
const PLAIN_VALUE = 'plain-9d2c51aa-value';

let issuer: OidcIssuer;
let server: TestServer;
let admin: SecretsManagerClient;
let dir: string;
let agent: CapturedProcess | undefined;
let other: CapturedProcess | undefined;

/** Polls every 5 ms, as the reader's pace asks. */
const soon = (check: () => boolean, ms: number) => until(check, ms, 'condition', 5);

const value = (n: number) => JSON.stringify({ username: 'app', password: `p${n}` });
const readOr = (path: string, fallback = '') => (existsSync(path) ? readFileSync(path, 'utf8') : fallback);

/** Two files from one secret in one directory: they must always switch together. */
const agentConfig = (secretsDir: string, ids = ['app/db']) => ({
  server: server.url,
  auth: { role: 'web', tokenFile: join(dir, 'token') },
  secrets: ids.flatMap((id, i) => [
    { id, path: join(secretsDir, `db${i || ''}.json`), format: 'json' },
    {
      id,
      path: join(secretsDir, `db${i || ''}.url`),
      format: 'template',
      template: 'postgres://{{username}}:{{password}}@db/app',
    },
  ]),
});

/**
 * The reader, a separate process in a tight synchronous loop until STOP_FILE exists. Each iteration:
 *  1. resolves SECRETS_DIR/..data once and reads both files inside that generation (the consistent-set
 *     protocol of src/agent/file-set.ts): both complete, non-empty, and of the same version;
 *  2. reads each visible path directly: each complete and non-empty (they may straddle a swap, so they are
 *     not compared with each other), and present.
 * Prints a JSON summary on exit.
 */
const READER = `
const fs = require('fs');
const path = require('path');
const dir = process.env.SECRETS_DIR;
const stop = process.env.STOP_FILE;
const URL_RE = /^postgres:\\/\\/app:(p\\d+)@db\\/app$/;
const s = { iterations: 0, sets: 0, regenerations: 0, violations: 0, examples: [], versions: new Set(),
  directVersions: new Set(), backwards: 0, last: -1 };
const violation = (what) => { s.violations++; if (s.examples.length < 10) s.examples.push(what); };
const passwordOfJson = (text, where) => {
  if (text === '') return violation(where + ': empty');
  let doc;
  try { doc = JSON.parse(text); } catch { return violation(where + ': partial JSON ' + JSON.stringify(text)); }
  if (doc.username !== 'app' || !/^p\\d+$/.test(doc.password)) return violation(where + ': bad JSON ' + text);
  return doc.password;
};
const passwordOfUrl = (text, where) => {
  if (text === '') return violation(where + ': empty');
  const m = URL_RE.exec(text);
  if (!m) return violation(where + ': partial URL ' + JSON.stringify(text));
  return m[1];
};
const read = (p, where) => {
  try { return fs.readFileSync(p, 'utf8'); } catch (e) { violation(where + ': ' + e.code); return undefined; }
};
process.stdout.write('reading\\n');
for (;;) {
  if ((s.iterations & 63) === 0 && fs.existsSync(stop)) break;
  s.iterations++;
  // 1. One consistent set.
  let target;
  try { target = fs.readlinkSync(path.join(dir, '..data')); } catch (e) { violation('..data: ' + e.code); continue; }
  const gen = path.join(dir, target);
  let json, url;
  try {
    json = fs.readFileSync(path.join(gen, 'db.json'), 'utf8');
    url = fs.readFileSync(path.join(gen, 'db.url'), 'utf8');
  } catch (e) {
    // The generation was replaced twice meanwhile: the protocol says resolve ..data again.
    if (e.code === 'ENOENT') { s.regenerations++; continue; }
    throw e;
  }
  s.sets++;
  const a = passwordOfJson(json, 'set db.json');
  const b = passwordOfUrl(url, 'set db.url');
  if (a !== undefined && b !== undefined) {
    if (a !== b) violation('mismatched set: ' + a + ' / ' + b);
    s.versions.add(a);
    const n = Number(a.slice(1));
    if (n < s.last) s.backwards++;
    s.last = Math.max(s.last, n);
  }
  // 2. The visible paths, as a legacy app opens them.
  const dj = read(path.join(dir, 'db.json'), 'db.json');
  const du = read(path.join(dir, 'db.url'), 'db.url');
  const c = dj === undefined ? undefined : passwordOfJson(dj, 'db.json');
  const d = du === undefined ? undefined : passwordOfUrl(du, 'db.url');
  if (c !== undefined) s.directVersions.add(c);
  if (d !== undefined) s.directVersions.add(d);
}
process.stdout.write(JSON.stringify({ ...s, versions: s.versions.size, directVersions: s.directVersions.size,
  sawLast: s.versions.has('p' + process.env.LAST) }) + '\\n');
`;

interface ReaderSummary {
  iterations: number;
  sets: number;
  regenerations: number;
  violations: number;
  examples: string[];
  versions: number;
  directVersions: number;
  backwards: number;
  last: number;
  sawLast: boolean;
}

async function runOnce(config: object): Promise<{ code: number | null; out: string }> {
  const file = join(dir, `once-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  return runAgentOnce(file);
}

beforeAll(async () => {
  ({ issuer, server, admin } = await startWorkloadServer({ env: { KEYSAFE_LOG_LEVEL: 'warn' } }));
  await admin.send(new CreateSecretCommand({ Name: 'app/db', SecretString: value(0) }));
  await admin.send(
    new CreateSecretCommand({
      Name: 'other/private',
      SecretString: JSON.stringify({ username: 'other', password: FORBIDDEN_VALUE }),
    }),
  );
  // Not JSON: cannot be rendered as format json.
  await admin.send(new CreateSecretCommand({ Name: 'app/plain', SecretString: PLAIN_VALUE }));
  dir = tempDir('keysafe-torture-');
  writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
});

afterAll(async () => {
  agent?.child.kill('SIGTERM');
  other?.child.kill('SIGTERM');
  await server?.stop();
  await issuer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent files under rotation', () => {
  it(`never show a reader a partial, empty or mismatched set while the secret rotates ${ROTATIONS} times`, async () => {
    const secretsDir = join(dir, 'live');
    writeFileSync(join(dir, 'agent.json'), JSON.stringify(agentConfig(secretsDir)));
    agent = spawnCaptured(process.execPath, [CLI, 'agent', '--config', join(dir, 'agent.json')]);
    await soon(() => readOr(join(secretsDir, 'db.url')).includes(':p0@'), 10_000);

    const stopFile = join(dir, 'stop-reader');
    const reader = spawn(process.execPath, ['-e', READER], {
      env: { PATH: process.env.PATH, SECRETS_DIR: secretsDir, STOP_FILE: stopFile, LAST: String(ROTATIONS) },
    });
    let readerOut = '';
    let readerErr = '';
    reader.stdout.on('data', (d) => {
      readerOut += d;
    });
    reader.stderr.on('data', (d) => {
      readerErr += d;
    });
    const readerExit = new Promise<number | null>((r) => reader.once('exit', r));
    await soon(() => readerOut.startsWith('reading') || reader.exitCode !== null, 5000);

    const started = Date.now();
    for (let n = 1; n <= ROTATIONS; n++) {
      await admin.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: value(n) }));
    }
    const putsMs = Date.now() - started;
    await soon(() => readOr(join(secretsDir, 'db.url')) === `postgres://app:p${ROTATIONS}@db/app`, 5000);
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(stopFile, '');
    expect(await readerExit, readerErr).toBe(0);
    const summary = JSON.parse(readerOut.split('\n')[1]!) as ReaderSummary;
    console.log(`torture: ${ROTATIONS} rotations in ${putsMs} ms;`, JSON.stringify(summary));

    expect(summary.examples).toEqual([]);
    expect(summary.violations).toBe(0);
    expect(summary.sets).toBeGreaterThan(1000);
    // The reader really saw the files move: many distinct versions, up to the last one. (The agent
    // coalesces events that arrive while it writes, so it installs fewer sets than there were rotations.)
    expect(summary.versions).toBeGreaterThanOrEqual(20);
    expect(summary.directVersions).toBeGreaterThanOrEqual(20);
    expect(summary.sawLast).toBe(true);
    // Each set the agent installs is newer than the one before: no old version comes back.
    expect(summary.backwards).toBe(0);
    expect(JSON.parse(readFileSync(join(secretsDir, 'db.json'), 'utf8'))).toEqual({
      username: 'app',
      password: `p${ROTATIONS}`,
    });
    expect(agent.child.exitCode).toBeNull();
    expect(agent.output()).not.toMatch(/"level":"error"/);
  });
});

describe('keysafe agent --once', () => {
  it('writes every file with its mode and exits 0', async () => {
    const current = JSON.parse(readOr(join(dir, 'live', 'db.json'), value(ROTATIONS))) as { password: string };
    const secretsDir = join(dir, 'once-ok');
    const { code, out } = await runOnce(agentConfig(secretsDir));
    expect(code, out).toBe(0);
    expect(readFileSync(join(secretsDir, 'db.url'), 'utf8')).toBe(`postgres://app:${current.password}@db/app`);
    expect(JSON.parse(readFileSync(join(secretsDir, 'db.json'), 'utf8'))).toEqual({
      username: 'app',
      password: current.password,
    });
    expect(statSync(join(secretsDir, 'db.json')).mode & 0o777).toBe(0o400);
    expect(out).not.toContain(current.password);
  });

  it('exits non-zero naming each secret it could not fetch (denied, missing), never printing a value', async () => {
    const secretsDir = join(dir, 'once-bad');
    const { code, out } = await runOnce(agentConfig(secretsDir, ['app/db', 'other/private', 'app/missing']));
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(out).toContain('other/private');
    expect(out).toContain('AccessDeniedException');
    expect(out).toContain('app/missing');
    expect(out).toContain('ResourceNotFoundException');
    expect(out).not.toContain(FORBIDDEN_VALUE);
    expect(out).not.toMatch(/:p\d+@|"password"/);
  });

  it('exits non-zero when the role cannot log in, naming the problem', async () => {
    writeFileSync(join(dir, 'wrong-sa-token'), await issuer.kubernetesToken({ serviceAccount: 'api' }));
    const config = {
      ...agentConfig(join(dir, 'once-login')),
      auth: { role: 'web', tokenFile: join(dir, 'wrong-sa-token') },
    };
    const { code, out } = await runOnce(config);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(out).toContain('not bound to role web');
    expect(existsSync(join(dir, 'once-login', 'db.json'))).toBe(false);
  });
});

describe('a secret the agent cannot render', () => {
  const config = (secretsDir: string) => ({
    server: server.url,
    auth: { role: 'web', tokenFile: join(dir, 'token') },
    secrets: [
      { id: 'app/db', path: join(secretsDir, 'good', 'db.json'), format: 'json' },
      { id: 'app/plain', path: join(secretsDir, 'bad', 'plain.json'), format: 'json' },
    ],
  });

  it('does not keep the agent from writing the files of other directories', async () => {
    const secretsDir = join(dir, 'unrenderable');
    writeFileSync(join(dir, 'unrenderable.json'), JSON.stringify(config(secretsDir)));
    other = spawnCaptured(process.execPath, [CLI, 'agent', '--config', join(dir, 'unrenderable.json')]);
    const log = other.output;
    await soon(() => log().includes('could not render secret'), 10_000);
    await soon(() => existsSync(join(secretsDir, 'good', 'db.json')), 2000).catch(() => undefined);
    expect(existsSync(join(secretsDir, 'good', 'db.json')), log()).toBe(true);
    expect(existsSync(join(secretsDir, 'bad', 'plain.json'))).toBe(false);
    // The failure names the secret (not its value), so an operator knows which one to fix.
    expect(log()).toContain('app/plain');
    expect(log()).not.toContain(PLAIN_VALUE);
  });

  it('makes keysafe agent --once exit non-zero naming it', async () => {
    const { code, out } = await runOnce(config(join(dir, 'unrenderable-once')));
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(out).toContain('app/plain');
    expect(out).not.toContain(PLAIN_VALUE);
  });
});
