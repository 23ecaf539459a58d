// The consumer reloader with real processes, commands and an HTTP hook: delivery, debounce, retry, no secrets in logs.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createReloader, parsePid, processMatches, type Reloader, type ReloadOptions } from '../../src/agent/reload.js';
import { ConfigError } from '../../src/core/config-error.js';
import { createLogger } from '../../src/observability/logger.js';

let dir: string;
let consumerScript: string;
const children: ChildProcess[] = [];
const reloaders: Reloader[] = [];
const servers: Server[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keysafe-reload-'));
  consumerScript = join(dir, 'consumer.cjs');
  // A legacy app: counts SIGHUPs on stdout, writes its pid file once its handler is installed.
  writeFileSync(
    consumerScript,
    `const fs = require('node:fs');
let n = 0;
process.on('SIGHUP', () => { n++; process.stdout.write('hup ' + n + '\\n'); });
if (process.argv[2]) fs.writeFileSync(process.argv[2], process.pid + '\\n');
process.stdout.write('ready\\n');
setInterval(() => {}, 1 << 30);
`,
  );
});

afterEach(async () => {
  for (const r of reloaders.splice(0)) r.close();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => new Promise((ok) => s.close(ok))));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Consumer {
  child: ChildProcess;
  pid: number;
  /** performance.now() of every SIGHUP the consumer reported. */
  hups: number[];
  waitForHups(n: number, timeoutMs?: number): Promise<void>;
}

async function startConsumer(options: { pidFile?: string; exe?: string; argv0?: string } = {}): Promise<Consumer> {
  const child = spawn(
    options.exe ?? process.execPath,
    [consumerScript, ...(options.pidFile ? [options.pidFile] : [])],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      ...(options.argv0 && { argv0: options.argv0 }),
    },
  );
  children.push(child);
  const hups: number[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((ok) => {
    ready = ok;
  });
  let waiters: (() => void)[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const at = performance.now();
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') ready();
      else if (line.startsWith('hup ')) hups.push(at);
    }
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  await isReady;
  return {
    child,
    pid: child.pid!,
    hups,
    async waitForHups(n, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (hups.length < n) {
        if (Date.now() > deadline) throw new Error(`consumer saw ${hups.length} SIGHUPs, expected ${n}`);
        await new Promise<void>((ok) => {
          waiters.push(ok);
          setTimeout(ok, 50);
        });
      }
    },
  };
}

function reloader(
  options: Partial<ReloadOptions>,
  extra: { retry?: { baseMs: number; capMs: number } } & Record<string, unknown> = {},
) {
  const logs: string[] = [];
  const r = createReloader(
    { debounceMs: 0, ...options },
    { logger: createLogger('debug', (line) => logs.push(line)), retry: { baseMs: 10, capMs: 40 }, ...extra },
  );
  reloaders.push(r);
  return { r, logs };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((ok) => setTimeout(ok, 5));
  }
}

