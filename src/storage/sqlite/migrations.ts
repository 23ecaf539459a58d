// SQLite schema migrations, applied in order and recorded in schema_migrations.
import { type MigrationOptions, regionLiteral } from '../migration-options.js';

/** The migration that began recording key usage: its time is every key's earliest TrackingStartDate. */
export const KEY_USAGE_MIGRATION = 9;

export interface SqliteMigration {
  version: number;
  name: string;
  /** The SQL, or a function of the store's options (the default region existing data moves to). */
  sql: string | ((options: MigrationOptions) => string);
  /**
   * Rebuilds tables that others reference: run with foreign keys off (SQLite's documented way to
   * change a table's keys) and checked with foreign_key_check before it commits.
   */
  rebuildsTables?: boolean;
}

/** A migration's SQL for a store opened with `options`. */
export const sqlOf = (m: SqliteMigration, options: MigrationOptions): string =>
  typeof m.sql === 'string' ? m.sql : m.sql(options);

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'kms keys, versions and aliases',
    sql: `
      CREATE TABLE kms_keys (
        key_id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        state TEXT NOT NULL,
        next_rotation_at INTEGER,
        deletion_at INTEGER,
        doc TEXT NOT NULL
      );
      CREATE INDEX kms_keys_rotation_due ON kms_keys (next_rotation_at) WHERE state = 'Enabled';
      CREATE INDEX kms_keys_deletion_due ON kms_keys (deletion_at) WHERE state = 'PendingDeletion';
      CREATE TABLE kms_key_versions (
        key_id TEXT NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        root_key_id TEXT NOT NULL,
        wrapped_material BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        rotation_type TEXT,
        PRIMARY KEY (key_id, version)
      );
      CREATE INDEX kms_key_versions_root_key ON kms_key_versions (root_key_id);
      CREATE TABLE kms_aliases (
        name TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX kms_aliases_key ON kms_aliases (key_id);
    `,
  },
  {
    version: 2,
    name: 'secrets, versions, staging labels and the change feed',
    sql: `
      CREATE TABLE secrets (
        arn TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        revision INTEGER NOT NULL,
        due_at INTEGER,
        doc TEXT NOT NULL
      );
      CREATE INDEX secrets_due ON secrets (due_at) WHERE due_at IS NOT NULL;
      CREATE TABLE secret_versions (
        secret_arn TEXT NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
        version_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        kms_key_arn TEXT,
        wrapped_key BLOB,
        ciphertext BLOB,
        is_binary INTEGER NOT NULL,
        PRIMARY KEY (secret_arn, version_id)
      );
      -- One row per label: the primary key makes a label name at most one version of a secret.
      CREATE TABLE secret_stages (
        secret_arn TEXT NOT NULL,
        stage TEXT NOT NULL,
        version_id TEXT NOT NULL,
        PRIMARY KEY (secret_arn, stage),
        FOREIGN KEY (secret_arn, version_id) REFERENCES secret_versions (secret_arn, version_id) ON DELETE CASCADE
      );
      CREATE INDEX secret_stages_version ON secret_stages (secret_arn, version_id);
      -- Not tied to secrets by a foreign key: a purge must still reach the watchers.
      CREATE TABLE secret_events (
        cursor INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        secret_arn TEXT NOT NULL,
        secret_name TEXT NOT NULL,
        type TEXT NOT NULL,
        version_id TEXT
      );
      CREATE INDEX secret_events_at ON secret_events (at);
    `,
  },
  {
    version: 3,
    name: 'workload issuers, roles and session revocations',
    sql: `
      CREATE TABLE auth_entries (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (kind, name)
      );
      CREATE TABLE auth_revocations (
        role TEXT PRIMARY KEY,
        revoked_before INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'terraform states, their kept versions and locks',
    sql: `
      CREATE TABLE terraform_states (
        name TEXT PRIMARY KEY,
        serial INTEGER NOT NULL,
        lineage TEXT NOT NULL,
        latest_version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE terraform_state_versions (
        name TEXT NOT NULL REFERENCES terraform_states (name) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        serial INTEGER NOT NULL,
        lineage TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        size INTEGER NOT NULL,
        kms_key_arn TEXT NOT NULL,
        wrapped_key BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        PRIMARY KEY (name, version)
      );
      -- Not tied to terraform_states: the first apply locks a state that does not exist yet.
      CREATE TABLE terraform_locks (
        name TEXT PRIMARY KEY,
        lock_id TEXT NOT NULL,
        info TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'the keys Keysafe uses for itself, by purpose',
    // No ON DELETE: a key recorded here cannot be deleted, whatever deletes it.
    sql: `
      CREATE TABLE kms_internal_keys (
        purpose TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES kms_keys (key_id),
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'regions: keys, aliases, internal keys, secrets and events belong to a region',
    rebuildsTables: true,
    sql: (o) => regionsMigration(regionLiteral(o.defaultRegion)),
  },
  {
    version: 7,
    name: 'kms grants',
    // Grants name their key by ARN (it carries the region); the key's deletion deletes them.
    // A named grant is created once per (key, name, parameters): the unique index makes retries idempotent.
    sql: `
      CREATE TABLE kms_grants (
        grant_id TEXT PRIMARY KEY,
        key_arn TEXT NOT NULL,
        name TEXT,
        grantee_principal TEXT NOT NULL,
        retiring_principal TEXT,
        operations TEXT NOT NULL,
        constraints TEXT,
        created_at INTEGER NOT NULL,
        issuing_account TEXT NOT NULL,
        fingerprint TEXT NOT NULL
      );
      CREATE INDEX kms_grants_key ON kms_grants (key_arn, grant_id);
      CREATE INDEX kms_grants_grantee ON kms_grants (key_arn, grantee_principal);
      CREATE INDEX kms_grants_retiring ON kms_grants (retiring_principal, grant_id);
      CREATE UNIQUE INDEX kms_grants_name ON kms_grants (key_arn, name, fingerprint) WHERE name IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'when imported key material expires, for the scheduler',
    sql: `
      ALTER TABLE kms_keys ADD COLUMN material_expires_at INTEGER;
      CREATE INDEX kms_keys_material_expiry_due ON kms_keys (material_expires_at) WHERE material_expires_at IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'the last cryptographic use of each key (GetKeyLastUsage)',
    // Per region, as keys are (migration 6, which comes before it, gave kms_keys its region).
    sql: `
      CREATE TABLE kms_key_usage (
        region TEXT NOT NULL,
        key_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        operation TEXT NOT NULL,
        PRIMARY KEY (region, key_id),
        FOREIGN KEY (region, key_id) REFERENCES kms_keys (region, key_id) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 10,
    name: "secrets' LastAccessedDate, written apart from the secret's document and revision",
    sql: 'ALTER TABLE secrets ADD COLUMN last_accessed_at INTEGER;',
  },
];

/**
 * Existing rows move to the default region. Key versions lose their foreign key: they are shared
 * by every region holding the key id (multi-Region keys), and the store deletes them with the last.
 * Tables are rebuilt before the tables referencing them, so each new REFERENCES names the new table.
 */
function regionsMigration(region: string): string {
  return `
    CREATE TABLE kms_keys_v6 (
      region TEXT NOT NULL,
      key_id TEXT NOT NULL,
      revision INTEGER NOT NULL,
      state TEXT NOT NULL,
      next_rotation_at INTEGER,
      deletion_at INTEGER,
      doc TEXT NOT NULL,
      PRIMARY KEY (region, key_id)
    );
    INSERT INTO kms_keys_v6 SELECT ${region}, key_id, revision, state, next_rotation_at, deletion_at, doc FROM kms_keys;
    DROP TABLE kms_keys;
    ALTER TABLE kms_keys_v6 RENAME TO kms_keys;
    CREATE INDEX kms_keys_rotation_due ON kms_keys (next_rotation_at) WHERE state = 'Enabled';
    CREATE INDEX kms_keys_deletion_due ON kms_keys (deletion_at) WHERE state = 'PendingDeletion';
    CREATE INDEX kms_keys_key_id ON kms_keys (key_id);

    CREATE TABLE kms_key_versions_v6 (
      key_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      root_key_id TEXT NOT NULL,
      wrapped_material BLOB NOT NULL,
      created_at INTEGER NOT NULL,
      rotation_type TEXT,
      PRIMARY KEY (key_id, version)
    );
    INSERT INTO kms_key_versions_v6 SELECT key_id, version, root_key_id, wrapped_material, created_at, rotation_type
      FROM kms_key_versions;
    DROP TABLE kms_key_versions;
    ALTER TABLE kms_key_versions_v6 RENAME TO kms_key_versions;
    CREATE INDEX kms_key_versions_root_key ON kms_key_versions (root_key_id);

    CREATE TABLE kms_aliases_v6 (
      region TEXT NOT NULL,
      name TEXT NOT NULL,
      key_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (region, name),
      FOREIGN KEY (region, key_id) REFERENCES kms_keys (region, key_id) ON DELETE CASCADE
    );
    INSERT INTO kms_aliases_v6 SELECT ${region}, name, key_id, created_at, updated_at FROM kms_aliases;
    DROP TABLE kms_aliases;
    ALTER TABLE kms_aliases_v6 RENAME TO kms_aliases;
    CREATE INDEX kms_aliases_key ON kms_aliases (region, key_id);

    CREATE TABLE kms_internal_keys_v6 (
      region TEXT NOT NULL,
      purpose TEXT NOT NULL,
      key_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (region, purpose),
      FOREIGN KEY (region, key_id) REFERENCES kms_keys (region, key_id)
    );
    INSERT INTO kms_internal_keys_v6 SELECT ${region}, purpose, key_id, created_at FROM kms_internal_keys;
    DROP TABLE kms_internal_keys;
    ALTER TABLE kms_internal_keys_v6 RENAME TO kms_internal_keys;

    -- secret_versions keeps referencing secrets (arn): the ARN names the region already.
    CREATE TABLE secrets_v6 (
      arn TEXT PRIMARY KEY,
      region TEXT NOT NULL,
      name TEXT NOT NULL,
      revision INTEGER NOT NULL,
      due_at INTEGER,
      doc TEXT NOT NULL,
      UNIQUE (region, name)
    );
    INSERT INTO secrets_v6 SELECT arn, ${region}, name, revision, due_at, doc FROM secrets;
    DROP TABLE secrets;
    ALTER TABLE secrets_v6 RENAME TO secrets;
    CREATE INDEX secrets_due ON secrets (due_at) WHERE due_at IS NOT NULL;

    -- Rebuilding would lose sqlite_sequence's high mark (the latest cursor): a column is added.
    ALTER TABLE secret_events ADD COLUMN region TEXT NOT NULL DEFAULT ${region};
    CREATE INDEX secret_events_region ON secret_events (region, cursor);
  `;
}
