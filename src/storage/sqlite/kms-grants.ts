// The SQLite half of the KMS store that keeps grants (kms_grants); SqliteKmsStore delegates to it.
import type Database from 'better-sqlite3';
import type { GrantInsert, GrantQuota, GrantRecord, KmsGrantStore } from '../../kms/index.js';
import { GRANT_COLUMNS, grantValues, page, type Row, toGrant } from '../rows.js';
import type { Page } from '../types.js';

export class SqliteGrantStore implements KmsGrantStore {
  readonly #s;
  readonly #insertTx;
  /** Key ARNs of this view's region begin so: ListRetirableGrants (by principal) shows no other region's. */
  readonly #arnPrefix: string;

  constructor(db: Database.Database, region: string) {
    this.#arnPrefix = `arn:aws:kms:${region}:`;
    this.#s = {
      insert: db.prepare(
        `INSERT INTO kms_grants (${GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      named: db.prepare('SELECT * FROM kms_grants WHERE key_arn = ? AND name = ? AND fingerprint = ?'),
      // Counted up to the quota only: a key over it (grants older than the quota) costs no more.
      onKey: db.prepare('SELECT count(*) AS n FROM (SELECT 1 FROM kms_grants WHERE key_arn = ? LIMIT ?)'),
      toGrantee: db.prepare(
        'SELECT count(*) AS n FROM (SELECT 1 FROM kms_grants WHERE key_arn = ? AND grantee_principal = ? LIMIT ?)',
      ),
      get: db.prepare('SELECT * FROM kms_grants WHERE key_arn = ? AND grant_id = ?'),
      list: db.prepare('SELECT * FROM kms_grants WHERE key_arn = ? AND grant_id > ? ORDER BY grant_id LIMIT ?'),
      listOf: db.prepare(
        'SELECT * FROM kms_grants WHERE key_arn = ? AND grantee_principal = ? AND grant_id > ? ORDER BY grant_id LIMIT ?',
      ),
      retirable: db.prepare(
        'SELECT * FROM kms_grants WHERE retiring_principal = ? AND substr(key_arn, 1, ?) = ? AND grant_id > ? ORDER BY grant_id LIMIT ?',
      ),
      // The (key_arn, grantee_principal) index, one probe per grantee.
      granted: db.prepare(
        'SELECT * FROM kms_grants WHERE key_arn = ? AND grantee_principal IN (SELECT value FROM json_each(?)) LIMIT ?',
      ),
      delete: db.prepare('DELETE FROM kms_grants WHERE key_arn = ? AND grant_id = ?'),
      deleteOfKey: db.prepare('DELETE FROM kms_grants WHERE key_arn = ?'),
    };
    this.#insertTx = db.transaction((g: GrantRecord, quota: GrantQuota): GrantInsert => {
      const s = this.#s;
      const existing = g.name === undefined ? undefined : (s.named.get(g.keyArn, g.name, g.fingerprint) as Row);
      if (existing) return { grant: toGrant(existing) };
      const count = (stmt: Database.Statement, ...args: unknown[]) => (stmt.get(...args) as { n: number }).n;
      if (count(s.onKey, g.keyArn, quota.perKey) >= quota.perKey) return { exceeded: 'perKey' };
      const mine = count(s.toGrantee, g.keyArn, g.granteePrincipal, quota.perGrantee);
      if (mine >= quota.perGrantee) return { exceeded: 'perGrantee' };
      if (s.insert.run(...grantValues(g)).changes !== 1) throw new Error('grant id collision'); // 256 random bits
      return { grant: g };
    });
  }

  async insertGrant(g: GrantRecord, quota: GrantQuota): Promise<GrantInsert> {
    // IMMEDIATE: the write lock is taken before counting, so no other writer inserts in between.
    return this.#insertTx.immediate(g, quota);
  }

  async getGrant(keyArn: string, grantId: string): Promise<GrantRecord | undefined> {
    const row = this.#s.get.get(keyArn, grantId) as Row | undefined;
    return row && toGrant(row);
  }

  async listGrants(keyArn: string, limit: number, after = '', grantee?: string): Promise<Page<GrantRecord>> {
    const rows = (
      grantee === undefined
        ? this.#s.list.all(keyArn, after, limit + 1)
        : this.#s.listOf.all(keyArn, grantee, after, limit + 1)
    ) as Row[];
    return page(rows.map(toGrant), limit, (g) => g.grantId);
  }

  async listRetirableGrants(principal: string, limit: number, after = ''): Promise<Page<GrantRecord>> {
    const rows = this.#s.retirable.all(principal, this.#arnPrefix.length, this.#arnPrefix, after, limit + 1) as Row[];
    return page(rows.map(toGrant), limit, (g) => g.grantId);
  }

  async grantsFor(keyArn: string, grantees: readonly string[], limit: number): Promise<GrantRecord[]> {
    if (grantees.length === 0) return [];
    return (this.#s.granted.all(keyArn, JSON.stringify(grantees), limit) as Row[]).map(toGrant);
  }

  async deleteGrant(keyArn: string, grantId: string): Promise<boolean> {
    return this.#s.delete.run(keyArn, grantId).changes === 1;
  }

  async deleteGrantsOfKey(keyArn: string): Promise<number> {
    return this.#s.deleteOfKey.run(keyArn).changes;
  }
}
