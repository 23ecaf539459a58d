// The PostgreSQL KmsStore, one region's view: keys (record as JSON text plus the columns the
// scheduler queries), aliases and internal keys of that region, and wrapped versions shared by key id. Revision checks are single conditional statements
// (`UPDATE … WHERE revision = $n`), atomic under READ COMMITTED.

import {
  type AliasRecord,
  type InternalKeyRecord,
  type KeyRecord,
  type KeyUsageRecord,
  type KeyVersionRecord,
  type KmsStore,
  materialExpiresAt,
} from '../../kms/index.js';
import { docOf as keyDoc, page, toAlias, toInternalKey, toKey, toKeyVersion as toVersion } from '../rows.js';
import type { Page } from '../types.js';
import { PostgresGrantStore } from './kms-grants.js';
import { KEY_USAGE_MIGRATION } from './migrations.js';
import type { PgDatabase, Queryable } from './pool.js';

const INSERT_VERSION =
  'INSERT INTO kms_key_versions (key_id, version, root_key_id, wrapped_material, created_at, rotation_type) VALUES ($1, $2, $3, $4, $5, $6)';

function insertVersion(c: Queryable, v: KeyVersionRecord) {
  return c.query(INSERT_VERSION, [
    v.keyId,
    v.version,
    v.rootKeyId,
    v.wrappedMaterial,
    v.createdAt,
    v.rotationType ?? null,
  ]);
}

async function update(c: Queryable, region: string, key: KeyRecord): Promise<boolean> {
  const r = await c.query(
    'UPDATE kms_keys SET revision = revision + 1, state = $1, next_rotation_at = $2, deletion_at = $3, doc = $4, material_expires_at = $8 WHERE region = $5 AND key_id = $6 AND revision = $7',
    [
      key.state,
      key.nextRotationAt ?? null,
      key.deletionAt ?? null,
      keyDoc(key),
      region,
      key.keyId,
      key.revision,
      materialExpiresAt(key) ?? null,
    ],
  );
  return r.rowCount === 1;
}

/** Keys, versions and aliases here; grants in PostgresGrantStore. */
export class PostgresKmsStore extends PostgresGrantStore implements KmsStore {
  readonly #db: PgDatabase;
  readonly #region: string;

  constructor(db: PgDatabase, region: string) {
    super(db, region);
    this.#db = db;
    this.#region = region;
  }

