// The embedded SQLite driver (better-sqlite3, WAL, synchronous=FULL) for every store interface.
import { chmodSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../../core/config-error.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { type MigrationOptions, migrationOptions } from '../migration-options.js';
import { pendingMigrations } from '../migration-plan.js';
import type { RegionalStore, Store, StoreOptions } from '../types.js';
import { SqliteAuthStore } from './auth-store.js';
import { SqliteKmsStore } from './kms-store.js';
import { SQLITE_MIGRATIONS, sqlOf } from './migrations.js';
import { SqliteSecretsStore } from './secrets-store.js';
import { storageFault, whyNotWritable, withStorageFaults } from './store-faults.js';
import { SqliteTerraformStore } from './terraform-store.js';

export interface SqliteStoreOptions extends StoreOptions {
  /** Where storage faults (disk full, read-only, I/O errors) are reported. */
  logger?: Logger;
}

export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  const logger = options.logger ?? createLogger('info');
  const migration = migrationOptions(options.defaultRegion);
  if (path !== ':memory:') preparePrivateFiles(path, logger);
  const db = openWritable(path, migration);
  const views = new Map<string, RegionalStore>();
  const inRegion = (region: string): RegionalStore => {
    let view = views.get(region);
    if (!view) {
      view = {
        region,
        kms: withStorageFaults(new SqliteKmsStore(db, region), logger),
        secrets: withStorageFaults(new SqliteSecretsStore(db, region), logger),
      };
      views.set(region, view);
    }
    return view;
  };
  const regions = db.prepare('SELECT region FROM kms_keys UNION SELECT region FROM secrets ORDER BY region');
  const home = inRegion(migration.defaultRegion);
  return {
    kms: home.kms,
    secrets: home.secrets,
    defaultRegion: migration.defaultRegion,
    inRegion,
    regions: async () => (regions.all() as { region: string }[]).map((r) => r.region),
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
function openWritable(path: string, options: MigrationOptions): Database.Database {
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
    migrate(db, options);
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

function migrate(db: Database.Database, options: MigrationOptions): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of pendingMigrations('SQLite', SQLITE_MIGRATIONS, applied)) {
    // foreign_keys cannot change inside a transaction; off, dropping a rebuilt table cascades nowhere.
    if (m.rebuildsTables) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(sqlOf(m, options));
        if (m.rebuildsTables && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new Error(`migration ${m.version} would break a foreign key`);
        }
        record.run(m.version, m.name, Date.now());
      }).immediate();
    } finally {
      if (m.rebuildsTables) db.pragma('foreign_keys = ON');
    }
  }
}
