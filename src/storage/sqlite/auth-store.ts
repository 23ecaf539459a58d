// The SQLite AuthStore: admin-managed issuers and roles, and per-role session revocations.
import type Database from 'better-sqlite3';
import type { AuthEntry, AuthEntryKind, AuthStore } from '../../auth/index.js';

export class SqliteAuthStore implements AuthStore {
  readonly #list: Database.Statement;
  readonly #put: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #revoke: Database.Statement;
  readonly #revocations: Database.Statement;

  constructor(db: Database.Database) {
    this.#list = db.prepare('SELECT kind, name, doc, updated_at FROM auth_entries WHERE kind = ? ORDER BY name');
    this.#put = db.prepare(
      `INSERT INTO auth_entries (kind, name, doc, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at`,
    );
    this.#delete = db.prepare('DELETE FROM auth_entries WHERE kind = ? AND name = ?');
    this.#revoke = db.prepare(
      `INSERT INTO auth_revocations (role, revoked_before) VALUES (?, ?)
       ON CONFLICT (role) DO UPDATE SET revoked_before = MAX(revoked_before, excluded.revoked_before)`,
    );
    this.#revocations = db.prepare('SELECT role, revoked_before FROM auth_revocations');
  }

  async listAuthEntries(kind: AuthEntryKind): Promise<AuthEntry[]> {
    return (this.#list.all(kind) as Record<string, unknown>[]).map((r) => ({
      kind: r.kind as AuthEntryKind,
      name: r.name as string,
      doc: r.doc as string,
      updatedAt: r.updated_at as number,
    }));
  }

  async putAuthEntry(e: AuthEntry): Promise<void> {
    this.#put.run(e.kind, e.name, e.doc, e.updatedAt);
  }

  async deleteAuthEntry(kind: AuthEntryKind, name: string): Promise<boolean> {
    return this.#delete.run(kind, name).changes > 0;
  }

  async revokeSessions(role: string, before: number): Promise<void> {
    this.#revoke.run(role, before);
  }

  async listRevocations(): Promise<Map<string, number>> {
    const rows = this.#revocations.all() as { role: string; revoked_before: number }[];
    return new Map(rows.map((r) => [r.role, r.revoked_before]));
  }
}
