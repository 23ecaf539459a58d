// The embedded SQLite driver (better-sqlite3, WAL, synchronous=FULL) for every store interface.
import { chmodSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../../core/config-error.js';
import {
  type AliasRecord,
  type InternalKeyRecord,
  type KeyRecord,
  type KeyUsageRecord,
  type KeyVersionRecord,
  type KmsStore,
  materialExpiresAt,
} from '../../kms/index.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { docOf as keyDoc, page, type Row, toAlias, toInternalKey, toKey, toKeyVersion as toVersion } from '../rows.js';
import type { Page, Store } from '../types.js';
import { SqliteAuthStore } from './auth-store.js';
import { SqliteGrantStore } from './kms-grants.js';
import { KEY_USAGE_MIGRATION, SQLITE_MIGRATIONS } from './migrations.js';
import { SqliteSecretsStore } from './secrets-store.js';
import { storageFault, whyNotWritable, withStorageFaults } from './store-faults.js';
import { SqliteTerraformStore } from './terraform-store.js';

// Keeps the later use; a key deleted since its use was noted is skipped (the EXISTS), not an error.
const RECORD_KEY_USAGE = `INSERT INTO kms_key_usage (key_id, at, operation)
  SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM kms_keys WHERE key_id = ?)
  ON CONFLICT (key_id) DO UPDATE SET at = excluded.at, operation = excluded.operation WHERE excluded.at > kms_key_usage.at`;

export interface SqliteStoreOptions {
  /** Where storage faults (disk full, read-only, I/O errors) are reported. */
  logger?: Logger;
}

export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  const logger = options.logger ?? createLogger('info');
  if (path !== ':memory:') preparePrivateFiles(path, logger);
  const db = openWritable(path);
  return {
    kms: withStorageFaults(new SqliteKmsStore(db), logger),
    secrets: withStorageFaults(new SqliteSecretsStore(db), logger),
    auth: withStorageFaults(new SqliteAuthStore(db), logger),
    terraform: withStorageFaults(new SqliteTerraformStore(db), logger),
    close: async () => {
      if (db.open) db.close();
    },
  };
}

/**
 * The database holds every key's wrapped material and all metadata in clear (names, policies,
 * tags): only the server's user may read it. Its directory is created 0700, a new database file
 * 0600 before SQLite opens it, and SQLite gives its -wal and -shm files the database file's mode.
 * Looser files of an older install are tightened (they are the server's own); a directory others
 * can write to only gets a warning, as it may be shared (`--store sqlite:./x.db` is in the working
 * directory), and changing its mode could break whatever else uses it.
 */
function preparePrivateFiles(path: string, logger: Logger): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    // O_EXCL: an existing file (maybe another replica's, just made) is left as it is.
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
  } catch {
    // Exists, or cannot be created: openWritable reports the latter with the reason.
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch {
      continue; // no -wal or -shm yet: SQLite makes them with the database file's mode
    }
    if ((mode & 0o077) === 0) continue;
    try {
      chmodSync(file, mode & 0o700);
      logger.warn('tightened a database file that group or others could access', { file, was: octal(mode) });
    } catch (e) {
      logger.warn('a database file is accessible by group or others and cannot be tightened', {
        file,
        mode: octal(mode),
        error: (e as NodeJS.ErrnoException).code,
      });
    }
  }
  try {
    const mode = statSync(dir).mode & 0o777;
    // Readable, it shows file names only; writable, others could replace the files or plant a -wal.
    if ((mode & 0o022) !== 0) {
      logger.warn('the database directory is writable by group or others; run chmod 700 on it', {
        dir,
        mode: octal(mode),
      });
    }
  } catch {
    // openWritable reports a missing or unreadable directory
  }
}

const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/**
 * Opens and migrates the database, or throws a ConfigError naming the file when it cannot be
 * written. SQLite would otherwise open a read-only file read-only and the server fail only at its
 * first write (after a crash left the WAL behind), or stop with a bare "unable to open database
 * file" stack. A read-only server could not recover by itself anyway: its connection stays
 * read-only after the volume is fixed. Failing at start lets the supervisor retry until it is.
 */
