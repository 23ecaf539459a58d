// PostgreSQL schema migrations, applied in order under an advisory lock and recorded in schema_migrations.
//
// The same tables as the SQLite driver. Text keys that are paged or ordered use COLLATE "C", so the
// order is bytewise whatever the database's default collation; times in ms are BIGINT.
import pg from 'pg';
import { type MigrationOptions, regionLiteral } from '../migration-options.js';
import { pendingMigrations } from '../migration-plan.js';
import { LOCK_MIGRATIONS, type PgDatabase } from './pool.js';

/** The migration that began recording key usage: its time is every key's earliest TrackingStartDate. */
export const KEY_USAGE_MIGRATION = 9;

export interface PostgresMigration {
  version: number;
  name: string;
  /** The SQL, or a function of the store's options (the default region existing data moves to). */
  sql: string | ((options: MigrationOptions) => string);
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'kms keys, versions and aliases',
    sql: `
      CREATE TABLE kms_keys (
        key_id TEXT COLLATE "C" PRIMARY KEY,
        revision BIGINT NOT NULL,
        state TEXT NOT NULL,
        next_rotation_at BIGINT,
        deletion_at BIGINT,
        doc TEXT NOT NULL
      );
      CREATE INDEX kms_keys_rotation_due ON kms_keys (next_rotation_at) WHERE state = 'Enabled';
      CREATE INDEX kms_keys_deletion_due ON kms_keys (deletion_at) WHERE state = 'PendingDeletion';
      CREATE TABLE kms_key_versions (
        key_id TEXT COLLATE "C" NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        root_key_id TEXT NOT NULL,
        wrapped_material BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        rotation_type TEXT,
        PRIMARY KEY (key_id, version)
      );
      CREATE INDEX kms_key_versions_root_key ON kms_key_versions (root_key_id);
      CREATE TABLE kms_aliases (
        name TEXT COLLATE "C" PRIMARY KEY,
        key_id TEXT COLLATE "C" NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX kms_aliases_key ON kms_aliases (key_id, name);
    `,
  },
  {
    version: 2,
    name: 'secrets, versions, staging labels and the change feed',
    sql: `
      CREATE TABLE secrets (
        arn TEXT COLLATE "C" PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL UNIQUE,
        revision BIGINT NOT NULL,
        due_at BIGINT,
        doc TEXT NOT NULL
      );
      CREATE INDEX secrets_due ON secrets (due_at) WHERE due_at IS NOT NULL;
      CREATE TABLE secret_versions (
        secret_arn TEXT COLLATE "C" NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
        version_id TEXT COLLATE "C" NOT NULL,
        created_at BIGINT NOT NULL,
        kms_key_arn TEXT,
        wrapped_key BYTEA,
        ciphertext BYTEA,
        is_binary BOOLEAN NOT NULL,
        -- Insertion order, for listing versions oldest first (SQLite's rowid).
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (secret_arn, version_id)
      );
      CREATE TABLE secret_stages (
        secret_arn TEXT COLLATE "C" NOT NULL,
        stage TEXT COLLATE "C" NOT NULL,
        version_id TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (secret_arn, stage),
        FOREIGN KEY (secret_arn, version_id) REFERENCES secret_versions (secret_arn, version_id) ON DELETE CASCADE
      );
      CREATE INDEX secret_stages_version ON secret_stages (secret_arn, version_id);
      -- Not tied to secrets by a foreign key: a purge must still reach the watchers. Cursors are
      -- handed out from secret_event_head inside the writing transaction: its row lock makes
      -- writers take cursors in commit order with no gaps (a sequence would give neither), so a
      -- watcher reading past cursor n never misses an event committed later with a lower one.
      CREATE TABLE secret_event_head (
        id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
        latest BIGINT NOT NULL
      );
      INSERT INTO secret_event_head (id, latest) VALUES (true, 0);
      CREATE TABLE secret_events (
        cursor BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
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
        name TEXT COLLATE "C" NOT NULL,
        doc TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (kind, name)
      );
      CREATE TABLE auth_revocations (
        role TEXT COLLATE "C" PRIMARY KEY,
        revoked_before BIGINT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'terraform states, their kept versions and locks',
    sql: `
      CREATE TABLE terraform_states (
        name TEXT COLLATE "C" PRIMARY KEY,
        serial BIGINT NOT NULL,
        lineage TEXT NOT NULL,
        latest_version INTEGER NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE terraform_state_versions (
        name TEXT COLLATE "C" NOT NULL REFERENCES terraform_states (name) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        serial BIGINT NOT NULL,
        lineage TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        size BIGINT NOT NULL,
        kms_key_arn TEXT NOT NULL,
        wrapped_key BYTEA NOT NULL,
        ciphertext BYTEA NOT NULL,
        PRIMARY KEY (name, version)
      );
      -- Not tied to terraform_states: the first apply locks a state that does not exist yet.
      CREATE TABLE terraform_locks (
        name TEXT COLLATE "C" PRIMARY KEY,
        lock_id TEXT NOT NULL,
        info TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'change notifications for the replicas caches',
    // Triggers, not the store's code, announce changes: they fire for every writer (a replica, a
    // migration, an operator's SQL), and NOTIFY is delivered only when the transaction commits.
    sql: `
      CREATE FUNCTION keysafe_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        changed jsonb;
      BEGIN
        IF TG_LEVEL = 'STATEMENT' THEN
          PERFORM pg_notify('keysafe:' || TG_TABLE_SCHEMA, TG_ARGV[0]);
        ELSE
          IF TG_OP = 'DELETE' THEN changed := to_jsonb(OLD); ELSE changed := to_jsonb(NEW); END IF;
          PERFORM pg_notify('keysafe:' || TG_TABLE_SCHEMA, TG_ARGV[0] || ':' || (changed ->> TG_ARGV[1]));
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER kms_keys_notify AFTER UPDATE OR DELETE ON kms_keys
        FOR EACH ROW EXECUTE FUNCTION keysafe_notify('key', 'key_id');
      CREATE TRIGGER kms_aliases_notify AFTER INSERT OR UPDATE OR DELETE ON kms_aliases
        FOR EACH ROW EXECUTE FUNCTION keysafe_notify('alias', 'name');
      CREATE TRIGGER secrets_notify AFTER UPDATE OR DELETE ON secrets
        FOR EACH ROW EXECUTE FUNCTION keysafe_notify('secret', 'arn');
      CREATE TRIGGER secret_events_notify AFTER INSERT ON secret_events
        FOR EACH STATEMENT EXECUTE FUNCTION keysafe_notify('events');
      CREATE TRIGGER auth_entries_notify AFTER INSERT OR UPDATE OR DELETE ON auth_entries
        FOR EACH STATEMENT EXECUTE FUNCTION keysafe_notify('auth');
      CREATE TRIGGER auth_revocations_notify AFTER INSERT OR UPDATE OR DELETE ON auth_revocations
        FOR EACH STATEMENT EXECUTE FUNCTION keysafe_notify('auth');
    `,
  },
  {
    version: 6,
    name: 'the keys Keysafe uses for itself, by purpose',
    // No ON DELETE: a key recorded here cannot be deleted, whatever deletes it.
    sql: `
      CREATE TABLE kms_internal_keys (
        purpose TEXT COLLATE "C" PRIMARY KEY,
        key_id TEXT COLLATE "C" NOT NULL REFERENCES kms_keys (key_id),
        created_at BIGINT NOT NULL
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
        grant_id TEXT COLLATE "C" PRIMARY KEY,
        key_arn TEXT COLLATE "C" NOT NULL,
        name TEXT,
        grantee_principal TEXT NOT NULL,
        retiring_principal TEXT,
        operations TEXT NOT NULL,
        constraints TEXT,
        created_at BIGINT NOT NULL,
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
      ALTER TABLE kms_keys ADD COLUMN material_expires_at BIGINT;
      CREATE INDEX kms_keys_material_expiry_due ON kms_keys (material_expires_at) WHERE material_expires_at IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'the last cryptographic use of each key (GetKeyLastUsage)',
    sql: `
      CREATE TABLE kms_key_usage (
        key_id TEXT COLLATE "C" PRIMARY KEY REFERENCES kms_keys (key_id) ON DELETE CASCADE,
        at BIGINT NOT NULL,
        operation TEXT NOT NULL
      );
    `,
  },
  {
    version: 10,
    name: "secrets' LastAccessedDate, written apart from the secret's document and revision",
    sql: 'ALTER TABLE secrets ADD COLUMN last_accessed_at BIGINT;',
  },
  {
    // SQLite's migration 6. PostgreSQL's 6 was already the internal keys table (it has one more
    // migration, the notification triggers), and 7 to 10 went to grants, imported key material,
    // key specs and Secrets Manager fidelity: 11 is the first free number. It runs after 9 here
    // (kms_key_usage exists), before it in SQLite (where 9 creates the table with its region).
    version: 11,
    name: 'regions: keys, aliases, internal keys, secrets and events belong to a region',
    sql: (o) => regionsMigration(regionLiteral(o.defaultRegion)),
  },
];

/**
 * Existing rows move to the default region (a column default used once, then dropped: every
 * writer names the region). Key versions lose their foreign key: they are shared by every region
 * holding the key id (multi-Region keys), and the store deletes them with the last one.
 */
function regionsMigration(region: string): string {
  const column = (table: string) => `
    ALTER TABLE ${table} ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT ${region};
    ALTER TABLE ${table} ALTER COLUMN region DROP DEFAULT;`;
  return `
    ALTER TABLE kms_key_versions DROP CONSTRAINT kms_key_versions_key_id_fkey;
    ALTER TABLE kms_aliases DROP CONSTRAINT kms_aliases_key_id_fkey;
    ALTER TABLE kms_internal_keys DROP CONSTRAINT kms_internal_keys_key_id_fkey;
    ALTER TABLE kms_key_usage DROP CONSTRAINT kms_key_usage_key_id_fkey;
    ${column('kms_keys')}
    ALTER TABLE kms_keys DROP CONSTRAINT kms_keys_pkey, ADD PRIMARY KEY (region, key_id);
    CREATE INDEX kms_keys_key_id ON kms_keys (key_id);
    ${column('kms_aliases')}
    ALTER TABLE kms_aliases DROP CONSTRAINT kms_aliases_pkey, ADD PRIMARY KEY (region, name),
      ADD FOREIGN KEY (region, key_id) REFERENCES kms_keys (region, key_id) ON DELETE CASCADE;
    DROP INDEX kms_aliases_key;
    CREATE INDEX kms_aliases_key ON kms_aliases (region, key_id, name);
    ${column('kms_internal_keys')}
    ALTER TABLE kms_internal_keys DROP CONSTRAINT kms_internal_keys_pkey, ADD PRIMARY KEY (region, purpose),
      ADD FOREIGN KEY (region, key_id) REFERENCES kms_keys (region, key_id);
    ${column('kms_key_usage')}
    ALTER TABLE kms_key_usage DROP CONSTRAINT kms_key_usage_pkey, ADD PRIMARY KEY (region, key_id),
      ADD FOREIGN KEY (region, key_id) REFERENCES kms_keys (region, key_id) ON DELETE CASCADE;
    ${column('secrets')}
    ALTER TABLE secrets DROP CONSTRAINT secrets_name_key, ADD UNIQUE (region, name);
    ${column('secret_events')}
    CREATE INDEX secret_events_region ON secret_events (region, cursor);
  `;
}

/**
 * Creates the schema if needed and applies every migration not yet recorded, each in its own
 * transaction. Several replicas may start at once: a session advisory lock lets one migrate
 * while the others wait, then find nothing left to do.
 */
export async function migratePostgres(db: PgDatabase, options: MigrationOptions): Promise<void> {
  await db.withAdvisoryLock(LOCK_MIGRATIONS, async (c) => {
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(db.schema)}`);
    await c.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const applied = new Set(
      (await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    for (const m of pendingMigrations('PostgreSQL', POSTGRES_MIGRATIONS, applied)) {
      await c.query('BEGIN');
      try {
        await c.query(typeof m.sql === 'string' ? m.sql : m.sql(options));
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      }
    }
  });
}
