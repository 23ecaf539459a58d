// The SQLite KmsStore, one region's view: keys, aliases and internal keys of that region; versions shared by key id.
import type Database from 'better-sqlite3';
import type { AliasRecord, InternalKeyRecord, KeyRecord, KeyVersionRecord, KmsStore } from '../../kms/index.js';
import { docOf as keyDoc, page, type Row, toAlias, toInternalKey, toKey, toKeyVersion as toVersion } from '../rows.js';
import type { Page } from '../types.js';
import { SqliteGrantStore } from './kms-grants.js';

/** Keys, versions and aliases here; grants (by key ARN, which names the region) in SqliteGrantStore. */
export class SqliteKmsStore extends SqliteGrantStore implements KmsStore {
  readonly #s;
  readonly #region: string;
  readonly #insertKeyTx;
  readonly #insertVersionTx;
  readonly #deleteKeyTx;

  constructor(db: Database.Database, region: string) {
    super(db);
    this.#region = region;
    // Every statement on a regional table takes the region as its first parameter.
    this.#s = {
      insertKey: db.prepare(
        'INSERT INTO kms_keys (region, key_id, revision, state, next_rotation_at, deletion_at, doc) VALUES (?, ?, 1, ?, ?, ?, ?)',
      ),
      getKey: db.prepare('SELECT revision, doc FROM kms_keys WHERE region = ? AND key_id = ?'),
      listKeys: db.prepare(
        'SELECT revision, doc FROM kms_keys WHERE region = ? AND key_id > ? ORDER BY key_id LIMIT ?',
      ),
      updateKey: db.prepare(
        'UPDATE kms_keys SET revision = revision + 1, state = ?, next_rotation_at = ?, deletion_at = ?, doc = ? WHERE region = ? AND key_id = ? AND revision = ?',
      ),
      insertVersion: db.prepare(
        'INSERT INTO kms_key_versions (key_id, version, root_key_id, wrapped_material, created_at, rotation_type) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      getVersion: db.prepare('SELECT * FROM kms_key_versions WHERE key_id = ? AND version = ?'),
      listVersions: db.prepare('SELECT * FROM kms_key_versions WHERE key_id = ? ORDER BY version'),
      deleteKey: db.prepare('DELETE FROM kms_keys WHERE region = ? AND key_id = ? AND revision = ?'),
      // The last region holding a key id takes its versions with it.
      deleteOrphanVersions: db.prepare(
        'DELETE FROM kms_key_versions WHERE key_id = ? AND NOT EXISTS (SELECT 1 FROM kms_keys WHERE key_id = ?)',
      ),
      due: db.prepare(
        `SELECT revision, doc FROM kms_keys WHERE region = ?
         AND ((state = 'Enabled' AND next_rotation_at <= ?) OR (state = 'PendingDeletion' AND deletion_at <= ?))
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
    };
    const s = this.#s;
    this.#insertKeyTx = db.transaction((key: KeyRecord, v: KeyVersionRecord): void => {
      s.insertKey.run(region, key.keyId, key.state, key.nextRotationAt ?? null, key.deletionAt ?? null, keyDoc(key));
      s.insertVersion.run(v.keyId, v.version, v.rootKeyId, v.wrappedMaterial, v.createdAt, v.rotationType ?? null);
    });
    this.#insertVersionTx = db.transaction((key: KeyRecord, v: KeyVersionRecord): boolean => {
      if (!this.#update(key)) return false;
      s.insertVersion.run(v.keyId, v.version, v.rootKeyId, v.wrappedMaterial, v.createdAt, v.rotationType ?? null);
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
      this.#region,
      key.keyId,
      key.revision,
    );
    return r.changes === 1;
  }

  async insertKey(key: KeyRecord, firstVersion: KeyVersionRecord): Promise<void> {
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
    return (this.#s.due.all(this.#region, now, now, limit) as Row[]).map(toKey);
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
}
