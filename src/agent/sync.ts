// Sync: fetches and decrypts the agent's secrets, renders their files, swaps the file set, and reloads the
// consumer when a file changed. What a fault left undone (a failed fetch, files not written, files removed
// behind the agent's back) is redone with backoff; meanwhile the last good values stay on disk.
import { stat } from 'node:fs/promises';
import { backoffDelay, TransientError } from '../core/retry.js';
import type { SecretValue } from '../core/secret-value.js';
import type { Logger } from '../observability/logger.js';
import type { FetchedSecret, ServerClient } from './client.js';
import type { AgentSecretConfig } from './config.js';
import { explain, isSessionRefused } from './explain.js';
import { writeFileSet } from './file-set.js';
import type { AgentHealth } from './health.js';
import type { Reloader } from './reload.js';
import { cachedSecret, type SecretCache } from './secret-cache.js';
import { renderAll, secretValueOf } from './secret-files.js';
import type { WorkloadSession } from './session.js';

/** Backoff for redoing what a fault left undone (a failed fetch, files not written). */
const REPAIR = { baseMs: 500, capMs: 5_000 };
/** How often the agent checks that the files it wrote are still there. */
const FILE_CHECK_MS = 1_000;

export interface SyncDeps {
  secrets: readonly AgentSecretConfig[];
  client: Pick<ServerClient, 'getSecret'>;
  session: Pick<WorkloadSession, 'token' | 'invalidate'>;
  cache: SecretCache;
  health: Pick<AgentHealth, 'fail'>;
  logger: Logger;
  now: () => number;
  reloader?: Pick<Reloader, 'notify'>;
  /** Called with each secret's value after files changed (keysafe exec uses it). */
  onValues?: (values: ReadonlyMap<string, SecretValue>) => void;
}

export class SecretSync {
  /** Why a secret is not current (its fetch, render or write failed), by id; never a value. */
  readonly problems = new Map<string, string>();
  /** Secrets whose files were written at least once. */
  readonly written = new Set<string>();
  /** The value each secret's files are rendered from. */
  readonly #values = new Map<string, SecretValue>();
  /** Secrets whose fetch failed transiently: fetched again by the repair. */
  readonly #fetchFailed = new Set<string>();
  /** Secrets whose files do not hold the current value: written again by the repair. */
  readonly #unwritten = new Set<string>();
  /** The kind of the last write failure (errno code), so that it is logged once, not once per retry. */
  #lastWriteError: string | undefined;
  #repairAttempt = 0;
  #repairTimer: NodeJS.Timeout | undefined;
  #fileCheck: NodeJS.Timeout | undefined;
  #checking = false;
  #stopped = false;
  #resolveFirstSync: () => void = () => undefined;
  /** Resolves once every configured secret was written (or fetched, for those without a file). */
  readonly firstSync = new Promise<void>((resolve) => {
    this.#resolveFirstSync = resolve;
  });

  constructor(private readonly deps: SyncDeps) {}

