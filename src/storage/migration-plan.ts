// Which migrations a store still needs, refusing a store this binary must not touch: one migrated by a
// newer binary (it would read tables it does not know) or one whose history a migration would rewrite
// out of order (a lower version than one already applied).
import { ConfigError } from '../core/config-error.js';

/**
 * The migrations of `known` not yet in `applied`, in order. Throws a ConfigError (exit 2) when the
 * store holds a version this binary does not know, or when a pending migration is lower than the
 * highest applied one: migrations assume every lower one ran before them.
 */
export function pendingMigrations<M extends { version: number }>(
  store: string,
  known: readonly M[],
  applied: ReadonlySet<number>,
): M[] {
  const knownVersions = new Set(known.map((m) => m.version));
  const newest = Math.max(0, ...knownVersions);
  const unknown = [...applied].filter((v) => !knownVersions.has(v)).sort((a, b) => a - b);
  if (unknown.length > 0) {
    throw new ConfigError(
      `store: the ${store} database has schema version ${unknown.at(-1)}, newer than this keysafe's ${newest}; run that keysafe or a newer one (replicas are upgraded together: stop the old ones before a new one migrates)`,
    );
  }
  const pending = known.filter((m) => !applied.has(m.version));
  const highest = Math.max(0, ...applied);
  const early = pending.find((m) => m.version < highest);
  if (early) {
    throw new ConfigError(
      `store: the ${store} database lacks migration ${early.version} but has ${highest}; applying ${early.version} after ${highest} is not supported (a store from an unreleased build: migrate into a new store)`,
    );
  }
  return pending;
}
