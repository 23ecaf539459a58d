// `keysafe migrate`: copies a SQLite store into an empty PostgreSQL store, in one transaction.
//
// Rows are copied as they are: key material stays wrapped under the root key and secret values
// stay encrypted under their data keys, so the PostgreSQL servers need the same root key and
// nothing is ever decrypted here. Both schemas have the same tables and columns.
import Database from 'better-sqlite3';
import pg from 'pg';
import { ConfigError } from '../core/config-error.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { StoreOptions } from './types.js';

/** Parents before children (foreign keys), each in an order that keeps insertion order meaningful. */
const TABLES: readonly { name: string; orderBy: string }[] = [
  { name: 'kms_keys', orderBy: 'region, key_id' },
  { name: 'kms_key_versions', orderBy: 'key_id, version' },
  { name: 'kms_aliases', orderBy: 'region, name' },
  { name: 'kms_internal_keys', orderBy: 'region, purpose' },
  { name: 'kms_key_usage', orderBy: 'region, key_id' },
  { name: 'kms_grants', orderBy: 'grant_id' },
  { name: 'secrets', orderBy: 'arn' },
  // PostgreSQL numbers versions in insertion order (seq) where SQLite has its rowid.
  { name: 'secret_versions', orderBy: 'rowid' },
  { name: 'secret_stages', orderBy: 'secret_arn, stage' },
  { name: 'secret_events', orderBy: 'cursor' },
  { name: 'auth_entries', orderBy: 'kind, name' },
  { name: 'auth_revocations', orderBy: 'role' },
  { name: 'terraform_states', orderBy: 'name' },
  { name: 'terraform_state_versions', orderBy: 'name, version' },
  { name: 'terraform_locks', orderBy: 'name' },
];

const BATCH = 200;

export type MigrationCounts = Record<string, number>;

/**
 * `options.defaultRegion`: the region a SQLite store written before regions moves its data to
 * (the server's `region:`); every row's region is copied as it is.
 */
export async function migrateSqliteToPostgres(
  sqlitePath: string,
  postgresUrl: string,
  options: StoreOptions = {},
): Promise<MigrationCounts> {
  // Opening each store the usual way brings both schemas up to date first.
  await (await openSqliteStore(sqlitePath, options)).close();
  await (await openPostgresStore(postgresUrl, options)).close();

  const source = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  const target = new pg.Client({ connectionString: postgresUrl });
  await target.connect();
  try {
    await target.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    for (const { name } of TABLES) {
      const { rows } = await target.query(`SELECT EXISTS (SELECT 1 FROM ${name}) AS used`);
      if (rows[0].used) {
        throw new ConfigError(
          `the PostgreSQL store is not empty (table ${name} has rows); migrate into a new database`,
        );
      }
    }
    const counts: MigrationCounts = {};
    for (const table of TABLES) counts[table.name] = await copyTable(source, target, table.name, table.orderBy);
    await target.query('UPDATE secret_event_head SET latest = (SELECT COALESCE(MAX(cursor), 0) FROM secret_events)');
    await target.query('COMMIT');
    return counts;
  } catch (e) {
    await target.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    source.close();
    await target.end();
  }
}

async function copyTable(source: Database.Database, target: pg.Client, table: string, orderBy: string) {
  const types = await columnTypes(target, table);
  const columns = (source.pragma(`table_info(${table})`) as { name: string }[])
    .map((c) => c.name)
    .filter((c) => types.has(c));
  const placeholders = (row: number) => `(${columns.map((_, i) => `$${row * columns.length + i + 1}`).join(', ')})`;
  let copied = 0;
  let batch: unknown[][] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await target.query(
      `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${batch.map((_, i) => placeholders(i)).join(', ')}`,
      batch.flat(),
    );
    copied += batch.length;
    batch = [];
  };
  const rows = source
    .prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY ${orderBy}`)
    .raw()
    .iterate();
  for (const row of rows as Iterable<unknown[]>) {
    // SQLite keeps booleans as 0/1.
    batch.push(row.map((v, i) => (types.get(columns[i]!) === 'boolean' ? v === 1 : v)));
    if (batch.length === BATCH) await flush();
  }
  await flush();
  return copied;
}

/** The table's columns that can be written (not generated), with their types. */
async function columnTypes(target: pg.Client, table: string): Promise<Map<string, string>> {
  const { rows } = await target.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'NO' AND is_generated = 'NEVER'`,
    [table],
  );
  return new Map(rows.map((r) => [r.column_name, r.data_type]));
}
