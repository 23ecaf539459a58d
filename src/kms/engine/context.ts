// The context every part of the KMS engine shares: its ports, the key cache, the per-key write lock.
import { keyArn, type Partition } from '../../core/arn.js';
import type { Clock } from '../../core/clock.js';
import { keyedLock } from '../../core/keyed-lock.js';
import type { RootKeyring } from '../../crypto/index.js';
import type { Logger } from '../../observability/logger.js';
import { createKeyCache } from '../key-cache.js';
import { createUsageTracker, DEFAULT_USAGE_FLUSH_MS, type UsageTracker } from '../key-usage.js';
import type { KmsStore } from '../store.js';

export interface KmsEngineDeps {
  store: KmsStore;
  rootKeys: RootKeyring;
  clock: Clock;
  partition: Partition;
  /** How long a cached key record or alias may be served before it is read again (ms). */
  cacheTtlMs?: number;
  /** Where decisions about Keysafe's own keys are reported. */
  logger?: Logger;
  /** How often noted key uses are written to the store (ms; 0: only on flushKeyUsage). */
  usageFlushMs?: number;
}

export type KeyCache = ReturnType<typeof createKeyCache>;

/** Built once per engine and handed to each of its parts: nothing else is shared between them. */
export interface KmsContext {
  readonly store: KmsStore;
  readonly rootKeys: RootKeyring;
  readonly clock: Clock;
  readonly partition: Partition;
  /** Key references resolved, records and unwrapped material cached. */
  readonly keys: KeyCache;
  /** Key writes from this process queue per key; another process's conflicting write is retried. */
  readonly withKeyLock: ReturnType<typeof keyedLock>;
  /** Each key's last successful cryptographic use (GetKeyLastUsage), batched to the store. */
  readonly usage: UsageTracker;
  arnOf(keyId: string): string;
}

export function createKmsContext(deps: KmsEngineDeps): KmsContext {
  const { store, rootKeys, clock, partition } = deps;
  return {
    store,
    rootKeys,
    clock,
    partition,
    keys: createKeyCache({ store, rootKeys, clock, partition, ttlMs: deps.cacheTtlMs ?? 1000 }),
    withKeyLock: keyedLock(),
    usage: createUsageTracker(store, clock, deps.usageFlushMs ?? DEFAULT_USAGE_FLUSH_MS, deps.logger),
    arnOf: (keyId: string) => keyArn(partition, keyId),
  };
}
