// The PostgreSQL driver against a real, throwaway PostgreSQL: the shared KmsStore, SecretsStore and
// TerraformStateStore contracts (a fresh schema per open), plus migrations under an advisory
// lock, durability across reopen, the auth store and the secrets store.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SecretChange, SecretRecord } from '../../src/secrets/index.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { openPostgresStore } from '../../src/storage/postgres/postgres-store.js';
import type { Store, StoreChange } from '../../src/storage/types.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { describeKmsGrantStoreContract, newGrant } from './kms-grants-contract.js';
import { describeKmsStoreContract, newKey, newVersion } from './kms-store-contract.js';
import { describeSecretsStoreContract } from './secrets-store-contract.js';
import { describeTerraformStoreContract, newLock, newStateVersion } from './terraform-store-contract.js';

let server: TestPostgres;
let admin: pg.Client;
const openStores: Store[] = [];

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

// Runs after the contracts' own afterEach, so their stores are already closed (close is idempotent).
afterEach(async () => {
  for (const s of openStores.splice(0)) await s.close();
});

function freshSchema(): string {
  return `t_${randomUUID().replaceAll('-', '')}`;
}

async function open(schema = freshSchema(), connectionString = server.url, max = 4): Promise<Store> {
  const store = await openPostgresStore({ connectionString, schema, max });
  openStores.push(store);
  return store;
}

describeKmsStoreContract('postgres', () => open());
describeKmsGrantStoreContract('postgres', () => open());
describeTerraformStoreContract('postgres', () => open());
describeSecretsStoreContract('postgres', () => open());

async function appliedMigrations(schema: string, client: pg.Client = admin) {
  const { rows } = await client.query(
    `SELECT version, name, applied_at FROM ${pg.escapeIdentifier(schema)}.schema_migrations ORDER BY version`,
  );
  return rows as { version: number; name: string; applied_at: string }[];
}

