// The engine's write path: revision-checked commits with conflict retry, cache drops and the change doorbell.
import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { keyedLock, retryConflicts } from '../../core/keyed-lock.js';
import { type StageMap, stageMapOf } from '../labels.js';
import type { SecretReadCache } from '../read-cache.js';
import { markInProgress, replicaWriteRefused } from '../replication.js';
import type { SecretChange, SecretRecord, SecretsStore } from '../store.js';
import type { SecretLookup } from './lookup.js';

/** Decides a change from a fresh read of the secret and its stages; undefined when there is nothing to change. */
export type ChangePlan = (secret: SecretRecord, stages: StageMap) => Promise<SecretChange | undefined>;

export type SecretCommits = ReturnType<typeof createSecretCommits>;

export function createSecretCommits(
  store: SecretsStore,
  cache: SecretReadCache,
  clock: Clock,
  lookup: SecretLookup,
  /** Called after a committed change of a primary with replicas: the server brings the replicas up to date. */
  primaryChanged?: (primary: SecretRecord) => void,
) {
  // Rung after every committed change: the watch stream's doorbell (the events table is the truth).
  const changeListeners = new Set<() => void>();
  // Deferred: the writer's answer goes out before the fan-out to the watchers starts.
  const ring = () =>
    setImmediate(() => {
      for (const listener of changeListeners) listener();
    });

  /** Commits a change and drops the read caches of its secret; undefined when the revision check lost. */
  async function commit(change: SecretChange, at: number): Promise<SecretRecord | undefined> {
    // A change with events changes what replicas hold: they are InProgress from this very commit, so a
    // crash before the sync leaves the truth for the reconciler to find.
    const replicas = change.events.length > 0 ? change.secret.replicas : undefined;
    const stored = replicas?.length
      ? { ...change, secret: { ...change.secret, replicas: markInProgress(replicas) } }
      : change;
    const saved = await store.commit(stored, at);
    cache.invalidate(change.secret.arn);
    if (saved && change.events.length > 0) ring();
    if (saved && replicas?.length) primaryChanged?.(saved);
    return saved;
  }

  async function purge(secret: SecretRecord, at: number): Promise<boolean> {
    const purged = await store.purgeSecret(secret, at);
    cache.invalidate(secret.arn);
    if (purged) ring();
    return purged;
  }

  async function stageMap(arn: string): Promise<StageMap> {
    return stageMapOf(await store.listVersions(arn));
  }

  const withSecretLock = keyedLock();

  /**
   * Commits a change planned from a fresh read, retrying when another writer got there first;
   * stamps lastChangedAt. Writers in this process queue per secret.
   */
  async function change(secretId: string, plan: ChangePlan, allowDeleted = false): Promise<SecretRecord> {
    const saved = await withSecretLock((await lookup.find(secretId)).arn, () =>
      retryConflicts(async () => {
        const secret = allowDeleted ? await lookup.find(secretId) : await lookup.findLive(secretId);
        if (secret.primary) throw replicaWriteRefused();
        const planned = await plan(secret, await stageMap(secret.arn));
        if (!planned) return secret;
        return commit({ ...planned, secret: { ...planned.secret, lastChangedAt: clock.now() } }, clock.now());
      }),
    );
    if (!saved) throw concurrentChange();
    return saved;
  }

  /** Calls `listener` after each committed change that recorded events; returns the unsubscribe. */
  function onChange(listener: () => void): () => void {
    changeListeners.add(listener);
    return () => changeListeners.delete(listener);
  }

  return { commit, purge, change, stageMap, onChange, ring };
}

/** Every attempt lost its revision check. */
export function concurrentChange(): AppError {
  return new AppError('InternalServiceError', 'The secret is being changed concurrently; try again.');
}