  async insertKey(key: KeyRecord, firstVersion?: KeyVersionRecord): Promise<void> {
    await this.#db.tx(async (c) => {
      await c.query(
        'INSERT INTO kms_keys (region, key_id, revision, state, next_rotation_at, deletion_at, doc, material_expires_at) VALUES ($1, $2, 1, $3, $4, $5, $6, $7)',
        [
          this.#region,
          key.keyId,
          key.state,
          key.nextRotationAt ?? null,
          key.deletionAt ?? null,
          keyDoc(key),
          materialExpiresAt(key) ?? null,
        ],
      );
      if (firstVersion) await insertVersion(c, firstVersion);
    });
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const { rows } = await this.#db.query('SELECT revision, doc FROM kms_keys WHERE region = $1 AND key_id = $2', [
      this.#region,
      keyId,
    ]);
    return rows[0] && toKey(rows[0]);
  }

  async listKeys(limit: number, after = ''): Promise<Page<KeyRecord>> {
    const { rows } = await this.#db.query(
      'SELECT revision, doc FROM kms_keys WHERE region = $1 AND key_id > $2 ORDER BY key_id LIMIT $3',
      [this.#region, after, limit + 1],
    );
    return page(rows.map(toKey), limit, (k) => k.keyId);
  }

  async updateKey(key: KeyRecord): Promise<KeyRecord | undefined> {
    return (await update(this.#db, this.#region, key)) ? { ...key, revision: key.revision + 1 } : undefined;
  }

  async addKeyVersion(key: KeyRecord, version: KeyVersionRecord): Promise<KeyRecord | undefined> {
    // The conditional UPDATE takes the key's row lock first, so a concurrent rotation from the
    // same read waits for this one and then finds the revision moved on.
    const ok = await this.#db.tx(async (c) => {
      if (!(await update(c, this.#region, key))) return false;
      await insertVersion(c, version);
      return true;
    });
    return ok ? { ...key, revision: key.revision + 1 } : undefined;
  }

  async putKeyMaterial(key: KeyRecord, version: KeyVersionRecord): Promise<KeyRecord | undefined> {
    const ok = await this.#db.tx(async (c) => {
      if (!(await update(c, this.#region, key))) return false;
      await c.query('DELETE FROM kms_key_versions WHERE key_id = $1 AND version = $2', [
        version.keyId,
        version.version,
      ]);
      await insertVersion(c, version);
      return true;
    });
    return ok ? { ...key, revision: key.revision + 1 } : undefined;
  }

  async deleteKeyMaterial(key: KeyRecord, version: number): Promise<KeyRecord | undefined> {
    const ok = await this.#db.tx(async (c) => {
      if (!(await update(c, this.#region, key))) return false;
      await c.query('DELETE FROM kms_key_versions WHERE key_id = $1 AND version = $2', [key.keyId, version]);
      return true;
    });
    return ok ? { ...key, revision: key.revision + 1 } : undefined;
  }

  async getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined> {
    const { rows } = await this.#db.query('SELECT * FROM kms_key_versions WHERE key_id = $1 AND version = $2', [
      keyId,
      version,
    ]);
    return rows[0] && toVersion(rows[0]);
  }

  async listKeyVersions(keyId: string): Promise<KeyVersionRecord[]> {
    const { rows } = await this.#db.query('SELECT * FROM kms_key_versions WHERE key_id = $1 ORDER BY version', [keyId]);
    return rows.map(toVersion);
  }

  async deleteKey(keyId: string, expectedRevision: number): Promise<boolean> {
    // Aliases go with the key through ON DELETE CASCADE; versions only with the last region's record.
    return this.#db.tx(async (c) => {
      const r = await c.query('DELETE FROM kms_keys WHERE region = $1 AND key_id = $2 AND revision = $3', [
        this.#region,
        keyId,
        expectedRevision,
      ]);
      if (r.rowCount !== 1) return false;
      await c.query(
        'DELETE FROM kms_key_versions WHERE key_id = $1 AND NOT EXISTS (SELECT 1 FROM kms_keys WHERE key_id = $1)',
        [keyId],
      );
      return true;
    });
  }

  async dueKeys(now: number, limit: number): Promise<KeyRecord[]> {
    const { rows } = await this.#db.query(
      `SELECT revision, doc FROM kms_keys WHERE region = $3
       AND ((state = 'Enabled' AND next_rotation_at <= $1) OR (state = 'PendingDeletion' AND deletion_at <= $1)
            OR (state = 'PendingReplicaDeletion' AND deletion_at <= $1)
            OR material_expires_at <= $1)
       ORDER BY key_id LIMIT $2`,
      [now, limit, this.#region],
    );
    return rows.map(toKey);
  }

  async versionsNotWrappedBy(rootKeyId: string, limit: number): Promise<KeyVersionRecord[]> {
    const { rows } = await this.#db.query(
      'SELECT * FROM kms_key_versions WHERE root_key_id <> $1 ORDER BY key_id, version LIMIT $2',
      [rootKeyId, limit],
    );
    return rows.map(toVersion);
  }

  async rewrapKeyVersion(
    keyId: string,
    version: number,
    fromRootKeyId: string,
    next: { rootKeyId: string; wrappedMaterial: Buffer },
  ): Promise<boolean> {
    const r = await this.#db.query(
      'UPDATE kms_key_versions SET root_key_id = $1, wrapped_material = $2 WHERE key_id = $3 AND version = $4 AND root_key_id = $5',
      [next.rootKeyId, next.wrappedMaterial, keyId, version, fromRootKeyId],
    );
    return r.rowCount === 1;
  }

  async createAlias(a: AliasRecord): Promise<boolean> {
    const r = await this.#db.query(
      'INSERT INTO kms_aliases (region, name, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (region, name) DO NOTHING',
      [this.#region, a.name, a.keyId, a.createdAt, a.updatedAt],
    );
    return r.rowCount === 1;
  }

  async getAlias(name: string): Promise<AliasRecord | undefined> {
    const { rows } = await this.#db.query('SELECT * FROM kms_aliases WHERE region = $1 AND name = $2', [
      this.#region,
      name,
    ]);
    return rows[0] && toAlias(rows[0]);
  }

  async updateAlias(name: string, keyId: string, updatedAt: number): Promise<boolean> {
    const r = await this.#db.query(
      'UPDATE kms_aliases SET key_id = $1, updated_at = $2 WHERE region = $3 AND name = $4',
      [keyId, updatedAt, this.#region, name],
    );
    return r.rowCount === 1;
  }

  async deleteAlias(name: string): Promise<boolean> {
    const r = await this.#db.query('DELETE FROM kms_aliases WHERE region = $1 AND name = $2', [this.#region, name]);
    return r.rowCount === 1;
  }

  async listAliases(limit: number, after = '', keyId?: string): Promise<Page<AliasRecord>> {
    const { rows } =
      keyId === undefined
        ? await this.#db.query('SELECT * FROM kms_aliases WHERE region = $1 AND name > $2 ORDER BY name LIMIT $3', [
            this.#region,
            after,
            limit + 1,
          ])
        : await this.#db.query(
            'SELECT * FROM kms_aliases WHERE region = $1 AND key_id = $2 AND name > $3 ORDER BY name LIMIT $4',
            [this.#region, keyId, after, limit + 1],
          );
    return page(rows.map(toAlias), limit, (a) => a.name);
  }

  async getInternalKey(purpose: string): Promise<InternalKeyRecord | undefined> {
    const { rows } = await this.#db.query('SELECT * FROM kms_internal_keys WHERE region = $1 AND purpose = $2', [
      this.#region,
      purpose,
    ]);
    return rows[0] && toInternalKey(rows[0]);
  }

  async recordInternalKey(r: InternalKeyRecord): Promise<boolean> {
    const res = await this.#db.query(
      'INSERT INTO kms_internal_keys (region, purpose, key_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (region, purpose) DO NOTHING',
      [this.#region, r.purpose, r.keyId, r.createdAt],
    );
    return res.rowCount === 1;
  }

  /** One statement for the batch: the later use wins per key; keys deleted meanwhile are skipped. */
  async recordKeyUsage(uses: KeyUsageRecord[]): Promise<void> {
    if (uses.length === 0) return;
    await this.#db.query(
      `INSERT INTO kms_key_usage (region, key_id, at, operation)
       SELECT $4, u.key_id, u.at, u.operation FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u (key_id, at, operation)
       WHERE EXISTS (SELECT 1 FROM kms_keys k WHERE k.region = $4 AND k.key_id = u.key_id)
       ON CONFLICT (region, key_id) DO UPDATE SET at = excluded.at, operation = excluded.operation
       WHERE excluded.at > kms_key_usage.at`,
      [uses.map((u) => u.keyId), uses.map((u) => u.at), uses.map((u) => u.operation), this.#region],
    );
  }

  async getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const { rows } = await this.#db.query(
      'SELECT key_id, at, operation FROM kms_key_usage WHERE region = $1 AND key_id = $2',
      [this.#region, keyId],
    );
    const row = rows[0];
    return row && { keyId: String(row.key_id), at: Number(row.at), operation: String(row.operation) };
  }

  async keyUsageTrackingStart(): Promise<number> {
    const { rows } = await this.#db.query('SELECT applied_at FROM schema_migrations WHERE version = $1', [
      KEY_USAGE_MIGRATION,
    ]);
    return rows[0] ? Number(rows[0].applied_at) : 0;
  }
}
