// A small wrapper over pg.Pool: BIGINT read as number, an optional schema (search_path), and
// transactions that roll back on error and retry serialization failures and deadlocks.
import pg from 'pg';
import { AppError } from '../../core/errors.js';

export type { Row } from '../rows.js';

import type { Row } from '../rows.js';

/** A pool or a client inside a transaction. */
export interface Queryable {
  query<R extends Row = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export type Isolation = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export interface PostgresOptions {
  connectionString: string;
  /** The schema holding the tables (created by the migrations when missing); default `public`. */
  schema?: string;
  /** Pool size; default 10. */
  max?: number;
}

const INT8_OID = 20;

/** Millisecond timestamps and revisions are BIGINT; they fit a double exactly (< 2^53). */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * The database unreachable or refusing work (connection lost or refused, shutting down, out of
 * disk or connections): answered ServiceUnavailableException, which clients retry, not a 500.
 */
function unavailable(e: unknown): unknown {
  const code = (e as { code?: unknown })?.code;
  const message = (e as Error)?.message ?? '';
  const fault =
    typeof code === 'string'
      ? /^(08|53|57P0)/.test(code) ||
        /^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NOTFOUND|AI_AGAIN)$/.test(code)
      : /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect/i.test(message);
  return fault
    ? new AppError(
        'ServiceUnavailableException',
        `The data store is unavailable (${typeof code === 'string' ? code : 'connection lost'}); retry shortly.`,
      )
    : e;
}

/** SQLSTATEs after which the whole transaction can simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);

export class PgDatabase {
  readonly pool: pg.Pool;
  readonly schema: string;
  #closed: Promise<void> | undefined;

  constructor(options: PostgresOptions) {
    this.schema = options.schema ?? 'public';
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.max ?? 10,
      // A database that does not answer fails requests after a while instead of holding them forever.
      connectionTimeoutMillis: 10_000,
      types,
      // Every connection resolves unqualified table names in the store's schema only.
      options: `-c search_path=${pg.escapeIdentifier(this.schema).replace(/[\\ ]/g, '\\$&')}`,
    });
    // An idle client losing its connection must not crash the process; the pool drops it.
    this.pool.on('error', () => {});
  }

  async query<R extends Row = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (e) {
      throw unavailable(e);
    }
  }

  /** Runs `fn` in one transaction; commits its result, rolls back on error, retries conflicts. */
  async tx<T>(fn: (c: Queryable) => Promise<T>, isolation: Isolation = 'READ COMMITTED'): Promise<T> {
    try {
      return await this.#tx(fn, isolation);
    } catch (e) {
      throw unavailable(e);
    }
  }

  async #tx<T>(fn: (c: Queryable) => Promise<T>, isolation: Isolation): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        try {
          await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
        } catch (err) {
          broken = err as Error;
          throw err;
        }
        try {
          const result = await fn(client);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackErr) {
            broken = rollbackErr as Error;
          }
          const code = (err as { code?: string }).code;
          if (code && RETRYABLE.has(code) && attempt < 5) continue;
          throw err;
        }
      } finally {
        client.release(broken);
      }
    }
  }

  /** Runs `fn` on one connection holding a session-level advisory lock, released afterwards. */
  async withAdvisoryLock<T>(key: [number, number], fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', key);
      try {
        return await fn(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', key);
      }
    } catch (err) {
      // A connection in an unknown state (e.g. still holding the lock) is discarded, not reused.
      broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.pool.end();
    return this.#closed;
  }
}

/** Advisory lock keys (two int4 form); the first names the purpose, so they never collide. */
export const LOCK_MIGRATIONS: [number, number] = [0x6b657973, 1];
export const LOCK_CLASS_TERRAFORM = 0x6b657974;
/** With the schema's hash: the scheduler lease of the replicas sharing that schema. */
export const LOCK_CLASS_SCHEDULER = 0x6b657975;
/** With the key ARN's hash: the inserters of one key's grants (the grant quotas). */
export const LOCK_CLASS_GRANTS = 0x6b657976;
