// The context every part of the KMS engine shares: its ports, the key cache, the per-key write lock.
import { keyArn, type Partition } from '../../core/arn.js';
import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { keyedLock } from '../../core/keyed-lock.js';
import type { RootKeyring } from '../../crypto/index.js';
import type { Logger } from '../../observability/logger.js';
import { createKeyCache } from '../key-cache.js';
import { createUsageTracker, DEFAULT_USAGE_FLUSH_MS, type UsageTracker } from '../key-usage.js';
import type { KmsStore } from '../store.js';

/**
 * The other regions this server serves, as the engine reaches them for multi-Region keys (ReplicateKey,
 * UpdatePrimaryRegion, DescribeKey's MultiRegionConfiguration, rotation reaching replicas). The server
 * gives it (src/server/engines.ts); an engine without it knows only its own region.
 */
export interface KmsRegions {
  /** Regions that may hold keys: those with data in the store and those this process serves. */
  list(): Promise<string[]>;
  /** A region's store view; an AppError for a region this server does not serve (`regions:`). */
  store(region: string): KmsStore;
  /** Drops what a region's engine in this process cached of a key changed from another region. */
  forget(region: string, keyId: string): void;
}

export interface KmsEngineDeps {
  /** Other regions (multi-Region keys); absent: this region only. */
  regions?: KmsRegions;
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
  readonly regions: KmsRegions;
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
    regions: deps.regions ?? thisRegionOnly(partition.region, store),
    arnOf: (keyId: string) => keyArn(partition, keyId),
  };
}

/** An engine given no other regions (tests, tools) sees only its own. */
function thisRegionOnly(region: string, store: KmsStore): KmsRegions {
  return {
    list: async () => [region],
    store(other) {
      if (other !== region)
        throw new AppError('UnsupportedOperationException', `The region ${other} is not served here.`);
      return store;
    },
    forget: () => {},
  };
}