function openWritable(path: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    // WAL + FULL: every commit is fsynced before it returns, so an acknowledged write survives
    // kill -9 and power loss; readers never block the writer.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // A file SQLite could open only read-only fails here (SQLITE_READONLY), not at the first
    // write: a write rolled back (beginning a write transaction alone does not notice).
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec('CREATE TABLE keysafe_write_probe (x)');
    } finally {
      if (db.inTransaction) db.exec('ROLLBACK');
    }
    migrate(db);
    return db;
  } catch (e) {
    if (db?.open) db.close();
    const fault = storageFault(e);
    if (!fault) throw e;
    const why = whyNotWritable(path);
    throw new ConfigError(
      `store: cannot open the SQLite database ${path}: ${fault.reason} (${fault.code}${why ? `, ${why}` : ''}); the server needs a writable file and directory with free space`,
    );
  }
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of SQLITE_MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }).immediate();
  }
}

/** Keys, versions and aliases here; grants in SqliteGrantStore. */
class SqliteKmsStore extends SqliteGrantStore implements KmsStore {
  readonly #s;
  readonly #insertKeyTx;
  readonly #insertVersionTx;
  readonly #deleteKeyTx;
  readonly #recordUsageTx;
  readonly #putMaterialTx;
  readonly #deleteMaterialTx;