  /** Starts checking, every second, that the files written are still there. */
  start(): void {
    this.#fileCheck = setInterval(() => void this.#checkFiles(), FILE_CHECK_MS);
    this.#fileCheck.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#fileCheck);
    clearTimeout(this.#repairTimer);
  }

  /** The configured secrets' ids, in config order. */
  configuredIds(): string[] {
    return this.deps.secrets.map((s) => s.id);
  }

  /** True when the secret's value was fetched and nothing since failed for it. */
  isCurrent(secretId: string): boolean {
    return this.deps.cache.has(secretId) && !this.problems.has(secretId);
  }

  /** Fetches `ids`, stores what changed, rewrites files of changed secrets, then reloads once. */
  async refresh(ids: readonly string[]): Promise<void> {
    const { cache, now, secrets } = this.deps;
    const fetched = await Promise.all(ids.map(async (id) => [id, await this.#fetchOne(id)] as const));
    const changed: string[] = [];
    for (const [id, f] of fetched) {
      if (!f) continue;
      const previous = cache.get(id);
      cache.set(id, cachedSecret(f, now()));
      if (previous?.versionId === f.versionId) continue;
      this.#values.set(id, secretValueOf(f.body));
      changed.push(id);
    }
    if (changed.length > 0) await this.#writeFiles(changed);
    if (secrets.every((s) => (s.path ? this.written.has(s.id) : cache.has(s.id)))) this.#resolveFirstSync();
  }

  async #fetchOne(id: string): Promise<FetchedSecret | undefined> {
    const { client, session, logger } = this.deps;
    try {
      const fetched = await client.getSecret(await session.token(), id);
      this.problems.delete(id);
      this.#fetchFailed.delete(id);
      return fetched;
    } catch (e) {
      const error = explain(e);
      this.problems.set(id, error);
      logger.warn('could not fetch secret; keeping the last good value', { secretId: id, error });
      const refused = isSessionRefused(e);
      if (refused) session.invalidate();
      // Retried soon: the change that asked for it will not come again (the stream moved past it),
      // so the value would otherwise stay stale until the slow poll. Refusals wait for a change.
      if (refused || e instanceof TransientError) {
        this.#fetchFailed.add(id);
        this.#scheduleRepair();
      }
      return undefined;
    }
  }

  async #writeFiles(changedIds: readonly string[]): Promise<void> {
    const { secrets, logger, onValues } = this.deps;
    // The files of the changed secrets (and any not written yet); the others of their directories
    // are carried into the new generation as they are, and the directory switches at once.
    const specs = secrets.filter(
      (s) => s.path && this.#values.has(s.id) && (changedIds.includes(s.id) || !this.written.has(s.id)),
    );
    const { files, failed } = renderAll(specs, this.#values);
    for (const [id, error] of failed) {
      // Its files keep their last good content; the other secrets' files go ahead.
      this.problems.set(id, error);
      logger.error('could not render secret; keeping its files as they were', { secretId: id, error });
    }
    if (files.length === 0) {
      onValues?.(this.#values);
      return;
    }
    try {
      const result = await writeFileSet(files);
      this.#markWritten(specs.filter((s) => !failed.has(s.id)));
      onValues?.(this.#values);
      if (result.changed.length > 0) {
        this.deps.reloader?.notify();
        logger.info('secret files written', { files: result.changed.length, secrets: changedIds.join(',') });
      }
      if (this.#lastWriteError !== undefined && this.#unwritten.size === 0) {
        logger.info('secret files can be written again', { secrets: specs.map((s) => s.id).join(',') });
        this.#lastWriteError = undefined;
      }
    } catch (e) {
      this.#writeFailed(specs, e);
    }
  }

  #markWritten(specs: readonly AgentSecretConfig[]): void {
    for (const s of specs) {
      this.written.add(s.id);
      if (this.#unwritten.delete(s.id)) this.problems.delete(s.id);
    }
  }

  #writeFailed(specs: readonly AgentSecretConfig[], e: unknown): void {
    const error = explain(e);
    this.deps.health.fail(error);
    // Retried until written: a read-only or removed directory that comes back must get the
    // current value, not wait for the next change (the cache already holds it, so that change
    // alone would never rewrite the files).
    for (const s of specs) {
      this.problems.set(s.id, error);
      this.#unwritten.add(s.id);
    }
    // Logged once per kind of failure, not once per retry.
    const kind = (e as NodeJS.ErrnoException).code ?? error;
    if (kind !== this.#lastWriteError) {
      this.deps.logger.error('could not write secret files; keeping the last good ones and retrying', { error });
    }
    this.#lastWriteError = kind;
    this.#scheduleRepair();
  }

  #scheduleRepair(): void {
    if (this.#repairTimer || this.#stopped) return;
    const wait = backoffDelay(Math.min(this.#repairAttempt++, 8), REPAIR);
    this.#repairTimer = setTimeout(() => void this.#repair(), wait);
    this.#repairTimer.unref();
  }

  async #repair(): Promise<void> {
    if (this.#fetchFailed.size > 0) await this.refresh([...this.#fetchFailed]);
    if (this.#unwritten.size > 0) await this.#writeFiles([...this.#unwritten]);
    this.#repairTimer = undefined;
    if (this.#fetchFailed.size > 0 || this.#unwritten.size > 0) this.#scheduleRepair();
    else this.#repairAttempt = 0;
  }

  /** Files removed behind the agent's back (the directory deleted or emptied) are written again. */
  async #checkFiles(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      await this.#rewriteMissingFiles();
    } finally {
      this.#checking = false;
    }
  }

  async #rewriteMissingFiles(): Promise<void> {
    const gone = new Set<string>();
    for (const s of this.deps.secrets) {
      if (!s.path || !this.written.has(s.id) || this.#unwritten.has(s.id)) continue;
      try {
        await stat(s.path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') gone.add(s.id);
      }
    }
    if (gone.size === 0 || this.#stopped) return;
    this.deps.logger.warn('secret files disappeared; writing them again', { secrets: [...gone].join(',') });
    await this.#writeFiles([...gone]);
  }
}