/** A reload hook on localhost: answers `statuses` in turn (then 200), recording each request. */
async function startHook(statuses: number[] = [], options: { hang?: boolean } = {}) {
  const requests: { at: number; method: string; url: string; authorization?: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    requests.push({
      at: performance.now(),
      method: req.method!,
      url: req.url!,
      authorization: req.headers.authorization,
    });
    req.resume();
    if (options.hang) return;
    res.statusCode = statuses.shift() ?? 200;
    res.end('done');
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { requests, port, url: `http://127.0.0.1:${port}/-/reload` };
}

describe('signal to the pid in pidFile', () => {
  it('delivers the first reload within 20 ms of notify(), with no timer on the path', async () => {
    const pidFile = join(dir, 'latency.pid');
    const consumer = await startConsumer({ pidFile });
    const { r, logs } = reloader({ signal: 'SIGHUP', pidFile });
    const latencies: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const t0 = performance.now();
      r.notify();
      await consumer.waitForHups(i);
      latencies.push(consumer.hups[i - 1]! - t0);
      await r.idle();
    }
    latencies.sort((a, b) => a - b);
    expect(latencies[2]).toBeLessThan(20); // the median; measured to the consumer's own report
    expect(r.status()).toMatchObject({ ok: true, attempts: 0, pending: false, reloads: 5, failures: 0 });
    expect(logs.filter((l) => l.includes('"consumer reloaded"'))).toHaveLength(5);
  });

  it('reads the pid file at reload time, so a restarted consumer is signalled at its new pid', async () => {
    const pidFile = join(dir, 'restart.pid');
    const first = await startConsumer({ pidFile });
    const { r } = reloader({ signal: 'SIGHUP', pidFile });
    r.notify();
    await first.waitForHups(1);
    first.child.kill('SIGKILL');
    const second = await startConsumer({ pidFile });
    expect(second.pid).not.toBe(first.pid);
    r.notify();
    await second.waitForHups(1);
    expect(first.hups).toHaveLength(1);
  });

  it('reports a missing pid file or a dead pid, retries, and succeeds once the consumer is back', async () => {
    const pidFile = join(dir, 'late.pid');
    const { r, logs } = reloader({ signal: 'SIGHUP', pidFile });
    r.notify();
    await until(() => r.status().attempts >= 2);
    expect(r.status()).toMatchObject({ ok: false, pending: true });
    expect(r.status().lastError).toBe(`signal: cannot read pidFile ${pidFile} (ENOENT)`);
    expect(logs.some((l) => l.includes('"consumer reload failed; retrying"') && l.includes('"retryInMs"'))).toBe(true);
    const consumer = await startConsumer({ pidFile });
    await consumer.waitForHups(1);
    await r.idle();
    expect(r.status()).toMatchObject({ ok: true, attempts: 0, lastError: undefined, reloads: 1 });
    expect(r.status().failures).toBeGreaterThanOrEqual(2);
  });

  it('refuses pid files naming no process, a process group, or the agent itself', async () => {
    const pidFile = join(dir, 'bad.pid');
    for (const [content, error] of [
      ['0\n', 'does not hold a process id'],
      ['-1\n', 'does not hold a process id'],
      ['12abc', 'does not hold a process id'],
      [`${process.pid}\n`, 'names the agent itself'],
    ] as const) {
      writeFileSync(pidFile, content);
      const { r } = reloader({ signal: 'SIGHUP', pidFile });
      r.notify();
      await until(() => r.status().attempts >= 1);
      expect(r.status().lastError).toBe(`signal: pidFile ${pidFile} ${error}`);
      r.close();
    }
  });
});

describe('signal to a process found by name (shared process namespace)', () => {
  it('matches /proc/<pid>/comm: the name of the executable the consumer runs', async () => {
    const name = `ksr${process.pid % 100_000}c`; // ≤ 15 bytes: comm is cut there
    const exe = join(dir, name);
    symlinkSync(process.execPath, exe);
    // argv[0] is set to something else, so only comm can match.
    const consumer = await startConsumer({ exe, argv0: 'node' });
    expect(readFileSync(`/proc/${consumer.pid}/comm`, 'utf8').trim()).toBe(name);
    const { r } = reloader({ signal: 'SIGHUP', processName: name });
    r.notify();
    await consumer.waitForHups(1);
    await r.idle();
    expect(r.status().ok).toBe(true);
  });

  it('matches the basename of argv[0] (exec -a, spawn argv0), even past comm’s 15 bytes', async () => {
    const name = `keysafe-argv0-consumer-${process.pid}`;
    const consumer = await startConsumer({ argv0: `/opt/app/bin/${name}` });
    const other = await startConsumer(); // plain `node`: must not be signalled
    const { r } = reloader({ signal: 'SIGHUP', processName: name });
    r.notify();
    await consumer.waitForHups(1);
    await r.idle();
    await new Promise((ok) => setTimeout(ok, 50));
    expect(other.hups).toHaveLength(0);
  });

  it('fails visibly when no process has the name, and keeps retrying', async () => {
    const { r } = reloader({ signal: 'SIGHUP', processName: 'keysafe-no-such-process' });
    r.notify();
    await until(() => r.status().attempts >= 2);
    expect(r.status()).toMatchObject({
      ok: false,
      pending: true,
      lastError: 'signal: no process named keysafe-no-such-process',
    });
  });

  it('never matches kernel threads or zombies, and matches comm or argv[0] exactly', () => {
    expect(processMatches('nginx', 'nginx\n', 'nginx: master process nginx -g daemon off;')).toBe(true);
    expect(processMatches('nginx', 'node\n', '/usr/sbin/nginx\0-g\0daemon off;\0')).toBe(true);
    expect(processMatches('kthreadd', 'kthreadd\n', '')).toBe(false);
    expect(processMatches('nginx', 'nginx-debug\n', 'nginx-debug\0')).toBe(false);
    expect(processMatches('app', 'node\n', '/srv/app.js\0')).toBe(false);
  });
});

