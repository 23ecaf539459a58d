// The PostgreSQL AuthStore: admin-managed issuers and roles, and per-role session revocations.
import type { AuthEntry, AuthEntryKind, AuthStore } from '../../auth/index.js';
import type { PgDatabase } from './pool.js';

export class PostgresAuthStore implements AuthStore {
  readonly #db: PgDatabase;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  async listAuthEntries(kind: AuthEntryKind): Promise<AuthEntry[]> {
    const { rows } = await this.#db.query(
      'SELECT kind, name, doc, updated_at FROM auth_entries WHERE kind = $1 ORDER BY name',
      [kind],
    );
    return rows.map((r) => ({
      kind: r.kind as AuthEntryKind,
      name: r.name as string,
      doc: r.doc as string,
      updatedAt: r.updated_at as number,
    }));
  }

  async putAuthEntry(e: AuthEntry): Promise<void> {
    await this.#db.query(
      `INSERT INTO auth_entries (kind, name, doc, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at`,
      [e.kind, e.name, e.doc, e.updatedAt],
    );
  }

  async deleteAuthEntry(kind: AuthEntryKind, name: string): Promise<boolean> {
    const r = await this.#db.query('DELETE FROM auth_entries WHERE kind = $1 AND name = $2', [kind, name]);
    return (r.rowCount ?? 0) > 0;
  }

  async revokeSessions(role: string, before: number): Promise<void> {
    // One statement: concurrent revocations of a role serialise on its row, and the later
    // cut-off always wins (the time only moves forward).
    await this.#db.query(
      `INSERT INTO auth_revocations (role, revoked_before) VALUES ($1, $2)
       ON CONFLICT (role) DO UPDATE SET revoked_before = GREATEST(auth_revocations.revoked_before, excluded.revoked_before)`,
      [role, before],
    );
  }

  async listRevocations(): Promise<Map<string, number>> {
    const { rows } = await this.#db.query('SELECT role, revoked_before FROM auth_revocations');
    return new Map(rows.map((r) => [r.role as string, r.revoked_before as number]));
  }
}
