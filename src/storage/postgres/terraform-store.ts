// The PostgreSQL TerraformStateStore: encrypted state versions, and the locks Terraform takes around them.
//
// Every write to a state runs in one transaction that first takes a transaction-level advisory
// lock on the state's name, then reads the lock and head rows FOR UPDATE. The advisory lock
// also covers rows that do not exist yet (the first write, the first lock), which row locks
// cannot; so the lock, lineage and serial checks and the write are one atomic step per state.

import type {
  TerraformLockRecord,
  TerraformPutResult,
  TerraformStateStore,
  TerraformStateVersionInfo,
  TerraformStateVersionRecord,
  TerraformUnlockResult,
} from '../../terraform/index.js';
import { toStateInfo as toInfo, toLock, toStateVersion as toVersion } from '../rows.js';
import { LOCK_CLASS_TERRAFORM, type PgDatabase, type Queryable } from './pool.js';

/** Serialises every writer of the state `name` until the transaction ends. */
async function lockName(c: Queryable, name: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS_TERRAFORM, name]);
}

async function lockOf(c: Queryable, name: string): Promise<TerraformLockRecord | undefined> {
  const { rows } = await c.query('SELECT * FROM terraform_locks WHERE name = $1 FOR UPDATE', [name]);
  return rows[0] && toLock(rows[0]);
}

export class PostgresTerraformStore implements TerraformStateStore {
  readonly #db: PgDatabase;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  async getState(name: string): Promise<TerraformStateVersionRecord | undefined> {
    const { rows } = await this.#db.query(
      `SELECT v.* FROM terraform_state_versions v JOIN terraform_states s
         ON s.name = v.name AND s.latest_version = v.version WHERE s.name = $1`,
      [name],
    );
    return rows[0] && toVersion(rows[0]);
  }

  async getStateVersion(name: string, version: number): Promise<TerraformStateVersionRecord | undefined> {
    const { rows } = await this.#db.query('SELECT * FROM terraform_state_versions WHERE name = $1 AND version = $2', [
      name,
      version,
    ]);
    return rows[0] && toVersion(rows[0]);
  }

  async listStateVersions(name: string): Promise<TerraformStateVersionInfo[]> {
    const { rows } = await this.#db.query(
      'SELECT name, version, serial, lineage, created_at, size, kms_key_arn FROM terraform_state_versions WHERE name = $1 ORDER BY version DESC',
      [name],
    );
    return rows.map(toInfo);
  }

  async putState(
    state: Omit<TerraformStateVersionRecord, 'version'>,
    options: { lockId?: string; keep: number },
  ): Promise<TerraformPutResult> {
    const { lockId, keep } = options;
    if (!Number.isInteger(keep) || keep < 1) throw new TypeError('keep must be a positive integer');
    return this.#db.tx(async (c): Promise<TerraformPutResult> => {
      await lockName(c, state.name);
      const lock = await lockOf(c, state.name);
      if (lock && lock.id !== lockId) return { ok: false, reason: 'locked', lock };
      if (!lock && lockId !== undefined) return { ok: false, reason: 'not-locked' };
      const { rows } = await c.query(
        'SELECT serial, lineage, latest_version FROM terraform_states WHERE name = $1 FOR UPDATE',
        [state.name],
      );
      const head = rows[0];
      if (head && head.lineage !== state.lineage) {
        return { ok: false, reason: 'lineage-mismatch', lineage: head.lineage as string };
      }
      if (head && (head.serial as number) >= state.serial) {
        return { ok: false, reason: 'stale-serial', serial: head.serial as number };
      }
      const version = ((head?.latest_version as number | undefined) ?? 0) + 1;
      await c.query(
        `INSERT INTO terraform_states (name, serial, lineage, latest_version, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO UPDATE SET serial = excluded.serial, lineage = excluded.lineage,
           latest_version = excluded.latest_version, updated_at = excluded.updated_at`,
        [state.name, state.serial, state.lineage, version, state.createdAt],
      );
      await c.query(
        `INSERT INTO terraform_state_versions
           (name, version, serial, lineage, created_at, size, kms_key_arn, wrapped_key, ciphertext)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          state.name,
          version,
          state.serial,
          state.lineage,
          state.createdAt,
          state.size,
          state.kmsKeyArn,
          state.wrappedKey,
          state.ciphertext,
        ],
      );
      await c.query('DELETE FROM terraform_state_versions WHERE name = $1 AND version <= $2', [
        state.name,
        version - keep,
      ]);
      return { ok: true, version };
    });
  }

  async deleteState(
    name: string,
    lockId?: string,
  ): Promise<{ ok: true; deleted: boolean } | { ok: false; reason: 'locked'; lock: TerraformLockRecord }> {
    return this.#db.tx(async (c) => {
      await lockName(c, name);
      const lock = await lockOf(c, name);
      if (lock && lock.id !== lockId) return { ok: false, reason: 'locked', lock } as const;
      // The versions go with the state through ON DELETE CASCADE.
      const r = await c.query('DELETE FROM terraform_states WHERE name = $1', [name]);
      return { ok: true, deleted: r.rowCount === 1 } as const;
    });
  }

  async getLock(name: string): Promise<TerraformLockRecord | undefined> {
    const { rows } = await this.#db.query('SELECT * FROM terraform_locks WHERE name = $1', [name]);
    return rows[0] && toLock(rows[0]);
  }

  async lock(
    lock: TerraformLockRecord,
  ): Promise<{ acquired: true } | { acquired: false; holder: TerraformLockRecord }> {
    return this.#db.tx(async (c) => {
      await lockName(c, lock.name);
      const holder = await lockOf(c, lock.name);
      if (holder) return holder.id === lock.id ? ({ acquired: true } as const) : ({ acquired: false, holder } as const);
      await c.query('INSERT INTO terraform_locks (name, lock_id, info, created_at) VALUES ($1, $2, $3, $4)', [
        lock.name,
        lock.id,
        lock.info,
        lock.createdAt,
      ]);
      return { acquired: true } as const;
    });
  }

  async unlock(name: string, id: string): Promise<TerraformUnlockResult> {
    return this.#db.tx(async (c): Promise<TerraformUnlockResult> => {
      await lockName(c, name);
      const lock = await lockOf(c, name);
      if (!lock) return { outcome: 'not-locked' };
      if (lock.id !== id) return { outcome: 'held', lock };
      await c.query('DELETE FROM terraform_locks WHERE name = $1', [name]);
      return { outcome: 'released' };
    });
  }

  async forceUnlock(name: string): Promise<TerraformLockRecord | undefined> {
    return this.#db.tx(async (c) => {
      await lockName(c, name);
      const { rows } = await c.query('DELETE FROM terraform_locks WHERE name = $1 RETURNING *', [name]);
      return rows[0] && toLock(rows[0]);
    });
  }
}
