// The SQLite SecretsStore, one region's view: its secrets (versions and labels by ARN) and its change events.
import type Database from 'better-sqlite3';
import {
  type SecretChange,
  type SecretEvent,
  type SecretRecord,
  type SecretsStore,
  type SecretVersionRecord,
  secretDueAt,
} from '../../secrets/index.js';
import { type Row, secretDocOf as secretDoc, toSecretEvent as toEvent, toSecret, toSecretVersion } from '../rows.js';

const toVersion = (row: Row) =>
  toSecretVersion(row, JSON.parse((row.stages as string | null) ?? '[]') as string[], row.is_binary === 1);

// Stages are gathered per version in one query (json_group_array exists in PostgreSQL as json_agg).
const VERSION_COLUMNS = `v.*, (SELECT json_group_array(s.stage) FROM secret_stages s
  WHERE s.secret_arn = v.secret_arn AND s.version_id = v.version_id) AS stages`;

export class SqliteSecretsStore implements SecretsStore {
  readonly #s;
  readonly #region: string;
  readonly #createTx;
  readonly #commitTx;
  readonly #purgeTx;
  readonly #recordAccessTx;

  constructor(db: Database.Database, region: string) {
    // Statements on secrets and events take the region first; versions and stages hang off the ARN.
    const s = {
      insertSecret: db.prepare(
        'INSERT INTO secrets (region, arn, name, revision, due_at, doc) VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING',
      ),
      updateSecret: db.prepare(
        'UPDATE secrets SET revision = revision + 1, due_at = ?, doc = ? WHERE region = ? AND arn = ? AND revision = ?',
      ),
      byArn: db.prepare('SELECT revision, doc, last_accessed_at FROM secrets WHERE region = ? AND arn = ?'),
      byName: db.prepare('SELECT revision, doc, last_accessed_at FROM secrets WHERE region = ? AND name = ?'),
      list: db.prepare('SELECT revision, doc, last_accessed_at FROM secrets WHERE region = ? ORDER BY name'),
      // Inserts a version, or fills the empty placeholder RotateSecret made under the same id.
      insertVersion: db.prepare(
        `INSERT INTO secret_versions (secret_arn, version_id, created_at, kms_key_arn, wrapped_key, ciphertext, is_binary)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (secret_arn, version_id) DO UPDATE SET kms_key_arn = excluded.kms_key_arn,
           wrapped_key = excluded.wrapped_key, ciphertext = excluded.ciphertext, is_binary = excluded.is_binary
         WHERE secret_versions.ciphertext IS NULL`,
      ),
      reencrypt: db.prepare(
        'UPDATE secret_versions SET kms_key_arn = ?, wrapped_key = ?, ciphertext = ? WHERE secret_arn = ? AND version_id = ?',
      ),
      deleteDeprecated: db.prepare(
        `DELETE FROM secret_versions WHERE secret_arn = ? AND version_id = ?
         AND NOT EXISTS (SELECT 1 FROM secret_stages s WHERE s.secret_arn = secret_versions.secret_arn
                         AND s.version_id = secret_versions.version_id)`,
      ),
      setStage: db.prepare(
        'INSERT INTO secret_stages (secret_arn, stage, version_id) VALUES (?, ?, ?) ON CONFLICT (secret_arn, stage) DO UPDATE SET version_id = excluded.version_id',
      ),
      removeStage: db.prepare('DELETE FROM secret_stages WHERE secret_arn = ? AND stage = ?'),
      version: db.prepare(
        `SELECT ${VERSION_COLUMNS} FROM secret_versions v WHERE v.secret_arn = ? AND v.version_id = ?`,
      ),
      versionByStage: db.prepare(
        `SELECT ${VERSION_COLUMNS} FROM secret_stages st JOIN secret_versions v
         ON v.secret_arn = st.secret_arn AND v.version_id = st.version_id WHERE st.secret_arn = ? AND st.stage = ?`,
      ),
      versions: db.prepare(
        `SELECT ${VERSION_COLUMNS} FROM secret_versions v WHERE v.secret_arn = ? ORDER BY v.created_at, v.rowid`,
      ),
      // Only forward: replicas and racing reads may record an older day after a newer one.
      recordAccess: db.prepare(
        'UPDATE secrets SET last_accessed_at = ? WHERE arn = ? AND (last_accessed_at IS NULL OR last_accessed_at < ?)',
      ),
      deleteSecret: db.prepare('DELETE FROM secrets WHERE region = ? AND arn = ? AND revision = ?'),
      due: db.prepare(
        'SELECT revision, doc, last_accessed_at FROM secrets WHERE region = ? AND due_at <= ? ORDER BY due_at LIMIT ?',
      ),
      insertEvent: db.prepare(
        'INSERT INTO secret_events (region, at, secret_arn, secret_name, type, version_id) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      eventsAfter: db.prepare('SELECT * FROM secret_events WHERE region = ? AND cursor > ? ORDER BY cursor LIMIT ?'),
      trimEvents: db.prepare('DELETE FROM secret_events WHERE at < ?'),
      // AUTOINCREMENT keeps the highest cursor in sqlite_sequence even after every event was trimmed.
      latestCursor: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'secret_events'"),
      oldestCursor: db.prepare('SELECT MIN(cursor) AS cursor FROM secret_events'),
    };
    this.#s = s;
    this.#region = region;

    const apply = (change: SecretChange, at: number) => {
      const arn = change.secret.arn;
      const v = change.newVersion;
      if (v) {
        s.insertVersion.run(
          arn,
          v.versionId,
          v.createdAt,
          v.kmsKeyArn ?? null,
          v.wrappedKey ?? null,
          v.ciphertext ?? null,
          v.binary ? 1 : 0,
        );
      }
      for (const r of change.reencrypted ?? []) {
        s.reencrypt.run(r.kmsKeyArn ?? null, r.wrappedKey ?? null, r.ciphertext ?? null, arn, r.versionId);
      }
      for (const [stage, versionId] of Object.entries(change.stages ?? {})) {
        if (versionId === null) s.removeStage.run(arn, stage);
        else s.setStage.run(arn, stage, versionId);
      }
      for (const id of change.deleteVersions ?? []) s.deleteDeprecated.run(arn, id);
      for (const e of change.events)
        s.insertEvent.run(region, at, arn, change.secret.name, e.type, e.versionId ?? null);
    };
    this.#createTx = db.transaction((change: SecretChange, at: number): boolean => {
      const c = change.secret;
      if (s.insertSecret.run(region, c.arn, c.name, secretDueAt(c) ?? null, secretDoc(c)).changes !== 1) return false;
      apply(change, at);
      return true;
    });
    this.#commitTx = db.transaction((change: SecretChange, at: number): boolean => {
      const c = change.secret;
      if (s.updateSecret.run(secretDueAt(c) ?? null, secretDoc(c), region, c.arn, c.revision).changes !== 1)
        return false;
      apply(change, at);
      return true;
    });
    this.#recordAccessTx = db.transaction((arns: readonly string[], day: number): void => {
      for (const arn of arns) s.recordAccess.run(day, arn, day);
    });
    this.#purgeTx = db.transaction((secret: SecretRecord, at: number): boolean => {
      if (s.deleteSecret.run(region, secret.arn, secret.revision).changes !== 1) return false;
      s.insertEvent.run(region, at, secret.arn, secret.name, 'SecretPurged', null);
      return true;
    });
  }

  async createSecret(change: SecretChange): Promise<boolean> {
    return this.#createTx.immediate(change, change.secret.createdAt);
  }

  async getSecretByArn(arn: string): Promise<SecretRecord | undefined> {
    const row = this.#s.byArn.get(this.#region, arn) as Row | undefined;
    return row && toSecret(row);
  }

  async getSecretByName(name: string): Promise<SecretRecord | undefined> {
    const row = this.#s.byName.get(this.#region, name) as Row | undefined;
    return row && toSecret(row);
  }

  async listSecrets(): Promise<SecretRecord[]> {
    return (this.#s.list.all(this.#region) as Row[]).map(toSecret);
  }

  async recordAccess(arns: readonly string[], day: number): Promise<void> {
    this.#recordAccessTx(arns, day);
  }

  async commit(change: SecretChange, at: number): Promise<SecretRecord | undefined> {
    return this.#commitTx.immediate(change, at)
      ? { ...change.secret, revision: change.secret.revision + 1 }
      : undefined;
  }

  async getVersion(secretArn: string, versionId: string): Promise<SecretVersionRecord | undefined> {
    const row = this.#s.version.get(secretArn, versionId) as Row | undefined;
    return row && toVersion(row);
  }

  async getVersionByStage(secretArn: string, stage: string): Promise<SecretVersionRecord | undefined> {
    const row = this.#s.versionByStage.get(secretArn, stage) as Row | undefined;
    return row && toVersion(row);
  }

  async listVersions(secretArn: string): Promise<SecretVersionRecord[]> {
    return (this.#s.versions.all(secretArn) as Row[]).map(toVersion);
  }

  async purgeSecret(secret: SecretRecord, at: number): Promise<boolean> {
    return this.#purgeTx.immediate(secret, at);
  }

  async dueSecrets(now: number, limit: number): Promise<SecretRecord[]> {
    return (this.#s.due.all(this.#region, now, limit) as Row[]).map(toSecret);
  }

  async eventCursors(): Promise<{ latest: number; oldest: number | undefined }> {
    const latest = (this.#s.latestCursor.get() as { seq: number } | undefined)?.seq ?? 0;
    const oldest = (this.#s.oldestCursor.get() as { cursor: number | null }).cursor;
    return { latest, oldest: oldest ?? undefined };
  }

  async eventsAfter(cursor: number, limit: number): Promise<SecretEvent[]> {
    return (this.#s.eventsAfter.all(this.#region, cursor, limit) as Row[]).map(toEvent);
  }

  async trimEvents(before: number): Promise<number> {
    return this.#s.trimEvents.run(before).changes;
  }
}
