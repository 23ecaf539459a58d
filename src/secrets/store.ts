// The secrets domain's records, the store port its engine writes through, and when a secret next falls due.

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
  /** Set once the secret had a tag: AWS then answers `Tags` (`[]` after all were removed), never before. */
  everTagged?: true;
  /**
   * LastAccessedDate: the UTC midnight of the last day a value was read. Kept in its own column, written
   * apart from commits (recordAccess), never in the JSON document.
   */
  lastAccessedAt?: number;
  /** DeletedDate: set while the secret is scheduled for deletion. */
  deletedAt?: number;
  /** When the recovery window ends and the secret is purged. */
  purgeAt?: number;
  resourcePolicy?: string;
  rotation?: SecretRotationRecord;
  /** On a primary secret: its replicas in other regions and how each stands (ReplicationStatus). */
  replicas?: ReplicaRecord[];
  /** On a replica: the primary it follows; the replica is read-only while this is set. */
  primary?: { arn: string; region: string };
}

export type ReplicaStatus = 'InProgress' | 'InSync' | 'Failed';

/** A replica as its primary records it: InProgress from the primary's commit until the replica has it. */
export interface ReplicaRecord {
  region: string;
  /** The KmsKeyId given for the replica region; absent means that region's managed default key. */
  kmsKeyId?: string;
  status: ReplicaStatus;
  statusMessage?: string;
  /** ForceOverwriteReplicaSecret, kept until the replica is first in sync (a retry overwrites too). */
  force?: true;
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

/**
 * One region's secrets and change events: a name is unique within its region, and another
 * region's secrets and events are not seen through this view. Event cursors and their trimming
 * are global (one sequence for the whole store).
 */
export interface SecretsStore {
  /** Inserts a new secret (revision 1) with its first version, if any; false when the name is taken. */
  createSecret(change: SecretChange): Promise<boolean>;
  getSecretByArn(arn: string): Promise<SecretRecord | undefined>;
  getSecretByName(name: string): Promise<SecretRecord | undefined>;
  listSecrets(): Promise<SecretRecord[]>;
  /**
   * Sets LastAccessedDate to `day` on the secrets named (those still there) whose date is older or unset.
   * Neither revision nor document nor the change feed: a read never conflicts with a write.
   */
  recordAccess(arns: readonly string[], day: number): Promise<void>;
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
  /** This region's events with a cursor greater than `cursor`, in order. */
  eventsAfter(cursor: number, limit: number): Promise<SecretEvent[]>;
  /** Deletes events older than `before` (ms), in every region; returns how many. */
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
