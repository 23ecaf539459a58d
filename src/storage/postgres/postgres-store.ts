// The PostgreSQL driver for every store interface: one pool, migrations applied on open.
import type { Store } from '../types.js';
import { PostgresAuthStore } from './auth-store.js';
import { PgCoordination } from './coordination.js';
import { PostgresKmsStore } from './kms-store.js';
import { migratePostgres } from './migrations.js';
import { PgDatabase, type PostgresOptions } from './pool.js';
import { PostgresSecretsStore } from './secrets-store.js';
import { PostgresTerraformStore } from './terraform-store.js';

export type { PostgresOptions } from './pool.js';

/** Connects, brings the schema up to date (safe with several replicas starting at once) and opens every store. */
export async function openPostgresStore(options: PostgresOptions | string): Promise<Store> {
  const opts = typeof options === 'string' ? { connectionString: options } : options;
  const db = new PgDatabase(opts);
  try {
    await migratePostgres(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  const coordination = new PgCoordination(opts.connectionString, db.schema);
  return {
    kms: new PostgresKmsStore(db),
    secrets: new PostgresSecretsStore(db),
    auth: new PostgresAuthStore(db),
    terraform: new PostgresTerraformStore(db),
    coordination,
    close: async () => {
      await coordination.close();
      await db.close();
    },
  };
}
