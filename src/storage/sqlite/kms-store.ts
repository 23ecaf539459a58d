// The SQLite KmsStore, one region's view: keys, aliases and internal keys of that region; versions shared by key id.
import type Database from 'better-sqlite3';
import {
  type AliasRecord,
  type InternalKeyRecord,
  type KeyRecord,
  type KeyUsageRecord,
  type KeyVersionRecord,
  type KmsStore,
  materialExpiresAt,
} from '../../kms/index.js';
import { docOf as keyDoc, page, type Row, toAlias, toInternalKey, toKey, toKeyVersion as toVersion } from '../rows.js';
import type { Page } from '../types.js';
import { SqliteGrantStore } from './kms-grants.js';
import { KEY_USAGE_MIGRATION } from './migrations.js';

// Keeps the later use; a key deleted since its use was noted is skipped (the EXISTS), not an error.
const RECORD_KEY_USAGE = `INSERT INTO kms_key_usage (region, key_id, at, operation)
  SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM kms_keys WHERE region = ? AND key_id = ?)
  ON CONFLICT (region, key_id) DO UPDATE SET at = excluded.at, operation = excluded.operation WHERE excluded.at > kms_key_usage.at`;

/** Keys, versions and aliases here; grants (by key ARN, which names the region) in SqliteGrantStore. */
export class SqliteKmsStore extends SqliteGrantStore implements KmsStore {
  readonly #s;
  readonly #region: string;
  readonly #insertKeyTx;
  readonly #insertVersionTx;
  readonly #deleteKeyTx;
  readonly #recordUsageTx;
  readonly #putMaterialTx;
  readonly #deleteMaterialTx;

