// The Terraform state backend's records and the store port it writes through.

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
