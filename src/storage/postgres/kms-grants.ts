// The PostgreSQL half of the KMS store that keeps grants (kms_grants); PostgresKmsStore inherits it.
import type { GrantRecord, KmsGrantStore } from '../../kms/index.js';
import { GRANT_COLUMNS, grantValues, page, toGrant } from '../rows.js';
import type { Page } from '../types.js';
import type { PgDatabase } from './pool.js';

export class PostgresGrantStore implements KmsGrantStore {
  readonly #db: PgDatabase;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  async insertGrant(g: GrantRecord): Promise<GrantRecord> {
    const r = await this.#db.query(
      `INSERT INTO kms_grants (${GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
      grantValues(g),
    );
    if (r.rowCount === 1) return g;
    const { rows } = await this.#db.query(
      'SELECT * FROM kms_grants WHERE key_arn = $1 AND name = $2 AND fingerprint = $3',
      [g.keyArn, g.name ?? null, g.fingerprint],
    );
    if (!rows[0]) throw new Error('grant id collision'); // 256 random bits: not expected
    return toGrant(rows[0]);
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
      'SELECT * FROM kms_grants WHERE retiring_principal = $1 AND grant_id > $2 ORDER BY grant_id LIMIT $3',
      [principal, after, limit + 1],
    );
    return page(rows.map(toGrant), limit, (g) => g.grantId);
  }

  async grantsNaming(keyArn: string, principals: readonly string[]): Promise<GrantRecord[]> {
    const { rows } = await this.#db.query(
      'SELECT * FROM kms_grants WHERE key_arn = $1 AND (grantee_principal = ANY($2::text[]) OR retiring_principal = ANY($2::text[]))',
      [keyArn, [...principals]],
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
