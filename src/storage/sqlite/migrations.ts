// SQLite schema migrations, applied in order and recorded in schema_migrations.

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
];
