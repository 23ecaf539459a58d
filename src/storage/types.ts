// What every store shares: pages, cross-process change news, coordination, and the aggregate a driver opens.
//
// The ports themselves live with their domains (kms/store.ts, secrets/store.ts, auth/store.ts,
// terraform/store.ts); every driver here implements them all, under one contract:
// each method is atomic on its own. Concurrent writers are serialised by optimistic
// concurrency: a record carries a `revision`, and an update names the revision it read; the
// driver applies it only if the stored revision still matches (otherwise `false`), so two
// server replicas racing on the same key never both win.
import type { AuthStore } from '../auth/index.js';
import type { KmsStore } from '../kms/index.js';
import type { SecretsStore } from '../secrets/index.js';
import type { TerraformStateStore } from '../terraform/index.js';

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, absent on the last page. */
  next?: string;
}

/** A change another process committed, as far as caches care: what to drop. */
export type StoreChange =
  | { kind: 'key'; keyId: string }
  | { kind: 'alias'; name: string }
  | { kind: 'secret'; arn: string }
  /** New secret events: the change feed reads them. */
  | { kind: 'events' }
  /** Issuers, roles or session revocations changed. */
  | { kind: 'auth' };

/**
 * What replicas sharing one database need from it: news of each other's commits, and one of them
 * at a time running the schedulers. Absent for a store only one process opens (SQLite).
 */
export interface Coordination {
  /**
   * Starts delivering other processes' changes; resolves once listening. `resync` is called
   * whenever changes may have been missed (after a lost connection): drop every cache.
   */
  watch(handlers: { change(change: StoreChange): void; resync(): void }): Promise<void>;
  /** Whether this process runs the schedulers now, taking the lease if it is free. */
  lead(): Promise<boolean>;
}

/**
 * One region's view of the store: its keys, aliases, Keysafe's own keys and secrets, and its
 * change events. Key versions are shared by every region holding the same key id.
 */
export interface RegionalStore {
  readonly region: string;
  readonly kms: KmsStore;
  readonly secrets: SecretsStore;
}

/** What a driver is opened with beside its URL. */
export interface StoreOptions {
  /**
   * The region existing data belongs to when an older database gains regions (migration 6 in
   * SQLite, 11 in PostgreSQL), and the region of `kms` and `secrets` below. Default us-east-1.
   */
  defaultRegion?: string;
}

export interface Store {
  /** The default region's views (what `inRegion(defaultRegion)` gives). */
  readonly kms: KmsStore;
  readonly secrets: SecretsStore;
  readonly defaultRegion: string;
  /** The views bound to one region (made once per region). */
  inRegion(region: string): RegionalStore;
  /** The regions holding a key or a secret: where scheduled work may be due. */
  regions(): Promise<string[]>;
  readonly auth: AuthStore;
  readonly terraform: TerraformStateStore;
  /** Present when several processes may share the store (PostgreSQL). */
  readonly coordination?: Coordination;
  /** Flushes and closes; the store is unusable afterwards. */
  close(): Promise<void>;
}
