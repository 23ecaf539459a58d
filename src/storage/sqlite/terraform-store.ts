// The SQLite TerraformStateStore: encrypted state versions, and the locks Terraform takes around them.
import type Database from 'better-sqlite3';
import type {
  TerraformLockRecord,
  TerraformPutResult,
  TerraformStateStore,
  TerraformStateVersionInfo,
  TerraformStateVersionRecord,
  TerraformUnlockResult,
} from '../../terraform/index.js';
import { type Row, toStateInfo as toInfo, toLock, toStateVersion as toVersion } from '../rows.js';

export class SqliteTerraformStore implements TerraformStateStore {
  readonly #s;
  readonly #putTx;
  readonly #deleteTx;
  readonly #lockTx;
  readonly #unlockTx;
  readonly #forceUnlockTx;

  constructor(db: Database.Database) {
    this.#s = {
      head: db.prepare('SELECT serial, lineage, latest_version FROM terraform_states WHERE name = ?'),
      latest: db.prepare(
        `SELECT v.* FROM terraform_state_versions v JOIN terraform_states s
           ON s.name = v.name AND s.latest_version = v.version WHERE s.name = ?`,
      ),
      version: db.prepare('SELECT * FROM terraform_state_versions WHERE name = ? AND version = ?'),
      versions: db.prepare(
        'SELECT name, version, serial, lineage, created_at, size, kms_key_arn FROM terraform_state_versions WHERE name = ? ORDER BY version DESC',
      ),
      upsertHead: db.prepare(
        `INSERT INTO terraform_states (name, serial, lineage, latest_version, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET serial = excluded.serial, lineage = excluded.lineage,
           latest_version = excluded.latest_version, updated_at = excluded.updated_at`,
      ),
      insertVersion: db.prepare(
        `INSERT INTO terraform_state_versions
           (name, version, serial, lineage, created_at, size, kms_key_arn, wrapped_key, ciphertext)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      trim: db.prepare('DELETE FROM terraform_state_versions WHERE name = ? AND version <= ?'),
      deleteState: db.prepare('DELETE FROM terraform_states WHERE name = ?'),
      getLock: db.prepare('SELECT * FROM terraform_locks WHERE name = ?'),
      insertLock: db.prepare(
        'INSERT INTO terraform_locks (name, lock_id, info, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING',
      ),
      deleteLock: db.prepare('DELETE FROM terraform_locks WHERE name = ?'),
    };
    const s = this.#s;
    const lockOf = (name: string): TerraformLockRecord | undefined => {
      const row = s.getLock.get(name) as Row | undefined;
      return row && toLock(row);
    };

    this.#putTx = db.transaction(
      (state: Omit<TerraformStateVersionRecord, 'version'>, lockId: string | undefined, keep: number) => {
        const lock = lockOf(state.name);
        if (lock && lock.id !== lockId) return { ok: false, reason: 'locked', lock } as const;
        if (!lock && lockId !== undefined) return { ok: false, reason: 'not-locked' } as const;
        const head = s.head.get(state.name) as Row | undefined;
        if (head && head.lineage !== state.lineage) {
          return { ok: false, reason: 'lineage-mismatch', lineage: head.lineage as string } as const;
        }
        if (head && (head.serial as number) >= state.serial) {
          return { ok: false, reason: 'stale-serial', serial: head.serial as number } as const;
        }
        const version = ((head?.latest_version as number | undefined) ?? 0) + 1;
        s.upsertHead.run(state.name, state.serial, state.lineage, version, state.createdAt);
        s.insertVersion.run(
          state.name,
          version,
          state.serial,
          state.lineage,
          state.createdAt,
          state.size,
          state.kmsKeyArn,
          state.wrappedKey,
          state.ciphertext,
        );
        s.trim.run(state.name, version - keep);
        return { ok: true, version } as const;
      },
    );
    this.#deleteTx = db.transaction((name: string, lockId: string | undefined) => {
      const lock = lockOf(name);
      if (lock && lock.id !== lockId) return { ok: false, reason: 'locked', lock } as const;
      // The versions go with the state through ON DELETE CASCADE.
      return { ok: true, deleted: s.deleteState.run(name).changes === 1 } as const;
    });
    this.#lockTx = db.transaction((lock: TerraformLockRecord) => {
      if (s.insertLock.run(lock.name, lock.id, lock.info, lock.createdAt).changes === 1) {
        return { acquired: true } as const;
      }
      const holder = lockOf(lock.name)!;
      return holder.id === lock.id ? ({ acquired: true } as const) : ({ acquired: false, holder } as const);
    });
    this.#unlockTx = db.transaction((name: string, id: string): TerraformUnlockResult => {
      const lock = lockOf(name);
      if (!lock) return { outcome: 'not-locked' };
      if (lock.id !== id) return { outcome: 'held', lock };
      s.deleteLock.run(name);
      return { outcome: 'released' };
    });
    this.#forceUnlockTx = db.transaction((name: string) => {
      const lock = lockOf(name);
      if (lock) s.deleteLock.run(name);
      return lock;
    });
  }

  async getState(name: string): Promise<TerraformStateVersionRecord | undefined> {
    const row = this.#s.latest.get(name) as Row | undefined;
    return row && toVersion(row);
  }

  async getStateVersion(name: string, version: number): Promise<TerraformStateVersionRecord | undefined> {
    const row = this.#s.version.get(name, version) as Row | undefined;
    return row && toVersion(row);
  }

  async listStateVersions(name: string): Promise<TerraformStateVersionInfo[]> {
    return (this.#s.versions.all(name) as Row[]).map(toInfo);
  }

  async putState(
    state: Omit<TerraformStateVersionRecord, 'version'>,
    options: { lockId?: string; keep: number },
  ): Promise<TerraformPutResult> {
    if (!Number.isInteger(options.keep) || options.keep < 1) throw new TypeError('keep must be a positive integer');
    return this.#putTx.immediate(state, options.lockId, options.keep);
  }

  async deleteState(name: string, lockId?: string) {
    return this.#deleteTx.immediate(name, lockId);
  }

  async getLock(name: string): Promise<TerraformLockRecord | undefined> {
    const row = this.#s.getLock.get(name) as Row | undefined;
    return row && toLock(row);
  }

  async lock(lock: TerraformLockRecord) {
    return this.#lockTx.immediate(lock);
  }

  async unlock(name: string, id: string): Promise<TerraformUnlockResult> {
    return this.#unlockTx.immediate(name, id);
  }

  async forceUnlock(name: string): Promise<TerraformLockRecord | undefined> {
    return this.#forceUnlockTx.immediate(name);
  }
}