describe('command', () => {
  it('runs the argv without a shell: metacharacters arrive verbatim', async () => {
    const marker = join(dir, 'marker-verbatim');
    const arg = '$(touch pwned); `id` *';
    const { r } = reloader({
      command: [
        process.execPath,
        '-e',
        'require("fs").appendFileSync(process.argv[1], process.argv[2] + "\\n")',
        marker,
        arg,
      ],
    });
    r.notify();
    await r.idle();
    expect(readFileSync(marker, 'utf8')).toBe(`${arg}\n`);
    expect(existsSync(join(process.cwd(), 'pwned'))).toBe(false);
    expect(r.status()).toMatchObject({ ok: true, reloads: 1 });
  });

  it('treats a non-zero exit as a failure and retries until the command succeeds', async () => {
    const marker = join(dir, 'marker-retry');
    const failFlag = join(dir, 'fail-flag');
    writeFileSync(failFlag, '');
    const script = `const fs = require('fs');
if (fs.existsSync(process.argv[1])) process.exit(3);
fs.appendFileSync(process.argv[2], 'reloaded\\n');`;
    const { r, logs } = reloader({ command: [process.execPath, '-e', script, failFlag, marker] });
    r.notify();
    await until(() => r.status().attempts >= 2);
    expect(r.status()).toMatchObject({ ok: false, lastError: `command: ${process.execPath} exited with code 3` });
    unlinkSync(failFlag);
    await r.idle();
    expect(readFileSync(marker, 'utf8')).toBe('reloaded\n');
    expect(r.status()).toMatchObject({ ok: true, attempts: 0, reloads: 1 });
    expect(logs.some((l) => l.includes('"consumer reloaded"'))).toBe(true);
  });

  it('kills a command that outlives its timeout, with what it started', async () => {
    const sleeperPid = join(dir, 'sleeper.pid');
    const { r } = reloader(
      { command: ['/bin/sh', '-c', `sleep 30 & echo $! > ${sleeperPid}; wait`] },
      { commandTimeoutMs: 300, retry: { baseMs: 60_000, capMs: 60_000 } },
    );
    r.notify();
    await until(() => r.status().attempts >= 1);
    expect(r.status().lastError).toBe('command: /bin/sh did not finish within 300 ms');
    const pid = Number(readFileSync(sleeperPid, 'utf8'));
    // The grandchild is gone (or a zombie awaiting its reaper): it was in the killed process group.
    await until(() => !existsSync(`/proc/${pid}`) || /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
  });

  it('reports a command that cannot be started', async () => {
    const { r } = reloader({ command: [join(dir, 'no-such-binary')] }, { retry: { baseMs: 60_000, capMs: 60_000 } });
    r.notify();
    await until(() => r.status().attempts >= 1);
    expect(r.status().lastError).toBe(`command: cannot run ${join(dir, 'no-such-binary')} (ENOENT)`);
  });
});

describe('HTTP hook', () => {
  it('POSTs to the hook; two failures are retried with backoff and the third succeeds', async () => {
    const hook = await startHook([500, 503]);
    const { r, logs } = reloader({ http: hook.url });
    r.notify();
    await r.idle();
    expect(hook.requests.map((q) => `${q.method} ${q.url}`)).toEqual(Array(3).fill('POST /-/reload'));
    expect(r.status()).toMatchObject({ ok: true, attempts: 0, reloads: 1, failures: 2, lastError: undefined });
    const failures = logs.filter((l) => l.includes('"consumer reload failed; retrying"'));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toContain(`POST http://127.0.0.1:${hook.port}/-/reload answered 500`);
    expect(failures[1]).toContain('"attempt":2');
  });

  it('is ok only after a 2xx: a redirect is a failure too', async () => {
    const hook = await startHook([302, 204]);
    const { r } = reloader({ http: hook.url });
    r.notify();
    await r.idle();
    expect(hook.requests).toHaveLength(2);
    expect(r.status()).toMatchObject({ ok: true, failures: 1 });
  });

  it('sends URL credentials as Basic auth and logs neither them nor the query', async () => {
    const hook = await startHook([500]);
    const { port } = hook;
    const { r, logs } = reloader({ http: `http://reloader:pw-S3cr3t@127.0.0.1:${port}/-/reload?token=q-T0ken` });
    r.notify();
    await r.idle();
    expect(hook.requests[1]).toMatchObject({
      url: '/-/reload?token=q-T0ken',
      authorization: `Basic ${Buffer.from('reloader:pw-S3cr3t').toString('base64')}`,
    });
    const logged = logs.join('\n');
    expect(logged).toContain(`POST http://127.0.0.1:${port}/-/reload answered 500`);
    expect(logged).not.toContain('pw-S3cr3t');
    expect(logged).not.toContain('q-T0ken');
  });

  it('gives up on a hook that does not answer within the timeout', async () => {
    const hook = await startHook([], { hang: true });
    const { r } = reloader({ http: hook.url }, { httpTimeoutMs: 150, retry: { baseMs: 60_000, capMs: 60_000 } });
    r.notify();
    await until(() => r.status().attempts >= 1);
    expect(r.status().lastError).toBe(`http: POST ${hook.url} did not answer within 150 ms`);
  });
});

describe('debounce', () => {
  it('turns 10 notify() calls within 5 ms into exactly 2 reloads: one at once, one at the window’s end', async () => {
    const hook = await startHook();
    const { r } = reloader({ http: hook.url, debounceMs: 250 });
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) {
      r.notify();
      await new Promise((ok) => setImmediate(ok));
    }
    expect(performance.now() - t0).toBeLessThan(50);
    await r.idle();
    await new Promise((ok) => setTimeout(ok, 350)); // nothing else comes later
    expect(hook.requests).toHaveLength(2);
    const [first, second] = hook.requests.map((q) => q.at - t0) as [number, number];
    expect(first).toBeLessThan(100);
    expect(second).toBeGreaterThanOrEqual(240);
    expect(r.status()).toMatchObject({ ok: true, reloads: 2, pending: false });
    // After a quiet window, the next change reloads at once again.
    const t1 = performance.now();
    r.notify();
    await r.idle();
    expect(hook.requests).toHaveLength(3);
    expect(hook.requests[2]!.at - t1).toBeLessThan(100);
  });

  it('sends one signal per reload to the consumer, immediate then trailing', async () => {
    const pidFile = join(dir, 'debounce.pid');
    const consumer = await startConsumer({ pidFile });
    const { r } = reloader({ signal: 'SIGHUP', pidFile, debounceMs: 200 });
    for (let i = 0; i < 10; i++) r.notify();
    await consumer.waitForHups(1);
    expect(r.status().pending).toBe(true);
    await r.idle();
    await consumer.waitForHups(2);
    await new Promise((ok) => setTimeout(ok, 250));
    expect(consumer.hups).toHaveLength(2);
    expect(consumer.hups[1]! - consumer.hups[0]!).toBeGreaterThanOrEqual(150);
  });
});

