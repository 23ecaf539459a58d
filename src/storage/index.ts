// Opens the store a URL names: `sqlite:<path>` (default) or, later, `postgres://…`.
import { ConfigError } from '../core/config-error.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

export type * from './types.js';
export { secretDueAt } from './types.js';

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return openSqliteStore(url.slice('sqlite:'.length));
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    throw new ConfigError('PostgreSQL storage is not available yet; use sqlite:<path>');
  }
  throw new ConfigError(`unsupported store URL scheme; expected sqlite:<path>`);
}
