// The SQLite TerraformStateStore: the shared contract, plus durability across reopen and the upgrade from schema 3.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/types.js';
import { tempDir } from '../support/server.js';
import { describeTerraformStoreContract, newLock, newStateVersion } from './terraform-store-contract.js';

const dirs: string[] = [];
const openStores: Store[] = [];

afterEach(async () => {
  for (const s of openStores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDbPath(): string {
  const dir = tempDir('keysafe-terraform-store-');
  dirs.push(dir);
  return join(dir, 'keysafe.db');
}

function open(path: string): Store {
  const store = openSqliteStore(path);
  openStores.push(store);
  return store;
}

describeTerraformStoreContract('sqlite', async () => open(tempDbPath()));

describe('sqlite terraform store', () => {
  it('keeps versions, their numbering and locks across close and reopen', async () => {
    const path = tempDbPath();
    const first = open(path);
    await first.terraform.putState(newStateVersion('app', 1), { keep: 10 });
    await first.terraform.putState(newStateVersion('app', 2), { keep: 10 });
    const lock = newLock('app');
    await first.terraform.lock(lock);
    await first.close();

    const second = open(path);
    expect((await second.terraform.getState('app'))!.version).toBe(2);
    expect(await second.terraform.getLock('app')).toEqual(lock);
    expect(await second.terraform.putState(newStateVersion('app', 3), { keep: 10, lockId: lock.id })).toEqual({
      ok: true,
      version: 3,
    });
  });

  it('adds the terraform tables to a database created before them (schema 3)', async () => {
    const path = tempDbPath();
    const db = new Database(path);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)');
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 3)) {
      db.exec(m.sql as string);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        0,
      );
    }
    db.close();

    const store = open(path);
    expect(await store.terraform.putState(newStateVersion('upgraded', 1), { keep: 10 })).toEqual({
      ok: true,
      version: 1,
    });
    const check = new Database(path, { readonly: true });
    const versions = check.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
      version: number;
    }[];
    check.close();
    expect(versions.map((v) => v.version)).toContain(4);
  });

  it('refuses to keep fewer than one version', async () => {
    const store = open(tempDbPath());
    await expect(store.terraform.putState(newStateVersion('x', 1), { keep: 0 })).rejects.toThrow(TypeError);
  });
});
