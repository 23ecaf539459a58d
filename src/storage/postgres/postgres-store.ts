// The PostgreSQL driver for every store interface: one pool, migrations applied on open.
import { migrationOptions } from '../migration-options.js';
import type { RegionalStore, Store, StoreOptions } from '../types.js';
import { PostgresAuthStore } from './auth-store.js';
import { PgCoordination } from './coordination.js';
import { PostgresKmsStore } from './kms-store.js';
import { migratePostgres } from './migrations.js';
import { PgDatabase, type PostgresOptions } from './pool.js';
import { PostgresSecretsStore } from './secrets-store.js';
import { PostgresTerraformStore } from './terraform-store.js';

export type { PostgresOptions } from './pool.js';

/** Connects, brings the schema up to date (safe with several replicas starting at once) and opens every store. */
export async function openPostgresStore(
  options: PostgresOptions | string,
  storeOptions: StoreOptions = {},
): Promise<Store> {
  const opts = typeof options === 'string' ? { connectionString: options } : options;
  const migration = migrationOptions(storeOptions.defaultRegion);
  const db = new PgDatabase(opts);
  try {
    await migratePostgres(db, migration);
  } catch (err) {
    await db.close();
    throw err;
  }
  const coordination = new PgCoordination(opts.connectionString, db.schema);
  const views = new Map<string, RegionalStore>();
  const inRegion = (region: string): RegionalStore => {
    let view = views.get(region);
    if (!view) {
      view = { region, kms: new PostgresKmsStore(db, region), secrets: new PostgresSecretsStore(db, region) };
      views.set(region, view);
    }
    return view;
  };
  const home = inRegion(migration.defaultRegion);
  return {
    kms: home.kms,
    secrets: home.secrets,
    defaultRegion: migration.defaultRegion,
    inRegion,
    regions: async () =>
      (
        await db.query<{ region: string }>(
          'SELECT region FROM kms_keys UNION SELECT region FROM secrets ORDER BY region',
        )
      ).rows.map((r) => r.region),
    auth: new PostgresAuthStore(db),
    terraform: new PostgresTerraformStore(db),
    coordination,
    close: async () => {
      await coordination.close();
      await db.close();
    },
  };
}
