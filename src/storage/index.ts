// Opens the store a URL names: `sqlite:<path>` (default) or `postgres://…` / `postgresql://…`.
import { ConfigError } from '../core/config-error.js';
import type { Logger } from '../observability/logger.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store, StoreOptions } from './types.js';

export { type MigrationCounts, migrateSqliteToPostgres } from './migrate.js';
export type * from './types.js';

export async function openStore(url: string, options: StoreOptions & { logger?: Logger } = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) return openSqliteStore(url.slice('sqlite:'.length), options);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgresStore(url, options);
  throw new ConfigError('unsupported store URL scheme; expected sqlite:<path> or postgres://…');
}