describe('retry and supersession', () => {
  it('a newer change supersedes a failed reload waiting on its backoff', async () => {
    const hook = await startHook([500]);
    const sleeps: number[] = [];
    // A backoff that never ends by itself: only the new change can move the reloader on.
    const { r } = reloader(
      { http: hook.url },
      {
        sleep: (ms: number) => {
          sleeps.push(ms);
          return new Promise(() => {});
        },
      },
    );
    r.notify();
    await until(() => r.status().attempts === 1);
    expect(sleeps).toHaveLength(1);
    r.notify();
    await r.idle();
    expect(hook.requests).toHaveLength(2);
    expect(r.status()).toMatchObject({ ok: true, attempts: 0, reloads: 1, failures: 1 });
  });

  it('retries only the targets that failed', async () => {
    const pidFile = join(dir, 'partial.pid');
    const consumer = await startConsumer({ pidFile });
    const hook = await startHook([500, 500]);
    const { r } = reloader({ signal: 'SIGHUP', pidFile, http: hook.url });
    r.notify();
    await r.idle();
    expect(hook.requests).toHaveLength(3);
    await new Promise((ok) => setTimeout(ok, 50));
    expect(consumer.hups).toHaveLength(1);
    expect(r.status()).toMatchObject({ ok: true, failures: 2, reloads: 1 });
  });

  it('close() stops retrying and releases idle()', async () => {
    const hook = await startHook([500, 500, 500, 500, 500, 500]);
    const { r } = reloader({ http: hook.url }, { retry: { baseMs: 200, capMs: 200 } });
    r.notify();
    await until(() => r.status().attempts === 1);
    r.close();
    await r.idle();
    const seen = hook.requests.length;
    await new Promise((ok) => setTimeout(ok, 300));
    expect(hook.requests.length).toBe(seen);
    expect(r.status().pending).toBe(false);
    r.notify(); // ignored after close
    expect(r.status().pending).toBe(false);
  });
});

