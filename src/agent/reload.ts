// Reloads the consumer after a change is written: signal, command and HTTP hooks, debounced, retried with backoff.
//
// Timing contract (the rotation → reload latency goal is p99 < 50 ms): the first notify() after a quiet
// period reloads at once, with no timer on that path. Further notify() calls within `debounceMs` of a
// reload's start coalesce into one trailing reload at the window's end. A failed reload is retried with
// the project's one backoff policy (full jitter, capped) until it succeeds, or until a newer change
// supersedes it (the newer change reloads every target anyway, at the end of its debounce window).
//
// Nothing here ever logs or reports secret values: reload hooks are config, and a hook's output is not read.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { basename } from 'node:path';
import { HttpTimeoutError } from '../client/errors.js';
import { type HttpResponse, send } from '../client/http.js';
import { ConfigError } from '../core/config-error.js';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from '../core/retry.js';
import type { Logger } from '../observability/logger.js';

/** The `onChange` part of the agent config. Every configured target is reloaded on each change. */
export interface ReloadOptions {
  /** Signal sent to the pid in `pidFile` and/or to the processes named `processName` (default SIGHUP). */
  signal?: NodeJS.Signals;
  pidFile?: string;
  /** Matched against /proc/<pid>/comm and the basename of argv[0] (shared process namespace). */
  processName?: string;
  /** argv, run without a shell; a non-zero exit or a timeout is a failure. */
  command?: string[];
  /** URL POSTed to; a non-2xx answer or a timeout is a failure. */
  http?: string;
  debounceMs: number;
}

export interface ReloaderDeps {
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Backoff between retries of a failed reload; attempts are unlimited here. Default: the project's. */
  retry?: Pick<RetryPolicy, 'baseMs' | 'capMs'>;
  commandTimeoutMs?: number;
  httpTimeoutMs?: number;
  /** Where to look for processes by name; only tests change it. */
  procDir?: string;
}

export interface ReloadStatus {
  /** False while the last reload attempt failed and is being retried. */
  ok: boolean;
  /** When every target last reloaded successfully. */
  lastReloadAt?: number;
  /** Why the last attempt failed (target and reason; never a secret value). Cleared on success. */
  lastError?: string;
  /** Consecutive failed attempts for the current change; 0 when ok. */
  attempts: number;
  /** A reload is running, waiting for its debounce window, or waiting to retry. */
  pending: boolean;
  /** Successful reloads and failed attempts since start, for metrics. */
  reloads: number;
  failures: number;
}

export interface Reloader {
  /** Files of a change are in place: reload the consumer (at once, or coalesced into a trailing reload). */
  notify(): void;
  status(): ReloadStatus;
  /** Resolves when nothing is pending (or the reloader is closed). */
  idle(): Promise<void>;
  /** Stops timers and retries; aborts a running command or HTTP request. */
  close(): void;
}

export const RELOAD_DEFAULTS = {
  signal: 'SIGHUP' as NodeJS.Signals,
  commandTimeoutMs: 30_000,
  httpTimeoutMs: 5_000,
} as const;

/** One way of telling the consumer; `run` rejects with a message that is safe to log. */
interface ReloadTarget {
  readonly name: 'signal' | 'command' | 'http';
  run(abort: AbortSignal): Promise<void>;
}