describe('postgres migrations', () => {
  it('records every migration in schema_migrations and does not re-apply them on reopen', async () => {
    const schema = freshSchema();
    await (await open(schema)).close();
    const before = await appliedMigrations(schema);
    expect(before.map((m) => ({ version: m.version, name: m.name }))).toEqual(
      POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );

    await (await open(schema)).close();
    await (await open(schema)).close();
    expect(await appliedMigrations(schema)).toEqual(before);
  });

  it('refuses a store migrated by a newer keysafe (an old replica in a rolling upgrade), and a gap below its highest', async () => {
    const schema = freshSchema();
    await (await open(schema)).close();
    const table = `${pg.escapeIdentifier(schema)}.schema_migrations`;
    const newest = POSTGRES_MIGRATIONS.at(-1)!.version;
    await admin.query(`INSERT INTO ${table} VALUES (${newest + 1}, 'from the future', 0)`);
    await expect(open(schema)).rejects.toThrow(
      `store: the PostgreSQL database has schema version ${newest + 1}, newer than this keysafe's ${newest}`,
    );
    await admin.query(`DELETE FROM ${table} WHERE version IN (${newest + 1}, 6)`);
    await expect(open(schema)).rejects.toThrow(
      `store: the PostgreSQL database lacks migration 6 but has ${newest}; applying 6 after ${newest} is not supported`,
    );
  });

  it('lets several replicas migrate an empty database at once: all succeed, each migration applied once', async () => {
    const database = `m_${randomUUID().replaceAll('-', '')}`;
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(server.url);
    url.pathname = `/${database}`;
    const settled = await Promise.allSettled([1, 2, 3, 4].map(() => open('public', url.toString())));
    expect(settled.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(
      Array(4).fill('fulfilled'),
    );
    const stores = settled.map((r) => (r as PromiseFulfilledResult<Store>).value);

    const check = new pg.Client({ connectionString: url.toString() });
    await check.connect();
    try {
      const applied = await appliedMigrations('public', check);
      expect(applied.map((m) => m.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    } finally {
      await check.end();
    }
    // Every replica works on the one schema.
    const key = newKey();
    await stores[0]!.kms.insertKey(key, newVersion(key.keyId, 1));
    for (const s of stores) expect((await s.kms.getKey(key.keyId))!.keyId).toBe(key.keyId);
    for (const s of stores) await s.close();
    await admin.query(`DROP DATABASE ${database}`);
  });

  it('fails to open, closing its pool, when the server cannot be reached', async () => {
    const url = new URL(server.url);
    url.password = 'wrong-password';
    await expect(openPostgresStore({ connectionString: url.toString(), schema: freshSchema() })).rejects.toThrow(
      /password/,
    );
  });
});

describe('postgres store durability', () => {
  it('keeps keys, versions, revisions, aliases and terraform state across close and reopen', async () => {
    const schema = freshSchema();
    const first = await open(schema);
    const key = newKey({ description: 'durable', tags: [{ TagKey: 'k', TagValue: 'v' }] });
    const v1 = newVersion(key.keyId, 1, { wrappedMaterial: Buffer.from([0, 1, 2, 254, 255]) });
    await first.kms.insertKey(key, v1);
    const v2 = newVersion(key.keyId, 2, { rotationType: 'ON_DEMAND' });
    const rotated = (await first.kms.addKeyVersion({ ...key, currentVersion: 2, onDemandRotations: 1 }, v2))!;
    const alias = { name: 'alias/durable', keyId: key.keyId, createdAt: 1, updatedAt: 2 };
    expect(await first.kms.createAlias(alias)).toBe(true);
    await first.terraform.putState(newStateVersion('app', 1), { keep: 10 });
    const lock = newLock('app');
    await first.terraform.lock(lock);
    await first.close();

    const second = await open(schema);
    expect(await second.kms.getKey(key.keyId)).toEqual(rotated);
    expect(await second.kms.listKeyVersions(key.keyId)).toEqual([v1, v2]);
    expect(await second.kms.getAlias('alias/durable')).toEqual(alias);
    expect(await second.kms.updateKey({ ...key, description: 'stale' })).toBeUndefined();
    expect((await second.kms.updateKey({ ...rotated, description: 'fresh' }))!.revision).toBe(3);
    expect(await second.terraform.getLock('app')).toEqual(lock);
    expect(await second.terraform.putState(newStateVersion('app', 2), { keep: 10, lockId: lock.id })).toEqual({
      ok: true,
      version: 2,
    });
  });

  it('refuses to keep fewer than one terraform version', async () => {
    const store = await open();
    await expect(store.terraform.putState(newStateVersion('x', 1), { keep: 0 })).rejects.toThrow(TypeError);
  });
});

describe('postgres terraform store under real overlap', () => {
  /**
   * Holds `table` locked from another session while `run` starts `n` operations, waits until all
   * n are blocked inside PostgreSQL, then lets them go at once: every check-then-write races.
   */
  async function raceBehindTableLock<T>(schema: string, table: string, n: number, run: () => Promise<T>[]) {
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${pg.escapeIdentifier(schema)}.${table} IN ACCESS EXCLUSIVE MODE`);
    const pending = Promise.allSettled(run());
    for (let i = 0; ; i++) {
      const { rows } = await admin.query(
        'SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()',
      );
      if (rows[0].n >= n) break;
      if (i > 500) throw new Error(`only ${rows[0].n} of ${n} operations blocked`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await admin.query('COMMIT');
    return pending;
  }

  it('gives a not yet locked state to exactly one of many lockers that all read before any writes', async () => {
    const schema = freshSchema();
    const { terraform } = await open(schema, server.url, 8);
    const locks = Array.from({ length: 8 }, () => newLock('race'));
    const settled = await raceBehindTableLock(schema, 'terraform_locks', 8, () => locks.map((l) => terraform.lock(l)));
    expect(settled.map((r) => r.status)).toEqual(Array(8).fill('fulfilled'));
    const results = settled.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof terraform.lock>>>).value);
    expect(results.filter((r) => r.acquired)).toHaveLength(1);
    const winner = locks[results.findIndex((r) => r.acquired)]!;
    expect(await terraform.getLock('race')).toEqual(winner);
  });

  it('lets exactly one of many first writes of a new state win; the rest are stale', async () => {
    const schema = freshSchema();
    const { terraform } = await open(schema, server.url, 8);
    const settled = await raceBehindTableLock(schema, 'terraform_locks', 8, () =>
      Array.from({ length: 8 }, () => terraform.putState(newStateVersion('fresh', 1), { keep: 10 })),
    );
    expect(settled.map((r) => r.status)).toEqual(Array(8).fill('fulfilled'));
    const results = settled.map(
      (r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof terraform.putState>>>).value,
    );
    expect(results.filter((r) => r.ok)).toEqual([{ ok: true, version: 1 }]);
    for (const r of results) if (!r.ok) expect(r).toEqual({ ok: false, reason: 'stale-serial', serial: 1 });
    expect(await terraform.listStateVersions('fresh')).toHaveLength(1);
  });
});

describe('postgres auth store', () => {
  it('creates, replaces, lists in name order per kind and deletes entries', async () => {
    const { auth } = await open();
    await auth.putAuthEntry({ kind: 'role', name: 'b', doc: '{"v":1}', updatedAt: 1 });
    await auth.putAuthEntry({ kind: 'role', name: 'a', doc: '{"v":1}', updatedAt: 2 });
    await auth.putAuthEntry({ kind: 'issuer', name: 'a', doc: '{"iss":1}', updatedAt: 3 });
    await auth.putAuthEntry({ kind: 'role', name: 'b', doc: '{"v":2}', updatedAt: 4 });

    expect(await auth.listAuthEntries('role')).toEqual([
      { kind: 'role', name: 'a', doc: '{"v":1}', updatedAt: 2 },
      { kind: 'role', name: 'b', doc: '{"v":2}', updatedAt: 4 },
    ]);
    expect(await auth.listAuthEntries('issuer')).toEqual([
      { kind: 'issuer', name: 'a', doc: '{"iss":1}', updatedAt: 3 },
    ]);
    expect(await auth.deleteAuthEntry('role', 'a')).toBe(true);
    expect(await auth.deleteAuthEntry('role', 'a')).toBe(false);
    expect((await auth.listAuthEntries('role')).map((e) => e.name)).toEqual(['b']);
    expect(await auth.listAuthEntries('issuer')).toHaveLength(1);
  });

  it('only moves a revocation forward, also under concurrent revocations', async () => {
    const { auth } = await open();
    await auth.revokeSessions('deployer', 2_000);
    await auth.revokeSessions('deployer', 1_000);
    await auth.revokeSessions('reader', 5);
    expect(await auth.listRevocations()).toEqual(
      new Map([
        ['deployer', 2_000],
        ['reader', 5],
      ]),
    );
    await Promise.all([3_000, 9_000, 4_000, 7_000].map((t) => auth.revokeSessions('deployer', t)));
    expect((await auth.listRevocations()).get('deployer')).toBe(9_000);
  });
});

describe('postgres secrets store', () => {
  const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`;

  function secret(name: string, overrides: Partial<SecretRecord> = {}): SecretRecord {
    return { arn: arn(name), name, revision: 1, createdAt: 10, lastChangedAt: 10, tags: [], ...overrides };
  }

  function createChange(name: string, versionId = 'v1'): SecretChange {
    return {
      secret: secret(name),
      newVersion: {
        secretArn: arn(name),
        versionId,
        createdAt: 10,
        kmsKeyArn: 'arn:kms',
        wrappedKey: Buffer.from([0, 255, 1]),
        ciphertext: Buffer.from([9, 0, 8]),
        binary: false,
      },
      stages: { AWSCURRENT: versionId },
      events: [{ type: 'SecretCreated' }, { type: 'VersionCreated', versionId }],
    };
  }

  it('notifies listeners of every kind of committed change, and of none rolled back', async () => {
    const store = await open();
    const changes: StoreChange[] = [];
    let resyncs = 0;
    await store.coordination!.watch({ change: (c) => changes.push(c), resync: () => resyncs++ });
    expect(resyncs).toBe(1); // caches start clean once listening

    const key = newKey();
    await store.kms.insertKey(key, newVersion(key.keyId, 1));
    await store.kms.updateKey({ ...key, description: 'changed' });
    await store.kms.createAlias({ name: 'alias/app', keyId: key.keyId, createdAt: 1, updatedAt: 1 });
    await store.secrets.createSecret(createChange('db'));
    const read = (await store.secrets.getSecretByName('db'))!;
    await store.secrets.commit({ secret: { ...read, lastChangedAt: 20 }, events: [] }, 20);
    // A commit that loses its revision check changes nothing and announces nothing.
    expect(await store.secrets.commit({ secret: { ...read, lastChangedAt: 30 }, events: [] }, 30)).toBeUndefined();
    await store.auth.putAuthEntry({ kind: 'role', name: 'web', doc: '{}', updatedAt: 1 });

    const expected: StoreChange[] = [
      { kind: 'key', keyId: key.keyId },
      { kind: 'alias', name: 'alias/app' },
      { kind: 'events' },
      { kind: 'secret', arn: arn('db') },
      { kind: 'auth' },
    ];
    for (const deadline = Date.now() + 5000; changes.length < expected.length && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 10));
    expect(changes).toEqual(expected);
  });

  it('creates a secret with its first version and stage, refusing a taken name', async () => {
    const { secrets } = await open();
    expect(await secrets.createSecret(createChange('db'))).toBe(true);
    expect(await secrets.createSecret({ ...createChange('db'), secret: secret('db', { arn: 'other' }) })).toBe(false);
    expect(await secrets.getSecretByName('db')).toEqual(secret('db'));
    expect(await secrets.getSecretByArn(arn('db'))).toEqual(secret('db'));
    const current = await secrets.getVersionByStage(arn('db'), 'AWSCURRENT');
    expect(current).toEqual({ ...createChange('db').newVersion, stages: ['AWSCURRENT'] });
    expect((await secrets.eventsAfter(0, 10)).map((e) => [e.cursor, e.type])).toEqual([
      [1, 'SecretCreated'],
      [2, 'VersionCreated'],
    ]);
  });

  it('applies a commit against the current revision, moves stages, and lets one of two racing commits win', async () => {
    const { secrets } = await open();
    await secrets.createSecret(createChange('db'));
    const read = (await secrets.getSecretByName('db'))!;
    const next = (versionId: string): SecretChange => ({
      secret: { ...read, lastChangedAt: 20 },
      newVersion: { secretArn: read.arn, versionId, createdAt: 20, binary: true, ciphertext: Buffer.from('x') },
      stages: { AWSCURRENT: versionId, AWSPREVIOUS: 'v1' },
      events: [{ type: 'VersionCreated', versionId }],
    });
    const results = await Promise.all([secrets.commit(next('v2'), 20), secrets.commit(next('v3'), 20)]);
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    const winner = results[0] ? 'v2' : 'v3';
    expect((await secrets.getSecretByName('db'))!.revision).toBe(2);
    expect((await secrets.listVersions(read.arn)).map((v) => [v.versionId, v.stages])).toEqual([
      ['v1', ['AWSPREVIOUS']],
      [winner, ['AWSCURRENT']],
    ]);
    expect(await secrets.commit(next('v4'), 30)).toBeUndefined();
  });

  it('hands out gap-free event cursors in commit order under concurrent writers, and trims by time', async () => {
    const { secrets } = await open();
    await Promise.all(Array.from({ length: 12 }, (_, i) => secrets.createSecret(createChange(`s${i}`))));
    const events = await secrets.eventsAfter(0, 100);
    expect(events.map((e) => e.cursor)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(await secrets.eventCursors()).toEqual({ latest: 24, oldest: 1 });
    expect(await secrets.trimEvents(11)).toBe(24);
    // The newest cursor ever given survives the trim.
    expect(await secrets.eventCursors()).toEqual({ latest: 24, oldest: undefined });
    const s0 = (await secrets.getSecretByName('s0'))!;
    expect(await secrets.purgeSecret(s0, 50)).toBe(true);
    expect(await secrets.purgeSecret(s0, 50)).toBe(false);
    expect(await secrets.eventsAfter(24, 10)).toEqual([
      { cursor: 25, at: 50, secretArn: s0.arn, secretName: 's0', type: 'SecretPurged' },
    ]);
    expect(await secrets.listVersions(s0.arn)).toEqual([]);
  });

  it('answers secrets due by their earliest due time', async () => {
    const { secrets } = await open();
    await secrets.createSecret({ ...createChange('late'), secret: secret('late', { purgeAt: 500 }) });
    await secrets.createSecret({ ...createChange('early'), secret: secret('early', { purgeAt: 100 }) });
    await secrets.createSecret(createChange('never'));
    expect((await secrets.dueSecrets(1_000, 10)).map((s) => s.name)).toEqual(['early', 'late']);
    expect((await secrets.dueSecrets(200, 10)).map((s) => s.name)).toEqual(['early']);
  });
});

describe('postgres grant quotas under real overlap', () => {
  it('lets exactly one of many inserters that all counted before any wrote take the last room on a key', async () => {
    const schema = freshSchema();
    const { kms } = await open(schema, server.url, 8);
    const quota = { perKey: 4, perGrantee: 4 };
    for (let i = 0; i < 3; i++)
      await kms.insertGrant(newGrant({ granteePrincipal: `arn:aws:iam::000000000000:role/a${i}` }), quota);
    // EXCLUSIVE lets their counts read, but holds every insert: without a per-key lock, all eight
    // would count three grants, then all insert.
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${pg.escapeIdentifier(schema)}.kms_grants IN EXCLUSIVE MODE`);
    const pending = Promise.all(
      Array.from({ length: 8 }, (_, n) =>
        kms.insertGrant(newGrant({ granteePrincipal: `arn:aws:iam::000000000000:role/r${n}` }), quota),
      ),
    );
    for (let i = 0; ; i++) {
      const { rows } = await admin.query(
        'SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()',
      );
      if (rows[0].n >= 8) break;
      if (i > 500) throw new Error(`only ${rows[0].n} of 8 inserters blocked`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await admin.query('COMMIT');
    const results = await pending;
    expect(results.filter((r) => 'grant' in r)).toHaveLength(1);
    expect(results.filter((r) => 'exceeded' in r && r.exceeded === 'perKey')).toHaveLength(7);
    expect((await kms.listGrants(newGrant().keyArn, 10)).items).toHaveLength(4);
  });
});
