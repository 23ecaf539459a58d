// Sync on its own, over a stub server and real files in a temp dir: what is written and reloaded when,
// what a failed fetch, render or write leaves on disk, the repair that redoes it, the file check that
// rewrites removed files, and stop() leaving no timer behind.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FetchedSecret } from '../../src/agent/client.js';
import { parseAgentConfig } from '../../src/agent/config.js';
import { AgentHealth } from '../../src/agent/health.js';
import { SecretCache } from '../../src/agent/secret-cache.js';
import { SecretSync } from '../../src/agent/sync.js';
import { AppError } from '../../src/core/errors.js';
import { TransientError } from '../../src/core/retry.js';
import { createLogger } from '../../src/observability/logger.js';
import { tempDir } from '../support/server.js';

const dirs: string[] = [];
let running: SecretSync | undefined;
afterEach(() => {
  running?.stop();
  running = undefined;
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A sync of `secrets` (paths relative to a fresh temp dir) over a stub server holding `values`. */
function harness(secrets: object[]) {
  const dir = tempDir('keysafe-sync-');
  dirs.push(dir);
  const config = parseAgentConfig(
    { server: 'http://127.0.0.1:1', auth: { role: 'web', tokenFile: 'token' }, secrets },
    { baseDir: dir },
  );
  const values = new Map<string, { value: string; versionId: string }>();
  const failures = new Map<string, Error>();
  const fetches: string[] = [];
  const client = {
    getSecret: async (_token: string, id: string): Promise<FetchedSecret> => {
      fetches.push(id);
      const failure = failures.get(id);
      if (failure) throw failure;
      const v = values.get(id);
      if (!v) throw new AppError('ResourceNotFoundException', `no ${id}`);
      return { body: { Name: id, VersionId: v.versionId, SecretString: v.value }, versionId: v.versionId };
    },
  };
  const session = { token: async () => 'session-token', invalidate: vi.fn() };
  const reloader = { notify: vi.fn() };
  const onValues = vi.fn();
  const health = new AgentHealth(Date.now);
  const logs: string[] = [];
  const sync = new SecretSync({
    secrets: config.secrets,
    client,
    session,
    cache: new SecretCache(config.secrets.map((s) => s.id)),
    health,
    logger: createLogger('debug', (line) => logs.push(line)),
    now: Date.now,
    reloader,
    onValues,
  });
  running = sync;
  const put = (id: string, value: string, versionId: string) => values.set(id, { value, versionId });
  const file = (name: string) => readFileSync(join(dir, name), 'utf8');
  return { dir, sync, put, file, failures, fetches, session, reloader, onValues, health, logs };
}

describe('sync', () => {
  it('writes the files, reloads once per change, and resolves firstSync; an unchanged version writes nothing', async () => {
    const h = harness([{ id: 'app/db', path: 'db.txt' }, { id: 'app/api', path: 'api.txt' }, { id: 'app/http-only' }]);
    h.put('app/db', 'one', 'v1');
    h.put('app/api', 'key', 'a1');
    h.put('app/http-only', 'served', 'h1');
    await h.sync.refresh(['app/db', 'app/api', 'app/http-only']);
    await h.sync.firstSync;
    expect([h.file('db.txt'), h.file('api.txt')]).toEqual(['one', 'key']);
    expect(h.reloader.notify).toHaveBeenCalledOnce();
    expect(h.onValues).toHaveBeenCalledOnce();
    expect([...h.sync.written].sort()).toEqual(['app/api', 'app/db']);

    await h.sync.refresh(['app/db', 'app/api']);
    expect(h.reloader.notify).toHaveBeenCalledOnce();
    h.put('app/db', 'two', 'v2');
    await h.sync.refresh(['app/db']);
    expect(h.file('db.txt')).toBe('two');
    expect(h.file('api.txt')).toBe('key');
    expect(h.reloader.notify).toHaveBeenCalledTimes(2);
  });

  it('keeps the last good value through a transient fetch failure, and fetches it again until it works', async () => {
    const h = harness([{ id: 'app/db', path: 'db.txt' }]);
    h.put('app/db', 'one', 'v1');
    await h.sync.refresh(['app/db']);
    h.put('app/db', 'two', 'v2');
    h.failures.set('app/db', new TransientError('cannot reach the server'));
    await h.sync.refresh(['app/db']);
    expect(h.file('db.txt')).toBe('one');
    expect(h.sync.problems.get('app/db')).toBe('cannot reach the server');
    expect(h.sync.isCurrent('app/db')).toBe(false);

    h.failures.delete('app/db');
    await vi.waitFor(() => expect(h.file('db.txt')).toBe('two'), { timeout: 3_000 });
    expect(h.sync.problems.size).toBe(0);
    expect(h.sync.isCurrent('app/db')).toBe(true);
  });

  it('drops a refused session and fetches again; a refusal of the secret waits for the next change', async () => {
    const h = harness([
      { id: 'app/db', path: 'db.txt' },
      { id: 'app/denied', path: 'denied.txt' },
    ]);
    h.put('app/db', 'one', 'v1');
    h.failures.set('app/db', new AppError('ExpiredTokenException', 'The session expired.'));
    h.failures.set('app/denied', new AppError('AccessDeniedException', 'Not for you.'));
    await h.sync.refresh(['app/db', 'app/denied']);
    expect(h.session.invalidate).toHaveBeenCalledOnce();
    h.failures.delete('app/db');
    await vi.waitFor(() => expect(h.file('db.txt')).toBe('one'), { timeout: 3_000 });
    await new Promise((ok) => setTimeout(ok, 600)); // longer than the first repair's backoff
    expect(h.fetches.filter((id) => id === 'app/denied')).toHaveLength(1);
    expect(h.sync.problems.get('app/denied')).toBe('AccessDeniedException: Not for you.');
  });

  it('writes the other secrets when one cannot be rendered, keeping its files as they were', async () => {
    const h = harness([
      { id: 'app/db', path: 'db.txt' },
      { id: 'app/url', path: 'url.txt', format: 'template', template: 'postgres://{{user}}@db' },
    ]);
    h.put('app/db', 'one', 'v1');
    h.put('app/url', '{"user":"alice"}', 'u1');
    await h.sync.refresh(['app/db', 'app/url']);
    h.put('app/db', 'two', 'v2');
    h.put('app/url', 'not json', 'u2');
    await h.sync.refresh(['app/db', 'app/url']);
    expect(h.file('db.txt')).toBe('two');
    expect(h.file('url.txt')).toBe('postgres://alice@db');
    expect(h.sync.problems.get('app/url')).toMatch(/^InvalidParameterException: .*not valid JSON/);
    expect(h.logs.join('')).not.toContain('not json');
  });

  it('retries files it could not write, and writes again files removed behind its back', async () => {
    const h = harness([{ id: 'app/db', path: 'blocked/db.txt' }]);
    writeFileSync(join(h.dir, 'blocked'), 'a file where the directory should be');
    h.sync.start();
    h.put('app/db', 'one', 'v1');
    await h.sync.refresh(['app/db']);
    expect(h.sync.written.size).toBe(0);
    expect(h.health.lastError).toBeDefined();
    expect(h.logs.join('')).toContain('"msg":"could not write secret files; keeping the last good ones and retrying"');

    rmSync(join(h.dir, 'blocked'));
    await vi.waitFor(() => expect(h.file('blocked/db.txt')).toBe('one'), { timeout: 7_000 });
    await vi.waitFor(() => expect(h.logs.join('')).toContain('"msg":"secret files can be written again"'));
    expect(h.sync.problems.size).toBe(0);

    rmSync(join(h.dir, 'blocked'), { recursive: true });
    await vi.waitFor(() => expect(existsSync(join(h.dir, 'blocked/db.txt'))).toBe(true), { timeout: 3_000 });
    expect(h.logs.join('')).toContain('"msg":"secret files disappeared; writing them again"');
  });

  it('stop() clears the file check and the repair timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const h = harness([{ id: 'app/db', path: 'db.txt' }]);
    h.sync.start();
    h.failures.set('app/db', new TransientError('cannot reach the server'));
    await h.sync.refresh(['app/db']);
    expect(vi.getTimerCount()).toBe(2);
    h.sync.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
