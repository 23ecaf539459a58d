// The SQLite driver: the shared KmsStore and SecretsStore contracts, plus durability across reopen, WAL mode and migrations.
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/types.js';
import { describeKmsGrantStoreContract } from './kms-grants-contract.js';
import { describeKmsStoreContract, newKey, newVersion } from './kms-store-contract.js';
import { describeSecretsStoreContract } from './secrets-store-contract.js';

const dirs: string[] = [];
const openStores: Store[] = [];

// Runs after the contract's own afterEach (inner hooks first), so its store is already closed.
afterEach(async () => {
  for (const s of openStores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A database path in a fresh temp dir, removed after the test. */
function tempDbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keysafe-sqlite-store-'));
  dirs.push(dir);
  // A subdirectory the driver has to create.
  return join(dir, 'data', 'keysafe.db');
}

/** Opens the driver; anything left open is closed after the test. */
function open(path: string): Store {
  const store = openSqliteStore(path);
  openStores.push(store);
  return store;
}

describeKmsStoreContract('sqlite', async () => openSqliteStore(tempDbPath()));
describeKmsGrantStoreContract('sqlite', async () => openSqliteStore(tempDbPath()));
describeSecretsStoreContract('sqlite', async () => openSqliteStore(tempDbPath()));

describe('sqlite store', () => {
  it('keeps keys, versions, revisions and aliases across close and reopen', async () => {
    const path = tempDbPath();
    const first = open(path);
    const key = newKey({ description: 'durable', tags: [{ TagKey: 'k', TagValue: 'v' }] });
    const v1 = newVersion(key.keyId, 1, { wrappedMaterial: Buffer.from([0, 1, 2, 254, 255]) });
    await first.kms.insertKey(key, v1);
    const v2 = newVersion(key.keyId, 2, { rotationType: 'ON_DEMAND' });
    const rotated = (await first.kms.addKeyVersion({ ...key, currentVersion: 2, onDemandRotations: 1 }, v2))!;
    const alias = { name: 'alias/durable', keyId: key.keyId, createdAt: 1, updatedAt: 2 };
    expect(await first.kms.createAlias(alias)).toBe(true);
    await first.close();

    const second = open(path);
    expect(await second.kms.getKey(key.keyId)).toEqual(rotated);
    expect(rotated.revision).toBe(2);
    expect(await second.kms.listKeyVersions(key.keyId)).toEqual([v1, v2]);
    expect(await second.kms.getAlias('alias/durable')).toEqual(alias);
    // Optimistic concurrency carries on from the persisted revision.
    expect(await second.kms.updateKey({ ...key, description: 'stale' })).toBeUndefined();
    expect((await second.kms.updateKey({ ...rotated, description: 'fresh' }))!.revision).toBe(3);
  });

  it('puts the database file in WAL mode', async () => {
    const path = tempDbPath();
    const store = open(path);
    const key = newKey();
    await store.kms.insertKey(key, newVersion(key.keyId, 1));

    const whileOpen = new Database(path);
    try {
      expect(whileOpen.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      whileOpen.close();
    }

    await store.close();
    // WAL mode is persistent: the file stays in WAL mode after the driver closes it.
    const afterClose = new Database(path);
    try {
      expect(afterClose.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      afterClose.close();
    }
  });

  it('creates the database, its -wal and -shm 0600 in a 0700 directory, whatever the umask', async () => {
    const path = tempDbPath();
    // The old code relied on the umask: SQLite's own default is 0644 & ~umask.
    const umask = process.umask(0);
    let store: Store;
    try {
      store = open(path);
      const key = newKey();
      await store.kms.insertKey(key, newVersion(key.keyId, 1));
    } finally {
      process.umask(umask);
    }
    const modeOf = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(existsSync(`${path}-wal`) && existsSync(`${path}-shm`)).toBe(true);
    expect({
      dir: modeOf(join(path, '..')),
      db: modeOf(path),
      wal: modeOf(`${path}-wal`),
      shm: modeOf(`${path}-shm`),
    }).toEqual({ dir: '700', db: '600', wal: '600', shm: '600' });
  });

  it('tightens a looser database, -wal and -shm at start, and warns of a directory others can write', async () => {
    const path = tempDbPath();
    await open(path).close();
    // An older install: 0644 files, -wal and -shm still there (another connection holds them open).
    const other = new Database(path);
    other.pragma('journal_mode = WAL');
    other.exec('CREATE TABLE IF NOT EXISTS keep_wal (x)');
    try {
      const files = [path, `${path}-wal`, `${path}-shm`];
      for (const f of files) chmodSync(f, 0o644);
      const dir = join(path, '..');
      chmodSync(dir, 0o777);
      const logs: string[] = [];
      const store = openSqliteStore(path, { logger: createLogger('info', (line) => logs.push(line)) });
      openStores.push(store);
      expect(files.map((f) => (statSync(f).mode & 0o777).toString(8))).toEqual(['600', '600', '600']);
      expect(logs.filter((l) => l.includes('tightened a database file'))).toHaveLength(3);
      expect(logs.some((l) => l.includes('directory is writable by group or others'))).toBe(true);
      // The directory itself is left as it is (it may be shared).
      expect(statSync(dir).mode & 0o777).toBe(0o777);
    } finally {
      other.close();
    }
  });

  it('refuses a store migrated by a newer keysafe, and one missing a migration below its highest', async () => {
    const path = tempDbPath();
    await open(path).close();
    const edit = (sql: string) => {
      const db = new Database(path);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    };
    const newest = SQLITE_MIGRATIONS.at(-1)!.version;
    edit(`INSERT INTO schema_migrations VALUES (${newest + 1}, 'from the future', 0)`);
    expect(() => openSqliteStore(path)).toThrow(
      `store: the SQLite database has schema version ${newest + 1}, newer than this keysafe's ${newest}`,
    );
    // A dev store that applied later migrations before an earlier-numbered one landed (6 after 7-10).
    edit(`DELETE FROM schema_migrations WHERE version IN (${newest + 1}, 6)`);
    expect(() => openSqliteStore(path)).toThrow(
      `store: the SQLite database lacks migration 6 but has ${newest}; applying 6 after ${newest} is not supported`,
    );
  });

  it('records every migration in schema_migrations and does not re-apply them on reopen', async () => {
    const path = tempDbPath();
    await open(path).close();

    const readMigrations = () => {
      const db = new Database(path);
      try {
        return db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as {
          version: number;
          name: string;
          applied_at: number;
        }[];
      } finally {
        db.close();
      }
    };

    const before = readMigrations();
    expect(before.map((m) => ({ version: m.version, name: m.name }))).toEqual(
      SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
    for (const m of before) expect(typeof m.applied_at).toBe('number');

    // Reopening (twice) applies nothing new: the rows, including applied_at, are unchanged.
    const key = newKey();
    const reopened = open(path);
    await reopened.kms.insertKey(key, newVersion(key.keyId, 1));
    await reopened.close();
    await open(path).close();
    expect(readMigrations()).toEqual(before);

    const last = open(path);
    expect((await last.kms.getKey(key.keyId))!.keyId).toBe(key.keyId);
  });
});
