// Applies the injector's own JSON Patch (RFC 6902 `add` only) to a plain object, for `keysafe inject`.
import type { PatchOperation } from './mutate.js';

const unescapeSegment = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** Applies the operations in order, in place; throws TypeError on a path that does not fit the document. */
export function applyPatch<T>(doc: T, ops: readonly PatchOperation[]): T {
  for (const { op, path, value } of ops) {
    if (op !== 'add') throw new TypeError(`unsupported JSON Patch op ${op}`);
    const parts = path.split('/').slice(1).map(unescapeSegment);
    const last = parts.pop();
    if (last === undefined) throw new TypeError('cannot replace the whole document');
    let target: unknown = doc;
    for (const part of parts) {
      target = (target as Record<string, unknown> | undefined)?.[part];
      if (target === null || typeof target !== 'object') throw new TypeError(`JSON Patch path ${path} does not exist`);
    }
    const copy = structuredClone(value);
    if (Array.isArray(target)) {
      const index = last === '-' ? target.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > target.length) {
        throw new TypeError(`JSON Patch index ${last} out of range in ${path}`);
      }
      target.splice(index, 0, copy);
    } else {
      (target as Record<string, unknown>)[last] = copy;
    }
  }
  return doc;
}
