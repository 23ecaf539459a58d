// Upgrading a store written before regions (test/fixtures/store-v5, made by main's server of that time): on
// SQLite and on PostgreSQL, every key, alias and secret lands in the default region and still decrypts;
// another region sees none of it.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DecryptCommand, DescribeKeyCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { CLI } from '../support/process.js';
import { failure, sdkClients } from '../support/sdk.js';
import { startTestServer, tempDir } from '../support/server.js';

const run = promisify(execFile);
const FIXTURE = join(import.meta.dirname, '../fixtures/store-v5');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  keyId: string;
  ciphertext: string;
  encryptionContext: Record<string, string>;
  plaintext: string;
  secrets: Record<string, string>;
};

/** A data dir holding the fixture's database and root key. */
function fixtureDataDir(): string {
  const dir = tempDir('keysafe-v5-');
  mkdirSync(dir, { recursive: true });
  for (const f of ['keysafe.db', 'root.key']) {
    copyFileSync(join(FIXTURE, f), join(dir, f));
    // A checkout gives files 0644 whatever they were committed with; the server wants its own 0600.
    chmodSync(join(dir, f), 0o600);
  }
  return dir;
}

/** Starts today's server on the store and checks what the fixture holds, region by region. */
async function checkUpgraded(dataDir: string, store?: string): Promise<void> {
  const server = await startTestServer({ dataDir, ...(store && { flags: { store } }) });
  const us = sdkClients(server, { region: 'us-east-1' });
  const eu = sdkClients(server, { region: 'eu-west-1' });
  try {
    const back = await us.kms.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(expected.ciphertext, 'base64'),
        EncryptionContext: expected.encryptionContext,
      }),
    );
    expect(Buffer.from(back.Plaintext!).toString()).toBe(expected.plaintext);
    expect((await us.kms.send(new DescribeKeyCommand({ KeyId: 'alias/v5' }))).KeyMetadata!.Arn).toBe(
      `arn:aws:kms:us-east-1:000000000000:key/${expected.keyId}`,
    );
    for (const [arn, value] of Object.entries(expected.secrets)) {
      expect((await us.secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe(value);
      const name = arn.split(':secret:')[1]!.slice(0, -7);
      expect((await us.secrets.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(value);
      expect(await failure(eu.secrets.send(new GetSecretValueCommand({ SecretId: name })))).toMatchObject({
        name: 'ResourceNotFoundException',
      });
    }
    expect(await failure(eu.kms.send(new DescribeKeyCommand({ KeyId: 'alias/v5' })))).toMatchObject({
      name: 'NotFoundException',
      message: 'Alias arn:aws:kms:eu-west-1:000000000000:alias/v5 is not found.',
    });
    expect((await eu.kms.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId)).not.toContain(expected.keyId);
    expect((await eu.secrets.send(new ListSecretsCommand({}))).SecretList).toEqual([]);
    expect((await us.secrets.send(new ListSecretsCommand({}))).SecretList!.map((s) => s.ARN).sort()).toEqual(
      Object.keys(expected.secrets).sort(),
    );
  } finally {
    for (const c of [us, eu]) {
      c.kms.destroy();
      c.secrets.destroy();
    }
    await server.close();
  }
}

describe('a SQLite store written before regions', () => {
  it('opens with every record in the default region, still decrypting, and only once migrated', async () => {
    const dir = fixtureDataDir();
    try {
      await checkUpgraded(dir);
      const db = new Database(join(dir, 'keysafe.db'), { readonly: true });
      try {
        for (const table of ['kms_keys', 'kms_aliases', 'kms_internal_keys', 'secrets', 'secret_events']) {
          const regions = db.prepare(`SELECT DISTINCT region FROM ${table}`).all();
          expect(regions, table).toEqual([{ region: 'us-east-1' }]);
        }
        expect(db.prepare('SELECT version FROM schema_migrations WHERE version = 6').all()).toHaveLength(1);
      } finally {
        db.close();
      }
      // A second start finds nothing left to migrate and the same data.
      await checkUpgraded(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with region: changed under its data: sessions and Terraform state would be orphaned', async () => {
    const dir = fixtureDataDir();
    try {
      await checkUpgraded(dir);
      await expect(startTestServer({ dataDir: dir, config: { region: 'eu-west-1' } })).rejects.toThrow(
        "region: is eu-west-1, but this store's internal keys (sessions, Terraform state) are in us-east-1; set region: us-east-1",
      );
      const cli = await run(process.execPath, [
        CLI,
        'server',
        '--data-dir',
        dir,
        '--config',
        join(dir, 'config.json'),
      ]).catch((e: { code: number; stderr: string }) => e);
      expect(cli).toMatchObject({ code: 2 });
      expect((cli as { stderr: string }).stderr).toContain('set region: us-east-1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a PostgreSQL store written before regions', () => {
  let postgres: TestPostgres;
  beforeAll(async () => {
    postgres = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await postgres?.stop();
  });

  it('opens with every record in the default region, still decrypting', async () => {
    const url = await postgresOfTheTime(postgres);
    const dir = fixtureDataDir();
    try {
      await checkUpgraded(dir, url);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (const table of ['kms_keys', 'kms_aliases', 'kms_internal_keys', 'secrets', 'secret_events']) {
          const { rows } = await client.query(`SELECT DISTINCT region FROM ${table}`);
          expect(rows, table).toEqual([{ region: 'us-east-1' }]);
        }
      } finally {
        await client.end();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("moved by keysafe migrate, takes the region: of the server's --config, not us-east-1", async () => {
    const dir = fixtureDataDir();
    const config = join(dir, 'server.json');
    writeFileSync(config, JSON.stringify({ region: 'eu-west-1' }));
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      await run(process.execPath, [CLI, 'migrate', '--data-dir', dir, '--config', config, '--to', postgres.url]);
      for (const table of ['kms_keys', 'kms_aliases', 'kms_internal_keys', 'secrets']) {
        const { rows } = await client.query(`SELECT DISTINCT region FROM ${table}`);
        expect(rows, table).toEqual([{ region: 'eu-west-1' }]);
      }
    } finally {
      await client.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The tables the store of that time had, parents first, with what orders their rows. */
const TABLES = [
  'kms_keys',
  'kms_key_versions',
  'kms_aliases',
  'kms_internal_keys',
  'secrets',
  'secret_versions',
  'secret_stages',
  'secret_events',
];

/**
 * A PostgreSQL database as the code of that time left it: its six migrations applied, and the
 * fixture's rows copied as its `keysafe migrate` did (the same columns, booleans as booleans).
 */
async function postgresOfTheTime(postgres: TestPostgres): Promise<string> {
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query('CREATE DATABASE store_v5');
  await admin.end();
  const url = postgres.url.replace(/\/postgres$/, '/store_v5');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // A copy: SQLite would leave -shm and -wal files beside the fixture itself, even read-only.
  const source = new Database(join(fixtureDataDir(), 'keysafe.db'), { readonly: true });
  try {
    await client.query(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 6)) {
      await client.query(m.sql as string);
      await client.query('INSERT INTO schema_migrations VALUES ($1, $2, 0)', [m.version, m.name]);
    }
    for (const table of TABLES) {
      const rows = source.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all() as Record<string, unknown>[];
      for (const row of rows) {
        const columns = Object.keys(row);
        const values = columns.map((c) => (c === 'is_binary' ? row[c] === 1 : row[c]));
        await client.query(
          `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          values,
        );
      }
    }
    await client.query('UPDATE secret_event_head SET latest = (SELECT MAX(cursor) FROM secret_events)');
  } finally {
    source.close();
    await client.end();
  }
  return url;
}
