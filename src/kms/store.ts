// The KMS domain's records and the store port its engine writes through (storage drivers implement it).
//
// Each method is atomic on its own. Concurrent writers are serialised by optimistic
// concurrency: a record carries a `revision`, and an update names the revision it read; the
// driver applies it only if the stored revision still matches (otherwise `false`), so two
// server replicas racing on the same key never both win.
//
// A KmsStore is one region's view: keys, aliases and internal keys are that region's (another
// region's are not found through it), while key versions are shared by key id across regions, so
// a key id held in several regions (a multi-Region key) has one set of versions.
import type { Page } from '../storage/index.js';
import type { KeySpec, KeyUsage } from './key-specs.js';

/**
 * PendingReplicaDeletion: a multi-Region primary scheduled for deletion while it still has replicas;
 * its waiting period starts when the last replica is deleted (src/kms/engine/replica-deletion.ts).
 */
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport' | 'PendingReplicaDeletion';

export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

/** What is known of a key's imported material (Origin EXTERNAL); kept after the material is deleted or expires. */
export interface ImportedMaterial {
  /** AWS's KeyMaterialId: SHA-256 of the key id and the material. A re-import must match it. */
  keyMaterialId: string;
  /** Whether the material is in the store now: false once deleted or expired. */
  present: boolean;
  expirationModel: ExpirationModel;
  /** When the material expires (ms); only with KEY_MATERIAL_EXPIRES. */
  validTo?: number;
  description?: string;
  importedAt: number;
}

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
  keyUsage: KeyUsage;
  keySpec: KeySpec;
  state: KeyState;
  /**
   * When a PendingDeletion key is deleted (ms). PendingReplicaDeletion: when the scheduler next looks
   * whether its replicas are gone (never shown: AWS has no DeletionDate until they are).
   */
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
  /** EXTERNAL for keys made for imported material; absent means AWS_KMS. */
  origin?: 'EXTERNAL';
  /** Set once material was first imported into an EXTERNAL key. */
  imported?: ImportedMaterial;
  /**
   * Set on every regional record of a multi-Region key (id `mrk-…`): which region holds its primary.
   * The record whose region is `primaryRegion` is the primary; the others are replicas.
   */
  multiRegion?: { primaryRegion: string };
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

/** The last successful cryptographic operation with a key, as GetKeyLastUsage reports it. */
export interface KeyUsageRecord {
  keyId: string;
  /** ms since the epoch */
  at: number;
  /** One of AWS's KeyLastUsageTrackingOperation names (Encrypt, Decrypt, Sign, …). */
  operation: string;
}

/** When the scheduler must delete a key's imported material (the drivers keep it in a queried column). */
export function materialExpiresAt(key: KeyRecord): number | undefined {
  return key.imported?.present ? key.imported.validTo : undefined;
}

export interface KmsStore extends KmsGrantStore {
  /** Inserts a new key with its first version (none for a key awaiting imported material). */
  insertKey(key: KeyRecord, firstVersion?: KeyVersionRecord): Promise<void>;
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
  /** updateKey and the insertion or replacement of a version's material (an import), in one transaction. */
  putKeyMaterial(key: KeyRecord, version: KeyVersionRecord): Promise<KeyRecord | undefined>;
  /** updateKey and the removal of a version's material (imported material deleted or expired), in one transaction. */
  deleteKeyMaterial(key: KeyRecord, version: number): Promise<KeyRecord | undefined>;
  getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined>;
  listKeyVersions(keyId: string): Promise<KeyVersionRecord[]>;
  /**
   * Deletes the key and its aliases in this region if its revision still matches; its versions
   * too when no other region still holds the key id.
   */
  deleteKey(keyId: string, expectedRevision: number): Promise<boolean>;
  /** Keys with work due at `now`: enabled keys whose rotation is due, pending keys whose window ended, imported material that expired. */
  dueKeys(now: number, limit: number): Promise<KeyRecord[]>;
  /** Versions wrapped under any root key other than `rootKeyId`, for re-wrapping (every region's). */
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

  /**
   * Keeps, per key, the latest of the stored use and the one given (replicas flush independently, in
   * any order); a key deleted meanwhile is skipped. One batch per call.
   */
  recordKeyUsage(uses: KeyUsageRecord[]): Promise<void>;
  getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined>;
  /** When this store began recording key usage (when the store migration adding it was applied, ms). */
  keyUsageTrackingStart(): Promise<number>;
}

/** What a grant may allow: AWS's GrantOperation enum. */
export const GRANT_OPERATIONS = [
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GetPublicKey',
  'CreateGrant',
  'RetireGrant',
  'DescribeKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];

export interface GrantConstraints {
  EncryptionContextEquals?: Record<string, string>;
  EncryptionContextSubset?: Record<string, string>;
}

/** A grant on a key: who may do which operations, under which encryption context. */
export interface GrantRecord {
  /** 64 hexadecimal characters, as AWS's. */
  grantId: string;
  /** The key's ARN (it carries the region). */
  keyArn: string;
  name?: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  operations: GrantOperation[];
  constraints?: GrantConstraints;
  createdAt: number;
  /** arn:aws:iam::<account>:root */
  issuingAccount: string;
  /** The grant's parameters in canonical form: a named grant is created once per (key, name, parameters). */
  fingerprint: string;
}

/** AWS's grant quotas: grants per key, and grants per key to one grantee principal. */
export interface GrantQuota {
  perKey: number;
  perGrantee: number;
}

/** The grant that stands, or the quota a new one would exceed. */
export type GrantInsert = { grant: GrantRecord } | { exceeded: keyof GrantQuota };

/** The grants of a key (KMS store port, continued): drivers implement both interfaces in one store. */
export interface KmsGrantStore {
  /**
   * Inserts the grant; for a named grant whose (key, name, fingerprint) exists already, inserts
   * nothing and returns the existing one. Returns the grant that stands, or which quota a new grant
   * would exceed: counted and inserted atomically, so concurrent inserts never exceed it.
   */
  insertGrant(grant: GrantRecord, quota: GrantQuota): Promise<GrantInsert>;
  getGrant(keyArn: string, grantId: string): Promise<GrantRecord | undefined>;
  /** A key's grants ordered by grant id, after the cursor, optionally only those of one grantee. */
  listGrants(keyArn: string, limit: number, after?: string, grantee?: string): Promise<Page<GrantRecord>>;
  /** Grants (of any key) whose retiring principal is `principal`, ordered by grant id. */
  listRetirableGrants(principal: string, limit: number, after?: string): Promise<Page<GrantRecord>>;
  /** At most `limit` of the key's grants whose grantee is one of `grantees` (an authorization decision). */
  grantsFor(keyArn: string, grantees: readonly string[], limit: number): Promise<GrantRecord[]>;
  deleteGrant(keyArn: string, grantId: string): Promise<boolean>;
  /** Deletes every grant of a key (the key was deleted). */
  deleteGrantsOfKey(keyArn: string): Promise<number>;
}