describe('configuration', () => {
  it('refuses what cannot work, naming the key', () => {
    const make = (o: Partial<ReloadOptions>) => () =>
      createReloader({ debounceMs: 0, ...o }, { logger: createLogger('error', () => {}) });
    expect(make({ signal: 'SIGHUP' })).toThrow(
      new ConfigError('onChange.signal: needs onChange.pidFile or onChange.processName to say whom to signal'),
    );
    expect(make({ signal: 'SIGNOPE' as NodeJS.Signals, pidFile: '/run/x.pid' })).toThrow(/^onChange\.signal: /);
    expect(make({ command: [] })).toThrow(/^onChange\.command: /);
    expect(make({ http: 'not a url' })).toThrow(/^onChange\.http: /);
    expect(make({ http: 'file:///etc/passwd' })).toThrow(/^onChange\.http: /);
    expect(make({ processName: 'a/b' })).toThrow(/^onChange\.processName: /);
    expect(make({ debounceMs: -1 })).toThrow(/^onChange\.debounceMs: /);
  });

  it('does nothing without targets', async () => {
    const { r } = reloader({});
    r.notify();
    await r.idle();
    expect(r.status()).toMatchObject({ ok: true, pending: false, reloads: 0 });
  });

  it('parses pid files strictly: a positive decimal only', () => {
    expect(parsePid(' 42\n')).toBe(42);
    for (const bad of ['', '0', '-1', '4 2', '42abc', '0x10', '99999999999', '1.5'])
      expect(parsePid(bad)).toBeUndefined();
  });
});