export function createReloader(options: ReloadOptions, deps: ReloaderDeps): Reloader {
  const targets = reloadTargets(options, deps);
  const { logger } = deps;
  const now = deps.now ?? Date.now;
  const policy = deps.retry ?? DEFAULT_RETRY;
  const debounceMs = options.debounceMs;
  if (!Number.isFinite(debounceMs) || debounceMs < 0) {
    throw new ConfigError('onChange.debounceMs: must be a number of milliseconds >= 0');
  }

  const abort = new AbortController();
  const stats = { ok: true, lastReloadAt: undefined as number | undefined, lastError: undefined as string | undefined };
  let attempts = 0;
  let reloads = 0;
  let failures = 0;
  let changes = 0; // bumped by every notify()
  let reloadingFor = 0; // the change the current (or last) reload answers
  let windowEnd = Number.NEGATIVE_INFINITY; // a new change before this waits: the debounce window
  let running = false;
  let closed = false;
  let wakeOnChange: (() => void) | undefined;
  let wakeOnClose: (() => void) | undefined;
  let idleWaiters: (() => void)[] = [];

  /** Waits `ms`; close() always cuts it short, a new change too when `wakeable`. */
  const pause = (ms: number, wakeable: boolean) =>
    new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        if (wakeOnClose === done) wakeOnClose = undefined;
        if (wakeOnChange === done) wakeOnChange = undefined;
        resolve();
      };
      if (deps.sleep) void deps.sleep(ms).then(done);
      else timer = setTimeout(done, ms);
      wakeOnClose = done;
      if (wakeable) wakeOnChange = done;
    });

  const pump = async () => {
    running = true;
    let pendingTargets: readonly ReloadTarget[] = [];
    try {
      while (!closed) {
        if (changes > reloadingFor) {
          // A change not yet reloaded: wait out the window of the previous reload, then reload everything.
          const wait = windowEnd - now();
          if (wait > 0) {
            await pause(wait, false);
            if (closed) break;
          }
          reloadingFor = changes;
          windowEnd = now() + debounceMs;
          pendingTargets = targets;
        } else if (pendingTargets.length === 0) {
          break;
        }
        const started = now();
        const failed = await runAll(pendingTargets, abort.signal);
        if (closed) break;
        if (failed.length === 0) {
          reloads++;
          stats.ok = true;
          stats.lastError = undefined;
          stats.lastReloadAt = now();
          logger.info('consumer reloaded', {
            targets: targets.map((t) => t.name).join(','),
            attempt: attempts + 1,
            ms: now() - started,
          });
          attempts = 0;
          pendingTargets = [];
          continue;
        }
        failures++;
        attempts++;
        stats.ok = false;
        stats.lastError = failed.map((f) => `${f.target.name}: ${f.reason}`).join('; ');
        pendingTargets = failed.map((f) => f.target); // a retry repeats only what failed
        if (changes > reloadingFor) {
          logger.warn('consumer reload failed; a newer change supersedes the retry', {
            error: stats.lastError,
            attempt: attempts,
          });
          continue;
        }
        const delay = Math.round(backoffDelay(attempts - 1, policy));
        logger.warn('consumer reload failed; retrying', {
          error: stats.lastError,
          attempt: attempts,
          retryInMs: delay,
        });
        await pause(delay, true);
      }
    } finally {
      running = false;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  return {
    notify() {
      if (closed || targets.length === 0) return;
      changes++;
      if (!running) void pump();
      else wakeOnChange?.();
    },
    status() {
      return { ...stats, attempts, pending: running, reloads, failures };
    },
    idle() {
      return running ? new Promise<void>((resolve) => idleWaiters.push(resolve)) : Promise.resolve();
    },
    close() {
      if (closed) return;
      closed = true;
      abort.abort();
      wakeOnClose?.();
    },
  };
}

async function runAll(
  targets: readonly ReloadTarget[],
  abort: AbortSignal,
): Promise<{ target: ReloadTarget; reason: string }[]> {
  const results = await Promise.all(
    targets.map((target) =>
      target.run(abort).then(
        () => undefined,
        (e: unknown) => ({ target, reason: e instanceof ReloadFailure ? e.message : 'unexpected error' }),
      ),
    ),
  );
  return results.filter((r) => r !== undefined);
}

/** A reload that did not happen; the message names the target and the cause, never a secret. */
class ReloadFailure extends Error {
  override readonly name = 'ReloadFailure';
}

function reloadTargets(options: ReloadOptions, deps: ReloaderDeps): ReloadTarget[] {
  const targets: ReloadTarget[] = [];
  if (options.pidFile !== undefined || options.processName !== undefined) {
    targets.push(signalTarget(options, deps.procDir ?? '/proc'));
  } else if (options.signal !== undefined) {
    throw new ConfigError('onChange.signal: needs onChange.pidFile or onChange.processName to say whom to signal');
  }
  if (options.command !== undefined) {
    targets.push(commandTarget(options.command, deps.commandTimeoutMs ?? RELOAD_DEFAULTS.commandTimeoutMs));
  }
  if (options.http !== undefined)
    targets.push(httpTarget(options.http, deps.httpTimeoutMs ?? RELOAD_DEFAULTS.httpTimeoutMs));
  return targets;
}

// --- signal ------------------------------------------------------------------------------------

function signalTarget(options: ReloadOptions, procDir: string): ReloadTarget {
  const signal = options.signal ?? RELOAD_DEFAULTS.signal;
  if (!(signal in osConstants.signals)) throw new ConfigError(`onChange.signal: ${signal} is not a signal name`);
  const { pidFile, processName } = options;
  if (pidFile !== undefined && pidFile === '') throw new ConfigError('onChange.pidFile: must not be empty');
  if (processName !== undefined && (processName === '' || processName.includes('/'))) {
    throw new ConfigError('onChange.processName: a process name without "/"');
  }
  return {
    name: 'signal',
    async run() {
      // The pid is read at reload time: the consumer may have restarted since the last change.
      const pids = new Set<number>();
      if (pidFile !== undefined) pids.add(await readPidFile(pidFile));
      if (processName !== undefined) {
        const found = await findProcesses(processName, procDir);
        if (found.length === 0) throw new ReloadFailure(`no process named ${processName}`);
        for (const pid of found) pids.add(pid);
      }
      const errors: string[] = [];
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch (e) {
          errors.push(`cannot send ${signal} to pid ${pid} (${errnoCode(e)})`);
        }
      }
      if (errors.length > 0) throw new ReloadFailure(errors.join(', '));
    },
  };
}

async function readPidFile(path: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ReloadFailure(`cannot read pidFile ${path} (${errnoCode(e)})`);
  }
  const pid = parsePid(text);
  if (pid === undefined) throw new ReloadFailure(`pidFile ${path} does not hold a process id`);
  if (pid === process.pid) throw new ReloadFailure(`pidFile ${path} names the agent itself`);
  return pid;
}

