// The PostgreSQL SecretsStore, one region's view: its secrets (versions and labels by ARN) and its change events.
//
// A change is one READ COMMITTED transaction: the conditional `UPDATE … WHERE revision = $n`
// (or the insert, for a new secret) takes the secret's row lock first, so racing writers from
// the same read see exactly one win. Events take their cursors from the one-row
// secret_event_head, whose row lock is held to commit: cursors follow commit order, gap-free.

import {
  type SecretChange,
  type SecretEvent,
  type SecretRecord,
  type SecretsStore,
  type SecretVersionRecord,
  secretDueAt,
} from '../../secrets/index.js';
import { secretDocOf as secretDoc, toSecretEvent as toEvent, toSecret, toSecretVersion } from '../rows.js';
import type { PgDatabase, Queryable, Row } from './pool.js';

const toVersion = (row: Row) => toSecretVersion(row, (row.stages as string[] | null) ?? [], row.is_binary === true);

const VERSION_COLUMNS = `v.secret_arn, v.version_id, v.created_at, v.kms_key_arn, v.wrapped_key, v.ciphertext, v.is_binary,
  (SELECT json_agg(s.stage ORDER BY s.stage) FROM secret_stages s
   WHERE s.secret_arn = v.secret_arn AND s.version_id = v.version_id) AS stages`;

async function insertEvents(
  c: Queryable,
  region: string,
  at: number,
  arn: string,
  name: string,
  events: { type: string; versionId?: string }[],
): Promise<void> {
  if (events.length === 0) return;
  const { rows } = await c.query('UPDATE secret_event_head SET latest = latest + $1 RETURNING latest', [events.length]);
  let cursor = (rows[0]!.latest as number) - events.length;
  for (const e of events) {
    cursor++;
    await c.query(
      'INSERT INTO secret_events (region, cursor, at, secret_arn, secret_name, type, version_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [region, cursor, at, arn, name, e.type, e.versionId ?? null],
    );
  }
}

async function apply(c: Queryable, region: string, change: SecretChange, at: number): Promise<void> {
  const arn = change.secret.arn;
  const v = change.newVersion;
  if (v) {
    // Inserts a version, or fills the empty placeholder RotateSecret made under the same id.
    await c.query(
      `INSERT INTO secret_versions (secret_arn, version_id, created_at, kms_key_arn, wrapped_key, ciphertext, is_binary)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (secret_arn, version_id) DO UPDATE SET kms_key_arn = excluded.kms_key_arn,
         wrapped_key = excluded.wrapped_key, ciphertext = excluded.ciphertext, is_binary = excluded.is_binary
       WHERE secret_versions.ciphertext IS NULL`,
      [arn, v.versionId, v.createdAt, v.kmsKeyArn ?? null, v.wrappedKey ?? null, v.ciphertext ?? null, v.binary],
    );
  }
  for (const r of change.reencrypted ?? []) {
    await c.query(
      'UPDATE secret_versions SET kms_key_arn = $1, wrapped_key = $2, ciphertext = $3 WHERE secret_arn = $4 AND version_id = $5',
      [r.kmsKeyArn ?? null, r.wrappedKey ?? null, r.ciphertext ?? null, arn, r.versionId],
    );
  }
  for (const [stage, versionId] of Object.entries(change.stages ?? {})) {
    if (versionId === null) {
      await c.query('DELETE FROM secret_stages WHERE secret_arn = $1 AND stage = $2', [arn, stage]);
    } else {
      await c.query(
        `INSERT INTO secret_stages (secret_arn, stage, version_id) VALUES ($1, $2, $3)
         ON CONFLICT (secret_arn, stage) DO UPDATE SET version_id = excluded.version_id`,
        [arn, stage, versionId],
      );
    }
  }
  for (const id of change.deleteVersions ?? []) {
    await c.query(
      `DELETE FROM secret_versions WHERE secret_arn = $1 AND version_id = $2
       AND NOT EXISTS (SELECT 1 FROM secret_stages s WHERE s.secret_arn = secret_versions.secret_arn
                       AND s.version_id = secret_versions.version_id)`,
      [arn, id],
    );
  }
  await insertEvents(c, region, at, arn, change.secret.name, change.events);
}

export class PostgresSecretsStore implements SecretsStore {
  readonly #db: PgDatabase;
  readonly #region: string;

  constructor(db: PgDatabase, region: string) {
    this.#db = db;
    this.#region = region;
  }

  async createSecret(change: SecretChange): Promise<boolean> {
    const s = change.secret;
    return this.#db.tx(async (c) => {
      // No conflict target: a taken ARN or a taken name both answer false.
      const r = await c.query(
        'INSERT INTO secrets (region, arn, name, revision, due_at, doc) VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT DO NOTHING',
        [this.#region, s.arn, s.name, secretDueAt(s) ?? null, secretDoc(s)],
      );
      if (r.rowCount !== 1) return false;
      await apply(c, this.#region, change, s.createdAt);
      return true;
    });
  }