  constructor(db: Database.Database) {
    super(db);
    this.#s = {
      insertKey: db.prepare(
        'INSERT INTO kms_keys (key_id, revision, state, next_rotation_at, deletion_at, doc, material_expires_at) VALUES (?, 1, ?, ?, ?, ?, ?)',
      ),
      getKey: db.prepare('SELECT revision, doc FROM kms_keys WHERE key_id = ?'),
      listKeys: db.prepare('SELECT revision, doc FROM kms_keys WHERE key_id > ? ORDER BY key_id LIMIT ?'),
      updateKey: db.prepare(
        'UPDATE kms_keys SET revision = revision + 1, state = ?, next_rotation_at = ?, deletion_at = ?, doc = ?, material_expires_at = ? WHERE key_id = ? AND revision = ?',
      ),
      insertVersion: db.prepare(
        'INSERT INTO kms_key_versions (key_id, version, root_key_id, wrapped_material, created_at, rotation_type) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      getVersion: db.prepare('SELECT * FROM kms_key_versions WHERE key_id = ? AND version = ?'),
      listVersions: db.prepare('SELECT * FROM kms_key_versions WHERE key_id = ? ORDER BY version'),
      deleteKey: db.prepare('DELETE FROM kms_keys WHERE key_id = ? AND revision = ?'),
      deleteVersion: db.prepare('DELETE FROM kms_key_versions WHERE key_id = ? AND version = ?'),
      due: db.prepare(
        `SELECT revision, doc FROM kms_keys
         WHERE (state = 'Enabled' AND next_rotation_at <= ?) OR (state = 'PendingDeletion' AND deletion_at <= ?)
            OR material_expires_at <= ?
         ORDER BY key_id LIMIT ?`,
      ),
      notWrappedBy: db.prepare('SELECT * FROM kms_key_versions WHERE root_key_id <> ? LIMIT ?'),
      rewrap: db.prepare(
        'UPDATE kms_key_versions SET root_key_id = ?, wrapped_material = ? WHERE key_id = ? AND version = ? AND root_key_id = ?',
      ),
      createAlias: db.prepare(
        'INSERT INTO kms_aliases (name, key_id, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING',
      ),
      getAlias: db.prepare('SELECT * FROM kms_aliases WHERE name = ?'),
      updateAlias: db.prepare('UPDATE kms_aliases SET key_id = ?, updated_at = ? WHERE name = ?'),
      deleteAlias: db.prepare('DELETE FROM kms_aliases WHERE name = ?'),
      listAliases: db.prepare('SELECT * FROM kms_aliases WHERE name > ? ORDER BY name LIMIT ?'),
      listKeyAliases: db.prepare('SELECT * FROM kms_aliases WHERE key_id = ? AND name > ? ORDER BY name LIMIT ?'),
      getInternalKey: db.prepare('SELECT * FROM kms_internal_keys WHERE purpose = ?'),
      recordInternalKey: db.prepare(
        'INSERT INTO kms_internal_keys (purpose, key_id, created_at) VALUES (?, ?, ?) ON CONFLICT (purpose) DO NOTHING',
      ),
      recordKeyUsage: db.prepare(RECORD_KEY_USAGE),
      getKeyUsage: db.prepare('SELECT key_id, at, operation FROM kms_key_usage WHERE key_id = ?'),
      usageTrackingStart: db.prepare('SELECT applied_at FROM schema_migrations WHERE version = ?'),
    };
    const s = this.#s;
    this.#insertKeyTx = db.transaction((key: KeyRecord, v: KeyVersionRecord | undefined): void => {
      s.insertKey.run(
        key.keyId,
        key.state,
        key.nextRotationAt ?? null,
        key.deletionAt ?? null,
        keyDoc(key),
        materialExpiresAt(key) ?? null,
      );
      if (v)
        s.insertVersion.run(v.keyId, v.version, v.rootKeyId, v.wrappedMaterial, v.createdAt, v.rotationType ?? null);
    });
    this.#putMaterialTx = db.transaction((key: KeyRecord, v: KeyVersionRecord): boolean => {
      if (!this.#update(key)) return false;
      s.deleteVersion.run(v.keyId, v.version);
      s.insertVersion.run(v.keyId, v.version, v.rootKeyId, v.wrappedMaterial, v.createdAt, v.rotationType ?? null);
      return true;
    });
    this.#deleteMaterialTx = db.transaction((key: KeyRecord, version: number): boolean => {
      if (!this.#update(key)) return false;
      s.deleteVersion.run(key.keyId, version);
      return true;
    });
    this.#insertVersionTx = db.transaction((key: KeyRecord, v: KeyVersionRecord): boolean => {
      if (!this.#update(key)) return false;
      s.insertVersion.run(v.keyId, v.version, v.rootKeyId, v.wrappedMaterial, v.createdAt, v.rotationType ?? null);
      return true;
    });
    this.#recordUsageTx = db.transaction((uses: KeyUsageRecord[]): void => {
      for (const u of uses) s.recordKeyUsage.run(u.keyId, u.at, u.operation, u.keyId);
    });
    this.#deleteKeyTx = db.transaction((keyId: string, revision: number): boolean => {
      // Versions and aliases go with the key through ON DELETE CASCADE.
      return s.deleteKey.run(keyId, revision).changes === 1;
    });
  }

  #update(key: KeyRecord): boolean {
    const r = this.#s.updateKey.run(
      key.state,
      key.nextRotationAt ?? null,
      key.deletionAt ?? null,
      keyDoc(key),
      materialExpiresAt(key) ?? null,
      key.keyId,
      key.revision,
    );
    return r.changes === 1;
  }

  async insertKey(key: KeyRecord, firstVersion?: KeyVersionRecord): Promise<void> {
    this.#insertKeyTx.immediate(key, firstVersion);
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const row = this.#s.getKey.get(keyId) as Row | undefined;
    return row && toKey(row);
  }

  async listKeys(limit: number, after = ''): Promise<Page<KeyRecord>> {
    const rows = (this.#s.listKeys.all(after, limit + 1) as Row[]).map(toKey);
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
    return (this.#s.due.all(now, now, now, limit) as Row[]).map(toKey);
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
    return this.#s.createAlias.run(a.name, a.keyId, a.createdAt, a.updatedAt).changes === 1;
  }

  async getAlias(name: string): Promise<AliasRecord | undefined> {
    const row = this.#s.getAlias.get(name) as Row | undefined;
    return row && toAlias(row);
  }

  async updateAlias(name: string, keyId: string, updatedAt: number): Promise<boolean> {
    return this.#s.updateAlias.run(keyId, updatedAt, name).changes === 1;
  }

  async deleteAlias(name: string): Promise<boolean> {
    return this.#s.deleteAlias.run(name).changes === 1;
  }

  async listAliases(limit: number, after = '', keyId?: string): Promise<Page<AliasRecord>> {
    const rows = (
      keyId === undefined
        ? this.#s.listAliases.all(after, limit + 1)
        : this.#s.listKeyAliases.all(keyId, after, limit + 1)
    ) as Row[];
    return page(rows.map(toAlias), limit, (a) => a.name);
  }

  async getInternalKey(purpose: string): Promise<InternalKeyRecord | undefined> {
    const row = this.#s.getInternalKey.get(purpose) as Row | undefined;
    return row && toInternalKey(row);
  }

  async recordInternalKey(r: InternalKeyRecord): Promise<boolean> {
    return this.#s.recordInternalKey.run(r.purpose, r.keyId, r.createdAt).changes === 1;
  }

  async recordKeyUsage(uses: KeyUsageRecord[]): Promise<void> {
    this.#recordUsageTx(uses);
  }

  async getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const row = this.#s.getKeyUsage.get(keyId) as { key_id: string; at: number; operation: string } | undefined;
    return row && { keyId: row.key_id, at: row.at, operation: row.operation };
  }

  async keyUsageTrackingStart(): Promise<number> {
    const row = this.#s.usageTrackingStart.get(KEY_USAGE_MIGRATION) as { applied_at: number } | undefined;
    return row?.applied_at ?? 0;
  }
}
