// The storage faults SQLite reports (disk full, read-only, I/O errors) as clear, stable errors.
//
// Without this a full disk surfaced as an opaque InternalFailure (500) and a "request failed" log
// line with a stack, like a programmer mistake. Now a request hitting one is answered
// ServiceUnavailableException (503, retried by the SDKs) naming the cause, and the server logs
// one readable line per fault and minute; a database that cannot be written at start-up is a
// ConfigError naming the file, not a stack trace.
import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from '../../core/errors.js';
import type { Logger } from '../../observability/logger.js';

/** SQLite's extended result codes of faults below the database, by prefix, with what they mean. */
const FAULTS: readonly [prefix: string, reason: string][] = [
  ['SQLITE_FULL', 'its disk is full'],
  ['SQLITE_READONLY', 'its files are read-only'],
  ['SQLITE_IOERR', 'its disk reported an I/O error'],
  ['SQLITE_CANTOPEN', 'its files cannot be opened'],
];

const LOG_EVERY_MS = 60_000;

/** The storage fault `e` is (code and reason), or undefined for any other error. */
export function storageFault(e: unknown): { code: string; reason: string } | undefined {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string') return undefined;
  const known = FAULTS.find(([prefix]) => code.startsWith(prefix));
  return known && { code, reason: known[1] };
}

/** Why `path` (or a file beside it) cannot be written, from the file system: e.g. "EROFS". */
export function whyNotWritable(path: string): string | undefined {
  for (const p of [path, dirname(path)]) {
    try {
      accessSync(p, constants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return code === 'EROFS' ? 'read-only file system' : `${p}: ${code}`;
    }
  }
  return undefined;
}

/**
 * Makes every method of `store` answer a storage fault with ServiceUnavailableException; other
 * errors pass unchanged. Each distinct fault is logged at most once a minute.
 */
export function withStorageFaults<T extends object>(store: T, logger: Logger): T {
  const logged = new Map<string, number>();
  const translate = (e: unknown): unknown => {
    const fault = storageFault(e);
    if (!fault) return e;
    const now = Date.now();
    if ((logged.get(fault.code) ?? 0) + LOG_EVERY_MS <= now) {
      logged.set(fault.code, now);
      logger.error('data store fault: requests that touch it fail until it is fixed', {
        code: fault.code,
        reason: fault.reason,
      });
    }
    return new AppError(
      'ServiceUnavailableException',
      `The data store is unavailable: ${fault.reason} (${fault.code}). The request failed; retry once it is fixed.`,
    );
  };
  // Every method along the prototype chain (a store may inherit part of its methods).
  const names = new Set<string>();
  for (
    let p = Object.getPrototypeOf(store) as object | null;
    p && p !== Object.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    for (const name of Object.getOwnPropertyNames(p)) names.add(name);
  }
  for (const name of names) {
    const method = (store as Record<string, unknown>)[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    Object.defineProperty(store, name, {
      value: (...args: unknown[]) => {
        let result: unknown;
        try {
          result = method.apply(store, args);
        } catch (e) {
          throw translate(e);
        }
        // The store methods are async: their faults arrive as rejections.
        return result instanceof Promise
          ? result.catch((e: unknown) => {
              throw translate(e);
            })
          : result;
      },
    });
  }
  return store;
}
