// The SQLite half of the KMS store that keeps grants (kms_grants); SqliteKmsStore delegates to it.
import type Database from 'better-sqlite3';
import type { GrantRecord, KmsGrantStore } from '../../kms/index.js';
import { GRANT_COLUMNS, grantValues, page, type Row, toGrant } from '../rows.js';
import type { Page } from '../types.js';

export class SqliteGrantStore implements KmsGrantStore {
  readonly #s;

  constructor(db: Database.Database) {
    this.#s = {
      insert: db.prepare(
        `INSERT INTO kms_grants (${GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      named: db.prepare('SELECT * FROM kms_grants WHERE key_arn = ? AND name = ? AND fingerprint = ?'),
      get: db.prepare('SELECT * FROM kms_grants WHERE key_arn = ? AND grant_id = ?'),
      list: db.prepare('SELECT * FROM kms_grants WHERE key_arn = ? AND grant_id > ? ORDER BY grant_id LIMIT ?'),
      listOf: db.prepare(
        'SELECT * FROM kms_grants WHERE key_arn = ? AND grantee_principal = ? AND grant_id > ? ORDER BY grant_id LIMIT ?',
      ),
      retirable: db.prepare(
        'SELECT * FROM kms_grants WHERE retiring_principal = ? AND grant_id > ? ORDER BY grant_id LIMIT ?',
      ),
      naming: db.prepare(
        `SELECT * FROM kms_grants WHERE key_arn = ?
         AND (grantee_principal IN (SELECT value FROM json_each(?)) OR retiring_principal IN (SELECT value FROM json_each(?)))`,
      ),
      delete: db.prepare('DELETE FROM kms_grants WHERE key_arn = ? AND grant_id = ?'),
      deleteOfKey: db.prepare('DELETE FROM kms_grants WHERE key_arn = ?'),
    };
  }

  async insertGrant(g: GrantRecord): Promise<GrantRecord> {
    if (this.#s.insert.run(...grantValues(g)).changes === 1) return g;
    const existing = this.#s.named.get(g.keyArn, g.name ?? null, g.fingerprint) as Row | undefined;
    if (!existing) throw new Error('grant id collision'); // 256 random bits: not expected
    return toGrant(existing);
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
    const rows = this.#s.retirable.all(principal, after, limit + 1) as Row[];
    return page(rows.map(toGrant), limit, (g) => g.grantId);
  }

  async grantsNaming(keyArn: string, principals: readonly string[]): Promise<GrantRecord[]> {
    const list = JSON.stringify(principals);
    return (this.#s.naming.all(keyArn, list, list) as Row[]).map(toGrant);
  }

  async deleteGrant(keyArn: string, grantId: string): Promise<boolean> {
    return this.#s.delete.run(keyArn, grantId).changes === 1;
  }

  async deleteGrantsOfKey(keyArn: string): Promise<number> {
    return this.#s.deleteOfKey.run(keyArn).changes;
  }
}