  async getSecretByArn(arn: string): Promise<SecretRecord | undefined> {
    const { rows } = await this.#db.query(
      'SELECT revision, doc, last_accessed_at FROM secrets WHERE region = $1 AND arn = $2',
      [this.#region, arn],
    );
    return rows[0] && toSecret(rows[0]);
  }

  async getSecretByName(name: string): Promise<SecretRecord | undefined> {
    const { rows } = await this.#db.query(
      'SELECT revision, doc, last_accessed_at FROM secrets WHERE region = $1 AND name = $2',
      [this.#region, name],
    );
    return rows[0] && toSecret(rows[0]);
  }

  async listSecrets(): Promise<SecretRecord[]> {
    const { rows } = await this.#db.query(
      'SELECT revision, doc, last_accessed_at FROM secrets WHERE region = $1 ORDER BY name',
      [this.#region],
    );
    return rows.map(toSecret);
  }

  async recordAccess(arns: readonly string[], day: number): Promise<void> {
    if (arns.length === 0) return;
    // One statement for the batch; only forward (replicas and racing reads may record an older day).
    await this.#db.query(
      'UPDATE secrets SET last_accessed_at = $1 WHERE arn = ANY($2) AND (last_accessed_at IS NULL OR last_accessed_at < $1)',
      [day, [...arns]],
    );
  }

  async commit(change: SecretChange, at: number): Promise<SecretRecord | undefined> {
    const s = change.secret;
    const ok = await this.#db.tx(async (c) => {
      const r = await c.query(
        'UPDATE secrets SET revision = revision + 1, due_at = $1, doc = $2 WHERE region = $3 AND arn = $4 AND revision = $5',
        [secretDueAt(s) ?? null, secretDoc(s), this.#region, s.arn, s.revision],
      );
      if (r.rowCount !== 1) return false;
      await apply(c, this.#region, change, at);
      return true;
    });
    return ok ? { ...s, revision: s.revision + 1 } : undefined;
  }

  async getVersion(secretArn: string, versionId: string): Promise<SecretVersionRecord | undefined> {
    const { rows } = await this.#db.query(
      `SELECT ${VERSION_COLUMNS} FROM secret_versions v WHERE v.secret_arn = $1 AND v.version_id = $2`,
      [secretArn, versionId],
    );
    return rows[0] && toVersion(rows[0]);
  }

  async getVersionByStage(secretArn: string, stage: string): Promise<SecretVersionRecord | undefined> {
    const { rows } = await this.#db.query(
      `SELECT ${VERSION_COLUMNS} FROM secret_stages st JOIN secret_versions v
       ON v.secret_arn = st.secret_arn AND v.version_id = st.version_id WHERE st.secret_arn = $1 AND st.stage = $2`,
      [secretArn, stage],
    );
    return rows[0] && toVersion(rows[0]);
  }

  async listVersions(secretArn: string): Promise<SecretVersionRecord[]> {
    const { rows } = await this.#db.query(
      `SELECT ${VERSION_COLUMNS} FROM secret_versions v WHERE v.secret_arn = $1 ORDER BY v.created_at, v.seq`,
      [secretArn],
    );
    return rows.map(toVersion);
  }

  async purgeSecret(secret: SecretRecord, at: number): Promise<boolean> {
    return this.#db.tx(async (c) => {
      // Versions and stages go with the secret through ON DELETE CASCADE.
      const r = await c.query('DELETE FROM secrets WHERE region = $1 AND arn = $2 AND revision = $3', [
        this.#region,
        secret.arn,
        secret.revision,
      ]);
      if (r.rowCount !== 1) return false;
      await insertEvents(c, this.#region, at, secret.arn, secret.name, [{ type: 'SecretPurged' }]);
      return true;
    });
  }

  async dueSecrets(now: number, limit: number): Promise<SecretRecord[]> {
    const { rows } = await this.#db.query(
      'SELECT revision, doc, last_accessed_at FROM secrets WHERE region = $3 AND due_at <= $1 ORDER BY due_at, arn LIMIT $2',
      [now, limit, this.#region],
    );
    return rows.map(toSecret);
  }

  async eventCursors(): Promise<{ latest: number; oldest: number | undefined }> {
    const { rows } = await this.#db.query(
      'SELECT (SELECT latest FROM secret_event_head) AS latest, (SELECT MIN(cursor) FROM secret_events) AS oldest',
    );
    const row = rows[0]!;
    return { latest: (row.latest as number | null) ?? 0, oldest: (row.oldest as number | null) ?? undefined };
  }

  async eventsAfter(cursor: number, limit: number): Promise<SecretEvent[]> {
    const { rows } = await this.#db.query(
      'SELECT * FROM secret_events WHERE region = $1 AND cursor > $2 ORDER BY cursor LIMIT $3',
      [this.#region, cursor, limit],
    );
    return rows.map(toEvent);
  }

  async trimEvents(before: number): Promise<number> {
    const r = await this.#db.query('DELETE FROM secret_events WHERE at < $1', [before]);
    return r.rowCount ?? 0;
  }
}
