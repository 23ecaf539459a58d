// The last successful cryptographic use of each key (GetKeyLastUsage): noted in memory, written to the store in batches.
//
// Why batches and not a write per use: Encrypt, Decrypt and GenerateDataKey are the server's hot path, and a
// store write per request would add a SQLite commit (or a PostgreSQL round trip) to each. AWS reports the last
// use to the second, with eventual consistency, so there is no coarser granularity to write at instead. Each use
// replaces the key's entry in a map (no I/O); the changed entries are written in one batch at most every
// `flushMs` (a minute by default) and at shutdown, the later use winning per key in the store (replicas flush
// independently). A crash loses at most the last interval's uses, never an earlier one; a read merges the
// unflushed use with the stored one, so this replica answers at once.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../observability/logger.js';
import type { KeyUsageRecord, KmsStore } from './store.js';

export const DEFAULT_USAGE_FLUSH_MS = 60_000;

export type UsageTracker = ReturnType<typeof createUsageTracker>;

const later = (a: KeyUsageRecord | undefined, b: KeyUsageRecord | undefined) =>
  a === undefined ? b : b === undefined || a.at >= b.at ? a : b;

export function createUsageTracker(store: KmsStore, clock: Clock, flushMs: number, logger?: Logger) {
  let pending = new Map<string, KeyUsageRecord>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  async function writeBatch(): Promise<void> {
    timer = undefined;
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    try {
      await store.recordKeyUsage([...batch.values()]);
    } catch (e) {
      // Kept for the next flush unless a newer use of the key came in meanwhile
      for (const [keyId, use] of batch) pending.set(keyId, later(pending.get(keyId), use)!);
      logger?.warn('key usage could not be recorded; retrying at the next flush', { error: (e as Error)?.name });
      schedule();
    }
  }

  function schedule(): void {
    if (timer !== undefined || flushMs <= 0) return;
    timer = setTimeout(() => void flush(), flushMs);
    timer.unref();
  }

  /** Writes every unflushed use now (one batch; flushes never overlap). */
  function flush(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    flushing = flushing.then(writeBatch);
    return flushing;
  }

  return {
    /** A successful cryptographic operation with `keyId`: a map update, no I/O. */
    note(keyId: string, operation: string): void {
      pending.set(keyId, { keyId, at: clock.now(), operation });
      schedule();
    },

    /** The key's last use: this replica's unflushed one or the stored one, whichever is later. */
    async lastUse(keyId: string): Promise<KeyUsageRecord | undefined> {
      return later(pending.get(keyId), await store.getKeyUsage(keyId));
    },

    flush,
  };
}
