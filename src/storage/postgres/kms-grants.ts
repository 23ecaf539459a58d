// The PostgreSQL half of the KMS store that keeps grants (kms_grants); PostgresKmsStore inherits it.
import type { GrantInsert, GrantQuota, GrantRecord, KmsGrantStore } from '../../kms/index.js';
import { GRANT_COLUMNS, grantValues, page, toGrant } from '../rows.js';
import type { Page } from '../types.js';
import { LOCK_CLASS_GRANTS, type PgDatabase } from './pool.js';

export class PostgresGrantStore implements KmsGrantStore {
  readonly #db: PgDatabase;
  /** Key ARNs of this view's region begin so: ListRetirableGrants (by principal) shows no other region's. */
  readonly #arnPrefix: string;

  constructor(db: PgDatabase, region: string) {
    this.#db = db;
    this.#arnPrefix = `arn:aws:kms:${region}:`;
  }

  async insertGrant(g: GrantRecord, quota: GrantQuota): Promise<GrantInsert> {
    return this.#db.tx(async (c) => {
      // One inserter per key at a time: each counts what the previous ones committed (READ COMMITTED
      // reads a fresh snapshot per statement), so concurrent inserts never exceed the quota.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS_GRANTS, g.keyArn]);
      if (g.name !== undefined) {
        const { rows } = await c.query(
          'SELECT * FROM kms_grants WHERE key_arn = $1 AND name = $2 AND fingerprint = $3',
          [g.keyArn, g.name, g.fingerprint],
        );
        if (rows[0]) return { grant: toGrant(rows[0]) };
      }
      const count = async (sql: string, args: unknown[]) =>
        (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) AS q`, args)).rows[0]!.n;
      // Counted up to the quota only: a key over it (grants older than the quota) costs no more.
      const onKey = await count('SELECT 1 FROM kms_grants WHERE key_arn = $1 LIMIT $2', [g.keyArn, quota.perKey]);
      if (onKey >= quota.perKey) return { exceeded: 'perKey' };
      const mine = await count('SELECT 1 FROM kms_grants WHERE key_arn = $1 AND grantee_principal = $2 LIMIT $3', [
        g.keyArn,
        g.granteePrincipal,
        quota.perGrantee,
      ]);
      if (mine >= quota.perGrantee) return { exceeded: 'perGrantee' };
      await c.query(
        `INSERT INTO kms_grants (${GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        grantValues(g),
      );
      return { grant: g };
    });
  }

  async getGrant(keyArn: string, grantId: string): Promise<GrantRecord | undefined> {
    const { rows } = await this.#db.query('SELECT * FROM kms_grants WHERE key_arn = $1 AND grant_id = $2', [
      keyArn,
      grantId,
    ]);
    return rows[0] && toGrant(rows[0]);
  }

  async listGrants(keyArn: string, limit: number, after = '', grantee?: string): Promise<Page<GrantRecord>> {
    const { rows } =
      grantee === undefined
        ? await this.#db.query(
            'SELECT * FROM kms_grants WHERE key_arn = $1 AND grant_id > $2 ORDER BY grant_id LIMIT $3',
            [keyArn, after, limit + 1],
          )
        : await this.#db.query(
            'SELECT * FROM kms_grants WHERE key_arn = $1 AND grantee_principal = $2 AND grant_id > $3 ORDER BY grant_id LIMIT $4',
            [keyArn, grantee, after, limit + 1],
          );
    return page(rows.map(toGrant), limit, (g) => g.grantId);
  }

  async listRetirableGrants(principal: string, limit: number, after = ''): Promise<Page<GrantRecord>> {
    const { rows } = await this.#db.query(
      'SELECT * FROM kms_grants WHERE retiring_principal = $1 AND left(key_arn, length($4)) = $4 AND grant_id > $2 ORDER BY grant_id LIMIT $3',
      [principal, after, limit + 1, this.#arnPrefix],
    );
    return page(rows.map(toGrant), limit, (g) => g.grantId);
  }

  async grantsFor(keyArn: string, grantees: readonly string[], limit: number): Promise<GrantRecord[]> {
    if (grantees.length === 0) return [];
    // The (key_arn, grantee_principal) index, one probe per grantee.
    const { rows } = await this.#db.query(
      'SELECT * FROM kms_grants WHERE key_arn = $1 AND grantee_principal = ANY($2::text[]) LIMIT $3',
      [keyArn, [...grantees], limit],
    );
    return rows.map(toGrant);
  }

  async deleteGrant(keyArn: string, grantId: string): Promise<boolean> {
    const r = await this.#db.query('DELETE FROM kms_grants WHERE key_arn = $1 AND grant_id = $2', [keyArn, grantId]);
    return r.rowCount === 1;
  }

  async deleteGrantsOfKey(keyArn: string): Promise<number> {
    const r = await this.#db.query('DELETE FROM kms_grants WHERE key_arn = $1', [keyArn]);
    return r.rowCount ?? 0;
  }
}
