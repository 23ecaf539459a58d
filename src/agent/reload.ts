// Reloads the consumer after a change is written: signal, command and HTTP hooks, debounced, retried with backoff.
//
// Timing contract (the rotation → reload latency goal is p99 < 50 ms): the first notify() after a quiet
// period reloads at once, with no timer on that path. Further notify() calls within `debounceMs` of a
// reload's start coalesce into one trailing reload at the window's end. A failed reload is retried with
// the project's one backoff policy (full jitter, capped) until it succeeds, or until a newer change
// supersedes it (the newer change reloads every target anyway, at the end of its debounce window).
//
// Nothing here ever logs or reports secret values: reload hooks are config, and a hook's output is not read.
import { ConfigError } from '../core/config-error.js';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from '../core/retry.js';
import type { Logger } from '../observability/logger.js';
import { type ReloadOptions, type ReloadTarget, reloadTargets, runAll, type TargetDeps } from './reload-targets.js';

export { parsePid, processMatches, RELOAD_DEFAULTS, type ReloadOptions } from './reload-targets.js';

export interface ReloaderDeps extends TargetDeps {
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Backoff between retries of a failed reload; attempts are unlimited here. Default: the project's. */
  retry?: Pick<RetryPolicy, 'baseMs' | 'capMs'>;
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

export function createReloader(options: ReloadOptions, deps: ReloaderDeps): Reloader {
  const targets = reloadTargets(options, deps);
  if (!Number.isFinite(options.debounceMs) || options.debounceMs < 0) {
    throw new ConfigError('onChange.debounceMs: must be a number of milliseconds >= 0');
  }
  return new ConsumerReloader(targets, options.debounceMs, deps);
}

class ConsumerReloader implements Reloader {
  readonly #abort = new AbortController();
  readonly #now: () => number;
  readonly #policy: Pick<RetryPolicy, 'baseMs' | 'capMs'>;
  #ok = true;
  #lastReloadAt: number | undefined;
  #lastError: string | undefined;
  #attempts = 0;
  #reloads = 0;
  #failures = 0;
  /** Bumped by every notify(). */
  #changes = 0;
  /** The change the current (or last) reload answers. */
  #reloadingFor = 0;
  /** A new change before this waits: the debounce window. */
  #windowEnd = Number.NEGATIVE_INFINITY;
  #running = false;
  #closed = false;
  #wakeOnChange: (() => void) | undefined;
  #wakeOnClose: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(
    private readonly targets: readonly ReloadTarget[],
    private readonly debounceMs: number,
    private readonly deps: ReloaderDeps,
  ) {
    this.#now = deps.now ?? Date.now;
    this.#policy = deps.retry ?? DEFAULT_RETRY;
  }

  notify(): void {
    if (this.#closed || this.targets.length === 0) return;
    this.#changes++;
    if (!this.#running) void this.#pump();
    else this.#wakeOnChange?.();
  }

  status(): ReloadStatus {
    return {
      ok: this.#ok,
      lastReloadAt: this.#lastReloadAt,
      lastError: this.#lastError,
      attempts: this.#attempts,
      pending: this.#running,
      reloads: this.#reloads,
      failures: this.#failures,
    };
  }

  idle(): Promise<void> {
    return this.#running ? new Promise<void>((resolve) => this.#idleWaiters.push(resolve)) : Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#wakeOnClose?.();
  }

  async #pump(): Promise<void> {
    this.#running = true;
    let pending: readonly ReloadTarget[] = [];
    try {
      while (!this.#closed) {
        if (this.#changes > this.#reloadingFor) {
          // A change not yet reloaded: wait out the window of the previous reload, then reload everything.
          if (!(await this.#openWindow())) break;
          pending = this.targets;
        } else if (pending.length === 0) {
          break;
        }
        const started = this.#now();
        const failed = await runAll(pending, this.#abort.signal);
        if (this.#closed) break;
        pending = failed.length === 0 ? this.#succeeded(started) : await this.#failed(failed);
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Waits out the previous reload's debounce window and opens the next; false when closed meanwhile. */
  async #openWindow(): Promise<boolean> {
    const wait = this.#windowEnd - this.#now();
    if (wait > 0) {
      await this.#pause(wait, false);
      if (this.#closed) return false;
    }
    this.#reloadingFor = this.#changes;
    this.#windowEnd = this.#now() + this.debounceMs;
    return true;
  }

  /** Every pending target reloaded: nothing is left to retry. */
  #succeeded(started: number): ReloadTarget[] {
    this.#reloads++;
    this.#ok = true;
    this.#lastError = undefined;
    this.#lastReloadAt = this.#now();
    this.deps.logger.info('consumer reloaded', {
      targets: this.targets.map((t) => t.name).join(','),
      attempt: this.#attempts + 1,
      ms: this.#now() - started,
    });
    this.#attempts = 0;
    return [];
  }

  /** Records the failure and waits before retrying (unless a newer change supersedes it); the targets to retry. */
  async #failed(failed: readonly { target: ReloadTarget; reason: string }[]): Promise<ReloadTarget[]> {
    const { logger } = this.deps;
    this.#failures++;
    this.#attempts++;
    this.#ok = false;
    const error = failed.map((f) => `${f.target.name}: ${f.reason}`).join('; ');
    this.#lastError = error;
    const retry = failed.map((f) => f.target); // a retry repeats only what failed
    if (this.#changes > this.#reloadingFor) {
      logger.warn('consumer reload failed; a newer change supersedes the retry', { error, attempt: this.#attempts });
      return retry;
    }
    const delay = Math.round(backoffDelay(this.#attempts - 1, this.#policy));
    logger.warn('consumer reload failed; retrying', { error, attempt: this.#attempts, retryInMs: delay });
    await this.#pause(delay, true);
    return retry;
  }

  /** Waits `ms`; close() always cuts it short, a new change too when `wakeable`. */
  #pause(ms: number, wakeable: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        if (this.#wakeOnClose === done) this.#wakeOnClose = undefined;
        if (this.#wakeOnChange === done) this.#wakeOnChange = undefined;
        resolve();
      };
      if (this.deps.sleep) void this.deps.sleep(ms).then(done);
      else timer = setTimeout(done, ms);
      this.#wakeOnClose = done;
      if (wakeable) this.#wakeOnChange = done;
    });
  }
}