/**
 * The pid in a pid file's text, or undefined. Only a positive decimal: kill(2) with 0 or a negative
 * number signals a whole process group (-1: every process we may signal), never what a pid file means.
 */
export function parsePid(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^[1-9][0-9]{0,9}$/.test(trimmed)) return undefined;
  const pid = Number(trimmed);
  return pid <= 0x3fffffff ? pid : undefined; // PID_MAX_LIMIT is 2^22; anything near 2^31 is garbage
}

/**
 * True when a /proc entry is the process named `name`: its comm (the executable's file name, cut to
 * 15 bytes by the kernel) or the basename of its argv[0] (what `exec -a` or spawn's argv0 set) equals it.
 * Kernel threads and zombies have an empty cmdline and never match.
 */
export function processMatches(name: string, comm: string, cmdline: string): boolean {
  const nul = cmdline.indexOf('\0');
  const argv0 = nul === -1 ? cmdline : cmdline.slice(0, nul);
  if (argv0 === '') return false;
  const commName = comm.endsWith('\n') ? comm.slice(0, -1) : comm;
  return commName === name || basename(argv0) === name;
}

async function findProcesses(name: string, procDir: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir(procDir);
  } catch (e) {
    throw new ReloadFailure(`cannot list processes in ${procDir} (${errnoCode(e)})`);
  }
  const candidates = entries.filter((e) => /^[1-9][0-9]*$/.test(e) && Number(e) !== process.pid);
  const matches = await Promise.all(
    candidates.map(async (entry) => {
      try {
        const [comm, cmdline] = await Promise.all([
          readFile(`${procDir}/${entry}/comm`, 'utf8'),
          readFile(`${procDir}/${entry}/cmdline`, 'utf8'),
        ]);
        return processMatches(name, comm, cmdline) ? Number(entry) : undefined;
      } catch {
        return undefined; // exited while we looked, or not ours to read
      }
    }),
  );
  return matches.filter((pid) => pid !== undefined);
}

// --- command -----------------------------------------------------------------------------------

function commandTarget(argv: string[], timeoutMs: number): ReloadTarget {
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string') || argv[0] === '') {
    throw new ConfigError('onChange.command: a non-empty list of strings (argv, run without a shell)');
  }
  const [file, ...args] = argv as [string, ...string[]];
  return {
    name: 'command',
    run(abort) {
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        let timedOut = false;
        let child: ChildProcess;
        const settle = (error?: string) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          abort.removeEventListener('abort', onAbort);
          if (error === undefined) resolve();
          else reject(new ReloadFailure(error));
        };
        // Its own process group, so a timeout also kills what a `sh -c` started. Output is not read:
        // a hook may print anything, including the secret it just reloaded.
        try {
          child = spawn(file, args, { stdio: 'ignore', detached: true });
        } catch (e) {
          reject(new ReloadFailure(`cannot run ${file} (${errnoCode(e)})`));
          return;
        }
        const killGroup = () => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        };
        const timer = setTimeout(() => {
          timedOut = true;
          killGroup();
        }, timeoutMs);
        const onAbort = () => killGroup();
        abort.addEventListener('abort', onAbort);
        child.on('error', (e) => settle(`cannot run ${file} (${errnoCode(e)})`));
        child.on('exit', (code, sig) => {
          if (timedOut) settle(`${file} did not finish within ${timeoutMs} ms`);
          else if (code === 0) settle();
          else if (sig) settle(`${file} was killed by ${sig}`);
          else settle(`${file} exited with code ${code}`);
        });
      });
    },
  };
}

// --- http --------------------------------------------------------------------------------------

function httpTarget(address: string, timeoutMs: number): ReloadTarget {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new ConfigError('onChange.http: not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('onChange.http: an http(s) URL');
  // Credentials in the URL go as Basic auth, taken out of the URL itself. Logs name only origin and path,
  // since the userinfo or the query may carry a token.
  const headers: Record<string, string> = { 'user-agent': 'keysafe-agent' };
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const shown = `${url.origin}${url.pathname}`;
  return {
    name: 'http',
    async run(abort) {
      let res: HttpResponse;
      try {
        // A redirect is an answer like any other non-2xx: a failure, not followed.
        res = await send(url, { method: 'POST', headers, redirect: 'manual', signal: abort, timeoutMs });
      } catch (e) {
        if (e instanceof HttpTimeoutError)
          throw new ReloadFailure(`POST ${shown} did not answer within ${timeoutMs} ms`);
        throw new ReloadFailure(`POST ${shown} failed (${errnoCode(e)})`);
      }
      res.discard();
      if (res.status < 200 || res.status > 299) throw new ReloadFailure(`POST ${shown} answered ${res.status}`);
    },
  };
}

/** A system error's code (ENOENT, ECONNREFUSED…); messages may quote file contents or URLs, codes never do. */
function errnoCode(e: unknown): string {
  let cur: unknown = e;
  for (let depth = 0; depth < 3 && cur instanceof Error; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = cur.cause;
  }
  return e instanceof Error ? e.name : 'unknown error';
}
