// Watch: follows the server's change stream, reconnecting with backoff, and a slow poll as its fallback.
//
// Propagation has no timer in its path: a change event → fetch → render → file swap → reload. The slow
// poll only backs up a stream that broke in a way nobody noticed.
import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelay, type RetryPolicy } from '../core/retry.js';
import type { Logger } from '../observability/logger.js';
import type { ChangeEvent, ServerClient, WatchMessage } from './client.js';
import { explain, isSessionRefused } from './explain.js';
import type { AgentHealth } from './health.js';
import type { WorkloadSession } from './session.js';
import type { SecretSync } from './sync.js';

/** Reconnect backoff for the watch stream: capped at a second, to catch up within one of the server's return. */
export const RECONNECT = { baseMs: 100, capMs: 1_000 };

export interface WatchDeps {
  client: Pick<ServerClient, 'watch' | 'server'>;
  session: Pick<WorkloadSession, 'token' | 'invalidate'>;
  sync: Pick<SecretSync, 'refresh' | 'configuredIds' | 'isCurrent'>;
  /** Every secret kept current: the configured ones, then those asked for on demand. */
  keptIds: () => string[];
  health: Pick<AgentHealth, 'fail' | 'streamUp' | 'streamDown'>;
  logger: Logger;
  pollIntervalMs: number;
  /** Backoff between reconnects (default RECONNECT). */
  reconnect?: Pick<RetryPolicy, 'baseMs' | 'capMs'>;
}

export class ChangeWatch {
  /** The last change applied: a reconnect resumes after it. Undefined until the first hello. */
  #cursor: number | undefined;
  /** The stream open now; aborted to reconnect with a new session. */
  #stream: AbortController | undefined;
  #poll: NodeJS.Timeout | undefined;
  #following: Promise<void> = Promise.resolve();
  readonly #stop = new AbortController();

  constructor(private readonly deps: WatchDeps) {}

  /** Starts the slow poll, and follows the stream until stop(). */
  start(): void {
    this.#poll = setInterval(() => void this.deps.sync.refresh(this.deps.keptIds()), this.deps.pollIntervalMs);
    this.#poll.unref();
    this.#following = this.#follow();
  }

  /** Drops the open stream: the next one is opened at once, with the session as it is now. */
  reconnect(): void {
    this.#stream?.abort();
  }

  /** Resolves once the stream is closed. */
  stop(): Promise<void> {
    this.#stop.abort();
    clearInterval(this.#poll);
    return this.#following;
  }

  async #follow(): Promise<void> {
    const { client, session, health, logger } = this.deps;
    const stopping = this.#stop.signal;
    for (let attempt = 0; !stopping.aborted; ) {
      const stream = new AbortController();
      this.#stream = stream;
      const onStop = () => stream.abort();
      stopping.addEventListener('abort', onStop);
      try {
        await client.watch(await session.token(), this.#cursor, (m) => this.#handle(m), stream.signal);
        attempt = 0; // the server ended the stream (session over): reconnect at once
      } catch (e) {
        const error = explain(e);
        health.fail(error);
        if (!stopping.aborted) logger.warn('watch stream lost; reconnecting', { server: client.server, error });
        if (isSessionRefused(e)) session.invalidate();
        attempt++;
      } finally {
        stopping.removeEventListener('abort', onStop);
        health.streamDown();
      }
      if (attempt > 0) await this.#sleep(backoffDelay(Math.min(attempt, 8), this.deps.reconnect ?? RECONNECT));
    }
  }

  async #handle(m: WatchMessage): Promise<void> {
    const { sync } = this.deps;
    if (m.kind === 'hello') {
      const resumed = this.#cursor !== undefined;
      this.deps.health.streamUp();
      this.#cursor = m.cursor;
      // First connection: load everything now that no change can slip between load and stream.
      // A resumed stream replays what it missed, so only values we never got are loaded.
      const missing = sync.configuredIds().filter((id) => !resumed || !sync.isCurrent(id));
      if (missing.length > 0) await sync.refresh(missing);
      return;
    }
    if (m.kind === 'reset') {
      this.#cursor = m.cursor;
      await sync.refresh(this.deps.keptIds());
      return;
    }
    const ids = affected(this.deps.keptIds(), m.event);
    if (ids.length > 0) await sync.refresh(ids);
    this.#cursor = m.event.cursor;
  }

  /** Cut short when the agent stops; no listener outlives its wait. */
  #sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.#stop.signal }).catch(() => undefined);
  }
}

/** The kept secrets a change event is about: by name, by ARN, or by the partial ARN before its suffix. */
function affected(ids: readonly string[], event: ChangeEvent): string[] {
  return ids.filter((id) => id === event.name || id === event.arn || event.arn.startsWith(`${id}-`));
}
