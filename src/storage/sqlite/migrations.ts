// SQLite schema migrations, applied in order and recorded in schema_migrations.

/** The migration that began recording key usage: its time is every key's earliest TrackingStartDate. */
export const KEY_USAGE_MIGRATION = 9;

export const SQLITE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
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
    sql: `
      CREATE TABLE kms_key_usage (
        key_id TEXT PRIMARY KEY REFERENCES kms_keys (key_id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        operation TEXT NOT NULL
      );
    `,
  },
];
