// Rows → records, shared by the SQLite and PostgreSQL drivers: both store the same columns.
import type { AliasRecord, GrantRecord, InternalKeyRecord, KeyRecord, KeyVersionRecord } from '../kms/index.js';
import type { SecretEvent, SecretRecord, SecretVersionRecord } from '../secrets/index.js';
import type {
  TerraformLockRecord,
  TerraformStateVersionInfo,
  TerraformStateVersionRecord,
} from '../terraform/index.js';
import type { Page } from './types.js';

export type Row = Record<string, unknown>;

/** A record kept as a JSON `doc` column beside its `revision` column. */
export function fromDoc<T extends { revision: number }>(row: Row): T {
  return { ...(JSON.parse(row.doc as string) as Omit<T, 'revision'>), revision: row.revision as number } as T;
}

/** The `doc` column for a record: everything but its revision. */
export function docOf(record: { revision: number }): string {
  const { revision: _, ...doc } = record;
  return JSON.stringify(doc);
}

export const toKey = (row: Row): KeyRecord => fromDoc<KeyRecord>(row);
/** A secret: its document, and LastAccessedDate from its own column (recordAccess writes it, commits never do). */
export function toSecret(row: Row): SecretRecord {
  const { lastAccessedAt: _, ...secret } = fromDoc<SecretRecord>(row);
  const accessed = row.last_accessed_at;
  return accessed === null || accessed === undefined ? secret : { ...secret, lastAccessedAt: Number(accessed) };
}

/** A secret's `doc` column: its record without revision and LastAccessedDate (kept in their own columns). */
export function secretDocOf(record: SecretRecord): string {
  const { lastAccessedAt: _, ...rest } = record;
  return docOf(rest);
}

export function toKeyVersion(row: Row): KeyVersionRecord {
  const v: KeyVersionRecord = {
    keyId: row.key_id as string,
    version: row.version as number,
    rootKeyId: row.root_key_id as string,
    wrappedMaterial: row.wrapped_material as Buffer,
    createdAt: row.created_at as number,
  };
  if (row.rotation_type) v.rotationType = row.rotation_type as 'AUTOMATIC' | 'ON_DEMAND';
  return v;
}

export function toAlias(row: Row): AliasRecord {
  return {
    name: row.name as string,
    keyId: row.key_id as string,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

export function toInternalKey(row: Row): InternalKeyRecord {
  return { purpose: row.purpose as string, keyId: row.key_id as string, createdAt: Number(row.created_at) };
}

/** A grant's columns in the order both drivers' INSERT names them. */
export const GRANT_COLUMNS =
  'grant_id, key_arn, name, grantee_principal, retiring_principal, operations, constraints, created_at, issuing_account, fingerprint';

export function grantValues(g: GrantRecord): unknown[] {
  return [
    g.grantId,
    g.keyArn,
    g.name ?? null,
    g.granteePrincipal,
    g.retiringPrincipal ?? null,
    JSON.stringify(g.operations),
    g.constraints === undefined ? null : JSON.stringify(g.constraints),
    g.createdAt,
    g.issuingAccount,
    g.fingerprint,
  ];
}

export function toGrant(row: Row): GrantRecord {
  const g: GrantRecord = {
    grantId: row.grant_id as string,
    keyArn: row.key_arn as string,
    granteePrincipal: row.grantee_principal as string,
    operations: JSON.parse(row.operations as string) as GrantRecord['operations'],
    createdAt: Number(row.created_at),
    issuingAccount: row.issuing_account as string,
    fingerprint: row.fingerprint as string,
  };
  if (row.name !== null) g.name = row.name as string;
  if (row.retiring_principal !== null) g.retiringPrincipal = row.retiring_principal as string;
  if (row.constraints !== null) g.constraints = JSON.parse(row.constraints as string) as GrantRecord['constraints'];
  return g;
}

/** `limit` items, and the cursor of the last one when one more row was read. */
export function page<T>(rows: T[], limit: number, cursor: (t: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, next: cursor(items[items.length - 1]!) };
}

/** A secret version; the drivers decode `stages` and the binary flag their own way. */
export function toSecretVersion(row: Row, stages: string[], binary: boolean): SecretVersionRecord {
  const v: SecretVersionRecord = {
    secretArn: row.secret_arn as string,
    versionId: row.version_id as string,
    createdAt: row.created_at as number,
    stages,
    binary,
  };
  if (row.kms_key_arn !== null) v.kmsKeyArn = row.kms_key_arn as string;
  if (row.wrapped_key !== null) v.wrappedKey = row.wrapped_key as Buffer;
  if (row.ciphertext !== null) v.ciphertext = row.ciphertext as Buffer;
  return v;
}

export function toSecretEvent(row: Row): SecretEvent {
  const e: SecretEvent = {
    cursor: row.cursor as number,
    at: row.at as number,
    secretArn: row.secret_arn as string,
    secretName: row.secret_name as string,
    type: row.type as SecretEvent['type'],
  };
  if (row.version_id !== null) e.versionId = row.version_id as string;
  return e;
}

export function toStateInfo(row: Row): TerraformStateVersionInfo {
  return {
    name: row.name as string,
    version: row.version as number,
    serial: row.serial as number,
    lineage: row.lineage as string,
    createdAt: row.created_at as number,
    size: row.size as number,
    kmsKeyArn: row.kms_key_arn as string,
  };
}

export function toStateVersion(row: Row): TerraformStateVersionRecord {
  return { ...toStateInfo(row), wrappedKey: row.wrapped_key as Buffer, ciphertext: row.ciphertext as Buffer };
}

export function toLock(row: Row): TerraformLockRecord {
  return {
    name: row.name as string,
    id: row.lock_id as string,
    info: row.info as string,
    createdAt: row.created_at as number,
  };
}