  constructor(db: Database.Database, region: string) {
    super(db, region);
    this.#region = region;
    // Every statement on a regional table takes the region as its first parameter.
    this.#s = {
      insertKey: db.prepare(
        'INSERT INTO kms_keys (region, key_id, revision, state, next_rotation_at, deletion_at, doc, material_expires_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)',
      ),
      getKey: db.prepare('SELECT revision, doc FROM kms_keys WHERE region = ? AND key_id = ?'),
      listKeys: db.prepare(
        'SELECT revision, doc FROM kms_keys WHERE region = ? AND key_id > ? ORDER BY key_id LIMIT ?',
      ),
      updateKey: db.prepare(
        'UPDATE kms_keys SET revision = revision + 1, state = ?, next_rotation_at = ?, deletion_at = ?, doc = ?, material_expires_at = ? WHERE region = ? AND key_id = ? AND revision = ?',
      ),
      insertVersion: db.prepare(
        'INSERT INTO kms_key_versions (key_id, version, root_key_id, wrapped_material, created_at, rotation_type) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      getVersion: db.prepare('SELECT * FROM kms_key_versions WHERE key_id = ? AND version = ?'),
      listVersions: db.prepare('SELECT * FROM kms_key_versions WHERE key_id = ? ORDER BY version'),
      deleteKey: db.prepare('DELETE FROM kms_keys WHERE region = ? AND key_id = ? AND revision = ?'),
      deleteVersion: db.prepare('DELETE FROM kms_key_versions WHERE key_id = ? AND version = ?'),
      // The last region holding a key id takes its versions with it.
      deleteOrphanVersions: db.prepare(
        'DELETE FROM kms_key_versions WHERE key_id = ? AND NOT EXISTS (SELECT 1 FROM kms_keys WHERE key_id = ?)',
      ),
      due: db.prepare(
        `SELECT revision, doc FROM kms_keys WHERE region = ?
         AND ((state = 'Enabled' AND next_rotation_at <= ?) OR (state = 'PendingDeletion' AND deletion_at <= ?)
              OR (state = 'PendingReplicaDeletion' AND deletion_at <= ?)
              OR material_expires_at <= ?)
         ORDER BY key_id LIMIT ?`,
      ),
      notWrappedBy: db.prepare('SELECT * FROM kms_key_versions WHERE root_key_id <> ? LIMIT ?'),
      rewrap: db.prepare(
        'UPDATE kms_key_versions SET root_key_id = ?, wrapped_material = ? WHERE key_id = ? AND version = ? AND root_key_id = ?',
      ),
      createAlias: db.prepare(
        'INSERT INTO kms_aliases (region, name, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (region, name) DO NOTHING',
      ),
      getAlias: db.prepare('SELECT * FROM kms_aliases WHERE region = ? AND name = ?'),
      updateAlias: db.prepare('UPDATE kms_aliases SET key_id = ?, updated_at = ? WHERE region = ? AND name = ?'),
      deleteAlias: db.prepare('DELETE FROM kms_aliases WHERE region = ? AND name = ?'),
      listAliases: db.prepare('SELECT * FROM kms_aliases WHERE region = ? AND name > ? ORDER BY name LIMIT ?'),
      listKeyAliases: db.prepare(
        'SELECT * FROM kms_aliases WHERE region = ? AND key_id = ? AND name > ? ORDER BY name LIMIT ?',
      ),
      getInternalKey: db.prepare('SELECT * FROM kms_internal_keys WHERE region = ? AND purpose = ?'),
      recordInternalKey: db.prepare(
        'INSERT INTO kms_internal_keys (region, purpose, key_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (region, purpose) DO NOTHING',
      ),
      recordKeyUsage: db.prepare(RECORD_KEY_USAGE),
      getKeyUsage: db.prepare('SELECT key_id, at, operation FROM kms_key_usage WHERE region = ? AND key_id = ?'),
      usageTrackingStart: db.prepare('SELECT applied_at FROM schema_migrations WHERE version = ?'),
    };
    const s = this.#s;
    const insertVersion = (v: KeyVersionRecord) =>
      s.insertVersion.run(v.keyId, v.version, v.rootKeyId, v.wrappedMaterial, v.createdAt, v.rotationType ?? null);
    this.#insertKeyTx = db.transaction((key: KeyRecord, v: KeyVersionRecord | undefined): void => {
      const { keyId, state, nextRotationAt, deletionAt } = key;
      const expires = materialExpiresAt(key) ?? null;
      s.insertKey.run(region, keyId, state, nextRotationAt ?? null, deletionAt ?? null, keyDoc(key), expires);
      if (v) insertVersion(v);
    });
    // Imported material replaces (or removes) a version shared by every region holding the key id.
    this.#putMaterialTx = db.transaction((key: KeyRecord, v: KeyVersionRecord): boolean => {
      if (!this.#update(key)) return false;
      s.deleteVersion.run(v.keyId, v.version);
      insertVersion(v);
      return true;
    });
    this.#deleteMaterialTx = db.transaction((key: KeyRecord, version: number): boolean => {
      if (!this.#update(key)) return false;
      s.deleteVersion.run(key.keyId, version);
      return true;
    });
    this.#recordUsageTx = db.transaction((uses: KeyUsageRecord[]): void => {
      for (const u of uses) s.recordKeyUsage.run(region, u.keyId, u.at, u.operation, region, u.keyId);
    });
    this.#insertVersionTx = db.transaction((key: KeyRecord, v: KeyVersionRecord): boolean => {
      if (!this.#update(key)) return false;
      insertVersion(v);
      return true;
    });
    this.#deleteKeyTx = db.transaction((keyId: string, revision: number): boolean => {
      // Aliases go with the key through ON DELETE CASCADE; versions only with the last region's record.
      if (s.deleteKey.run(region, keyId, revision).changes !== 1) return false;
      s.deleteOrphanVersions.run(keyId, keyId);
      return true;
    });
  }

  #update(key: KeyRecord): boolean {
    const r = this.#s.updateKey.run(
      key.state,
      key.nextRotationAt ?? null,
      key.deletionAt ?? null,
      keyDoc(key),
      materialExpiresAt(key) ?? null,
      this.#region,
      key.keyId,
      key.revision,
    );
    return r.changes === 1;
  }

  async insertKey(key: KeyRecord, firstVersion?: KeyVersionRecord): Promise<void> {
    this.#insertKeyTx.immediate(key, firstVersion);
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const row = this.#s.getKey.get(this.#region, keyId) as Row | undefined;
    return row && toKey(row);
  }

  async listKeys(limit: number, after = ''): Promise<Page<KeyRecord>> {
    const rows = (this.#s.listKeys.all(this.#region, after, limit + 1) as Row[]).map(toKey);
    return page(rows, limit, (k) => k.keyId);
  }

  async updateKey(key: KeyRecord): Promise<KeyRecord | undefined> {
    return this.#update(key) ? { ...key, revision: key.revision + 1 } : undefined;
  }

  async addKeyVersion(key: KeyRecord, version: KeyVersionRecord): Promise<KeyRecord | undefined> {
    return this.#insertVersionTx.immediate(key, version) ? { ...key, revision: key.revision + 1 } : undefined;
  }

  async putKeyMaterial(key: KeyRecord, version: KeyVersionRecord): Promise<KeyRecord | undefined> {
    return this.#putMaterialTx.immediate(key, version) ? { ...key, revision: key.revision + 1 } : undefined;
  }

  async deleteKeyMaterial(key: KeyRecord, version: number): Promise<KeyRecord | undefined> {
    return this.#deleteMaterialTx.immediate(key, version) ? { ...key, revision: key.revision + 1 } : undefined;
  }

  async getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined> {
    const row = this.#s.getVersion.get(keyId, version) as Row | undefined;
    return row && toVersion(row);
  }

  async listKeyVersions(keyId: string): Promise<KeyVersionRecord[]> {
    return (this.#s.listVersions.all(keyId) as Row[]).map(toVersion);
  }

  async deleteKey(keyId: string, expectedRevision: number): Promise<boolean> {
    return this.#deleteKeyTx.immediate(keyId, expectedRevision);
  }

  async dueKeys(now: number, limit: number): Promise<KeyRecord[]> {
    return (this.#s.due.all(this.#region, now, now, now, now, limit) as Row[]).map(toKey);
  }

  async versionsNotWrappedBy(rootKeyId: string, limit: number): Promise<KeyVersionRecord[]> {
    return (this.#s.notWrappedBy.all(rootKeyId, limit) as Row[]).map(toVersion);
  }

  async rewrapKeyVersion(
    keyId: string,
    version: number,
    fromRootKeyId: string,
    next: { rootKeyId: string; wrappedMaterial: Buffer },
  ): Promise<boolean> {
    return this.#s.rewrap.run(next.rootKeyId, next.wrappedMaterial, keyId, version, fromRootKeyId).changes === 1;
  }

  async createAlias(a: AliasRecord): Promise<boolean> {
    return this.#s.createAlias.run(this.#region, a.name, a.keyId, a.createdAt, a.updatedAt).changes === 1;
  }

  async getAlias(name: string): Promise<AliasRecord | undefined> {
    const row = this.#s.getAlias.get(this.#region, name) as Row | undefined;
    return row && toAlias(row);
  }

  async updateAlias(name: string, keyId: string, updatedAt: number): Promise<boolean> {
    return this.#s.updateAlias.run(keyId, updatedAt, this.#region, name).changes === 1;
  }

  async deleteAlias(name: string): Promise<boolean> {
    return this.#s.deleteAlias.run(this.#region, name).changes === 1;
  }

  async listAliases(limit: number, after = '', keyId?: string): Promise<Page<AliasRecord>> {
    const rows = (
      keyId === undefined
        ? this.#s.listAliases.all(this.#region, after, limit + 1)
        : this.#s.listKeyAliases.all(this.#region, keyId, after, limit + 1)
    ) as Row[];
    return page(rows.map(toAlias), limit, (a) => a.name);
  }

  async getInternalKey(purpose: string): Promise<InternalKeyRecord | undefined> {
    const row = this.#s.getInternalKey.get(this.#region, purpose) as Row | undefined;
    return row && toInternalKey(row);
  }

  async recordInternalKey(r: InternalKeyRecord): Promise<boolean> {
    return this.#s.recordInternalKey.run(this.#region, r.purpose, r.keyId, r.createdAt).changes === 1;
  }

  async recordKeyUsage(uses: KeyUsageRecord[]): Promise<void> {
    this.#recordUsageTx(uses);
  }

  async getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const row = this.#s.getKeyUsage.get(this.#region, keyId) as
      | { key_id: string; at: number; operation: string }
      | undefined;
    return row && { keyId: row.key_id, at: row.at, operation: row.operation };
  }

  async keyUsageTrackingStart(): Promise<number> {
    const row = this.#s.usageTrackingStart.get(KEY_USAGE_MIGRATION) as { applied_at: number } | undefined;
    return row?.applied_at ?? 0;
  }
}
