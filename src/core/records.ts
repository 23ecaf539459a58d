// Records keyed by caller-chosen names (encryption contexts, tags, labels): every name an own property.
//
// `out[k] = v` on a plain object drops k = "__proto__" (it sets the prototype instead), and reading
// `out[k]` finds inherited members ("constructor", "toString"). These helpers make neither happen.

/** An ordinary object whose own enumerable properties are exactly `entries`, "__proto__" included. */
export function ownRecord<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of entries) setOwn(out, k, v);
  return out;
}

/** `record[k]` if `k` is the record's own property, never an inherited member. */
export const ownValue = <V>(record: Readonly<Record<string, V>>, k: string): V | undefined =>
  Object.hasOwn(record, k) ? record[k] : undefined;

/** Sets `record[k] = v` as an own property, even for k = "__proto__". */
export function setOwn<V>(record: Record<string, V>, k: string, v: V): void {
  Object.defineProperty(record, k, { value: v, enumerable: true, writable: true, configurable: true });
}
