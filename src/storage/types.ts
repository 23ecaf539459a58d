// The store interfaces every driver implements (SQLite now, PostgreSQL later), and their records.
//
// Each method is atomic on its own. Concurrent writers are serialised by optimistic
// concurrency: a record carries a `revision`, and an update names the revision it read; the
// driver applies it only if the stored revision still matches (otherwise `false`), so two
// server replicas racing on the same key never both win.

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface Tag {
  TagKey: string;
  TagValue: string;
}

export interface KeyRecord {
  keyId: string;
  /** Bumped by the driver on every successful update. */
  revision: number;
  createdAt: number;
  description: string;
  keyUsage: string;
  keySpec: string;
  state: KeyState;
  /** When a PendingDeletion key is deleted (ms). */
  deletionAt?: number;
  pendingWindowInDays?: number;
  currentVersion: number;
  rotationEnabled: boolean;
  rotationPeriodInDays?: number;
  /** When automatic rotation is next due (ms); persisted so restarts neither lose nor repeat it. */
  nextRotationAt?: number;
  onDemandRotations: number;
  policy: string;
  tags: Tag[];
  /** Set on Keysafe's own keys only (the purpose it made the key for): no API caller may use or change them. */
  internalPurpose?: string;
}

export interface KeyVersionRecord {
  keyId: string;
  version: number;
  /** Fingerprint of the root key that wrapped `wrappedMaterial`. */
  rootKeyId: string;
  wrappedMaterial: Buffer;
  createdAt: number;
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
}

export interface AliasRecord {
  name: string;
  keyId: string;
  createdAt: number;
  updatedAt: number;
}

/** Which key Keysafe uses for one of its own purposes: written once, never through an alias. */
export interface InternalKeyRecord {
  purpose: string;
  keyId: string;
  createdAt: number;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, absent on the last page. */
  next?: string;
}

export interface KmsStore {
  /** Inserts a new key with its first version. */
  insertKey(key: KeyRecord, firstVersion: KeyVersionRecord): Promise<void>;
  getKey(keyId: string): Promise<KeyRecord | undefined>;
  /** Keys ordered by key id, after the cursor. */
  listKeys(limit: number, after?: string): Promise<Page<KeyRecord>>;
  /**
   * Replaces the key if its stored revision is still `key.revision`; returns the stored
   * record (with its new revision), or undefined on a conflict or when the key is gone.
   */
  updateKey(key: KeyRecord): Promise<KeyRecord | undefined>;
  /** updateKey and the insertion of a new version, in one transaction. */
  addKeyVersion(key: KeyRecord, version: KeyVersionRecord): Promise<KeyRecord | undefined>;
  getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined>;
  listKeyVersions(keyId: string): Promise<KeyVersionRecord[]>;
  /** Deletes the key, its versions and aliases if its revision still matches. */
  deleteKey(keyId: string, expectedRevision: number): Promise<boolean>;
  /** Keys with work due at `now`: enabled keys whose rotation is due, pending keys whose window ended. */
  dueKeys(now: number, limit: number): Promise<KeyRecord[]>;
  /** Versions wrapped under any root key other than `rootKeyId`, for re-wrapping. */
  versionsNotWrappedBy(rootKeyId: string, limit: number): Promise<KeyVersionRecord[]>;
  /** Swaps a version's wrapping if it is still wrapped under `fromRootKeyId`. */
  rewrapKeyVersion(
    keyId: string,
    version: number,
    fromRootKeyId: string,
    next: { rootKeyId: string; wrappedMaterial: Buffer },
  ): Promise<boolean>;

  /** Returns false when the alias name is taken. */
  createAlias(alias: AliasRecord): Promise<boolean>;
  getAlias(name: string): Promise<AliasRecord | undefined>;
  /** Points an existing alias at another key; false when the alias does not exist. */
  updateAlias(name: string, keyId: string, updatedAt: number): Promise<boolean>;
  deleteAlias(name: string): Promise<boolean>;
  /** Aliases ordered by name, optionally only those of one key. */
  listAliases(limit: number, after?: string, keyId?: string): Promise<Page<AliasRecord>>;

  /** The key recorded for one of Keysafe's own purposes. */
  getInternalKey(purpose: string): Promise<InternalKeyRecord | undefined>;
  /**
   * Records the key for a purpose unless one is recorded already (false then: read the winner's).
   * A record is never changed or removed, and its key cannot be deleted while it stands.
   */
  recordInternalKey(record: InternalKeyRecord): Promise<boolean>;
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

export interface Store {
  readonly kms: KmsStore;
  readonly secrets: SecretsStore;
  readonly auth: AuthStore;
  readonly terraform: TerraformStateStore;
  /** Present when several processes may share the store (PostgreSQL). */
  readonly coordination?: Coordination;
  /** Flushes and closes; the store is unusable afterwards. */
  close(): Promise<void>;
}

// --- Secrets -------------------------------------------------------------------------------

export interface SecretTag {
  Key: string;
  Value: string;
}

export interface RotationRulesRecord {
  AutomaticallyAfterDays?: number;
  ScheduleExpression?: string;
  Duration?: string;
}

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

/**
 * Who a rotation acts as: the caller of the last RotateSecret, kept so that every step is
 * authorized against that principal's policy as it stands when the step runs. A role keeps its
 * session's subject and claims (policy conditions read them); the server keeps them in its
 * database only, never in an answer, a log line or an audit record.
 */
export type RotationPrincipalRecord =
  | { kind: 'admin' }
  | {
      kind: 'role';
      role: string;
      sessionName: string;
      subject: string;
      claims: Record<string, unknown>;
      /** ms since the epoch, when the session was issued: a revoke-sessions of the role after it ends the rotation too. */
      sessionIssuedAt: number;
    };

/**
 * Where and on whom a PostgreSQL rotation acts, read from AWSCURRENT by RotateSecret (as its
 * caller): every step refuses a value that names another connection, so a caller that may only
 * PutSecretValue cannot point a rotation configured by someone else at another database or role.
 * Connection names only, never a password; kept in the database, never in an answer or a log line.
 */
export interface RotationConnectionPin {
  host: string;
  port: number;
  dbname: string;
  /** AWSCURRENT's user; for alternating users without a trailing `_clone` (the pair's base name). */
  username: string;
  ssl: boolean;
  /** The master secret (alternating users only). */
  masterarn?: string;
}

export interface SecretRotationRecord {
  enabled: boolean;
  /** Absent for rotations configured before Keysafe recorded it: such a rotation does not run. */
  principal?: RotationPrincipalRecord;
  /** A PostgreSQL strategy's connection, pinned by the RotateSecret that recorded `principal`. */
  connection?: RotationConnectionPin;
  /** The strategy: a `keysafe:rotation:…` URI or a webhook URL, shown as RotationLambdaARN. */
  lambdaArn?: string;
  rules?: RotationRulesRecord;
  nextRotationAt?: number;
  lastRotatedAt?: number;
  /** A rotation under way: its token (the AWSPENDING version id) and the step to run next. */
  inProgress?: {
    token: string;
    step: RotationStep;
    attempts: number;
    nextAttemptAt: number;
    testOnly?: boolean;
    /** Set in the same commit as the pending value the rotation made: a value at the token without it is a caller's. */
    pendingMade?: boolean;
  };
  lastFailure?: { at: number; step: RotationStep; message: string };
}

export interface SecretRecord {
  arn: string;
  name: string;
  /** Bumped by the driver on every successful change. */
  revision: number;
  createdAt: number;
  lastChangedAt: number;
  description?: string;
  /** The KmsKeyId the user gave (id, ARN or alias); absent means the managed default key. */
  kmsKeyId?: string;
  tags: SecretTag[];
  /** DeletedDate: set while the secret is scheduled for deletion. */
  deletedAt?: number;
  /** When the recovery window ends and the secret is purged. */
  purgeAt?: number;
  resourcePolicy?: string;
  rotation?: SecretRotationRecord;
}

export interface SecretVersionRecord {
  secretArn: string;
  versionId: string;
  createdAt: number;
  /** Staging labels on this version (filled in by the store on reads). */
  stages: string[];
  /** The KMS key that encrypted the data key; absent for an empty placeholder version (rotation). */
  kmsKeyArn?: string;
  /** The data key, encrypted by the KMS key. */
  wrappedKey?: Buffer;
  /** The value, encrypted by the data key. */
  ciphertext?: Buffer;
  binary: boolean;
}

export type SecretEventType =
  | 'SecretCreated'
  | 'VersionCreated'
  | 'StagesMoved'
  | 'SecretUpdated'
  | 'SecretDeleted'
  | 'SecretRestored'
  | 'SecretPurged';

/** One committed change, in commit order: the change feed the agents watch. */
export interface SecretEvent {
  /** Monotonically increasing across the whole store. */
  cursor: number;
  at: number;
  secretArn: string;
  secretName: string;
  type: SecretEventType;
  versionId?: string;
}

export interface SecretChange {
  /** The secret as it should be stored; `revision` is the revision that was read. */
  secret: SecretRecord;
  /** Inserted; or, when a version with its id exists without a value (a rotation placeholder), fills it. */
  newVersion?: Omit<SecretVersionRecord, 'stages'>;
  /** Deprecated versions (no staging labels) to delete; labelled ones are never deleted. */
  deleteVersions?: string[];
  /** Existing versions re-encrypted under another KMS key (UpdateSecret with a new KmsKeyId). */
  reencrypted?: Omit<SecretVersionRecord, 'stages'>[];
  /** Stage → the version it now labels, or null to remove the stage from the secret. */
  stages?: Record<string, string | null>;
  events: { type: SecretEventType; versionId?: string }[];
}

export interface SecretsStore {
  /** Inserts a new secret (revision 1) with its first version, if any; false when the name is taken. */
  createSecret(change: SecretChange): Promise<boolean>;
  getSecretByArn(arn: string): Promise<SecretRecord | undefined>;
  getSecretByName(name: string): Promise<SecretRecord | undefined>;
  listSecrets(): Promise<SecretRecord[]>;
  /**
   * Applies a change atomically if the secret's revision is still `change.secret.revision`:
   * the secret, the new version, every stage move and the events. Returns the stored secret
   * (new revision) or undefined on a conflict.
   */
  commit(change: SecretChange, at: number): Promise<SecretRecord | undefined>;
  getVersion(secretArn: string, versionId: string): Promise<SecretVersionRecord | undefined>;
  getVersionByStage(secretArn: string, stage: string): Promise<SecretVersionRecord | undefined>;
  /** All versions, oldest first. */
  listVersions(secretArn: string): Promise<SecretVersionRecord[]>;
  /** Removes the secret and its versions if its revision still matches, and records SecretPurged. */
  purgeSecret(secret: SecretRecord, at: number): Promise<boolean>;
  /** Secrets with work due at `now`: purge, scheduled rotation, or a rotation step to retry. */
  dueSecrets(now: number, limit: number): Promise<SecretRecord[]>;
  /** Events with a cursor greater than `cursor`, in order. */
  eventsAfter(cursor: number, limit: number): Promise<SecretEvent[]>;
  /** Deletes events older than `before` (ms); returns how many. */
  trimEvents(before: number): Promise<number>;
  /**
   * The newest cursor ever given (0 if none) and the oldest still kept (undefined when none are):
   * a watcher whose cursor is older than that has missed trimmed events and must start over.
   */
  eventCursors(): Promise<{ latest: number; oldest: number | undefined }>;
}

/** When a secret next needs the scheduler: the earliest of purge, rotation and retry times. */
export function secretDueAt(s: SecretRecord): number | undefined {
  const times: number[] = [];
  if (s.purgeAt !== undefined) times.push(s.purgeAt);
  else if (s.rotation?.inProgress) times.push(s.rotation.inProgress.nextAttemptAt);
  else if (s.rotation?.enabled && s.rotation.nextRotationAt !== undefined) times.push(s.rotation.nextRotationAt);
  return times.length ? Math.min(...times) : undefined;
}

// --- Workload identity ---------------------------------------------------------------------

/** Issuers and roles managed through the admin API (the config file's live in memory only). */
export type AuthEntryKind = 'issuer' | 'role';

export interface AuthEntry {
  kind: AuthEntryKind;
  name: string;
  /** The validated document, as JSON text. */
  doc: string;
  updatedAt: number;
}

export interface AuthStore {
  listAuthEntries(kind: AuthEntryKind): Promise<AuthEntry[]>;
  /** Creates or replaces. */
  putAuthEntry(entry: AuthEntry): Promise<void>;
  /** False when there was none. */
  deleteAuthEntry(kind: AuthEntryKind, name: string): Promise<boolean>;
  /** Sessions of `role` issued before `before` (ms) are refused from now on. Only moves forward. */
  revokeSessions(role: string, before: number): Promise<void>;
  /** role → revokedBefore (ms) */
  listRevocations(): Promise<Map<string, number>>;
}

// --- Terraform state (the http backend) ----------------------------------------------------

/** A state's lock: Terraform's LockInfo, held until the same ID unlocks it or an operator forces it. */
export interface TerraformLockRecord {
  name: string;
  /** LockInfo.ID, the only field Terraform echoes back (on UNLOCK) and shows a waiting user. */
  id: string;
  /** The holder's LockInfo as JSON text (ID, Operation, Info, Who, Version, Created, Path). */
  info: string;
  createdAt: number;
}

/** One stored version of a state, encrypted under a data key of its own. */
export interface TerraformStateVersionRecord {
  name: string;
  /** 1, 2, 3, … per state, assigned by the driver; never reused while the state exists. */
  version: number;
  serial: number;
  lineage: string;
  createdAt: number;
  /** Plaintext length in bytes. */
  size: number;
  /** The KMS key that encrypted the data key. */
  kmsKeyArn: string;
  /** The data key, encrypted by the KMS key. */
  wrappedKey: Buffer;
  /** The state JSON, encrypted by the data key. */
  ciphertext: Buffer;
}

export type TerraformStateVersionInfo = Omit<TerraformStateVersionRecord, 'wrappedKey' | 'ciphertext'>;

export type TerraformPutResult =
  | { ok: true; version: number }
  /** Locked under another ID (or the writer named none). */
  | { ok: false; reason: 'locked'; lock: TerraformLockRecord }
  /** The writer named a lock ID but the state is not locked (it was force-unlocked). */
  | { ok: false; reason: 'not-locked' }
  /** The stored serial is as high or higher: the writer has a stale copy (or is retrying). */
  | { ok: false; reason: 'stale-serial'; serial: number }
  /** The stored state is another lineage: another state entirely. */
  | { ok: false; reason: 'lineage-mismatch'; lineage: string };

export type TerraformUnlockResult =
  | { outcome: 'released' }
  | { outcome: 'not-locked' }
  | { outcome: 'held'; lock: TerraformLockRecord };

export interface TerraformStateStore {
  /** The newest version, or undefined when there is no state. */
  getState(name: string): Promise<TerraformStateVersionRecord | undefined>;
  getStateVersion(name: string, version: number): Promise<TerraformStateVersionRecord | undefined>;
  /** The kept versions, newest first. */
  listStateVersions(name: string): Promise<TerraformStateVersionInfo[]>;
  /**
   * In one transaction: checks the lock (`lockId` must be the holder's when the state is locked,
   * and a named `lockId` must be held), the lineage (must match the stored one) and the serial
   * (higher than the stored one); then adds the version and drops all but the newest `keep`.
   */
  putState(
    state: Omit<TerraformStateVersionRecord, 'version'>,
    options: { lockId?: string; keep: number },
  ): Promise<TerraformPutResult>;
  /** Removes the state and all its versions unless locked under another ID; `deleted` false when none. */
  deleteState(
    name: string,
    lockId?: string,
  ): Promise<{ ok: true; deleted: boolean } | { ok: false; reason: 'locked'; lock: TerraformLockRecord }>;
  getLock(name: string): Promise<TerraformLockRecord | undefined>;
  /** Takes the lock if free; holding it already under the same ID counts as acquired. Atomic. */
  lock(lock: TerraformLockRecord): Promise<{ acquired: true } | { acquired: false; holder: TerraformLockRecord }>;
  /** Releases the lock if `id` holds it. */
  unlock(name: string, id: string): Promise<TerraformUnlockResult>;
  /** Releases whatever lock there is; returns the lock removed. */
  forceUnlock(name: string): Promise<TerraformLockRecord | undefined>;
}
