// Terraform values on the wire: cty's msgpack encoding (and JSON for stored raw state), driven by the schema.
//
// - Every object carries every attribute of its type, null as msgpack nil (Terraform rejects a missing key).
// - Unknown is a msgpack extension: written as ext 0 with one zero byte (what cty writes); any extension
//   type is read as unknown (cty uses ext 12 for refined unknowns).
// - Numbers: safe integers and doubles as themselves, larger integers as bigint (int64/uint64), and
//   decimal strings (cty's form for what fits neither) kept as strings: no silent precision loss.
import { Decoder, Encoder, ExtData, ExtensionCodec } from '@msgpack/msgpack';

export type CtyType =
  | 'string'
  | 'number'
  | 'bool'
  | 'dynamic'
  | ['list' | 'set' | 'map', CtyType]
  | ['object', Record<string, CtyType>]
  | ['tuple', CtyType[]];

/** The unknown value ("known after apply"). */
export const UNKNOWN: unique symbol = Symbol('unknown');
export type Unknown = typeof UNKNOWN;
export type CtyNumber = number | bigint | string;
export type CtyValue = null | Unknown | string | CtyNumber | boolean | CtyValue[] | { [key: string]: CtyValue };
export type CtyObject = { [key: string]: CtyValue };

export const isUnknown = (v: unknown): v is Unknown => v === UNKNOWN;

const extensions = new ExtensionCodec();
extensions.register({
  type: 0,
  encode: (value: unknown) => (value === UNKNOWN ? new Uint8Array([0]) : null),
  decode: () => UNKNOWN,
});
const encoder = new Encoder({ extensionCodec: extensions, useBigInt64: true, ignoreUndefined: false });
const decoder = new Decoder({ extensionCodec: extensions, useBigInt64: true });

/** Shapes a value to its type: every object attribute present (null when missing), sets as arrays. */
export function normalize(type: CtyType, value: unknown): CtyValue {
  if (value === undefined || value === null) return null;
  if (value === UNKNOWN || value instanceof ExtData) return UNKNOWN;
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return typeof value === 'string' ? value : String(value);
      case 'bool':
        return Boolean(value);
      case 'number':
        return normalizeNumber(value);
      default:
        return value as CtyValue;
    }
  }
  const [kind, inner] = type;
  switch (kind) {
    case 'list':
    case 'set':
      return (value as unknown[]).map((v) => normalize(inner, v));
    case 'map': {
      const out: CtyObject = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = normalize(inner, v);
      return out;
    }
    case 'object': {
      const out: CtyObject = {};
      const source = value as Record<string, unknown>;
      for (const [k, t] of Object.entries(inner)) out[k] = normalize(t, source[k]);
      return out;
    }
    case 'tuple':
      return inner.map((t, i) => normalize(t, (value as unknown[])[i]));
  }
}

function normalizeNumber(value: unknown): CtyNumber {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (typeof value === 'number') return value;
  const text = String(value);
  const n = Number(text);
  // Keep the decimal text when a double would not hold it exactly.
  return Number.isFinite(n) && String(n) === text ? n : text;
}

/** msgpack bytes (or, when empty, JSON) of a DynamicValue → a value shaped by `type`. */
export function decodeDynamic(type: CtyType, dv: { msgpack?: Uint8Array; json?: Uint8Array } | null | undefined) {
  if (!dv) return null;
  if (dv.msgpack && dv.msgpack.length > 0) return normalize(type, decoder.decode(dv.msgpack));
  if (dv.json && dv.json.length > 0) return normalize(type, JSON.parse(Buffer.from(dv.json).toString('utf8')));
  return null;
}

/** A value → msgpack bytes, normalised through `type` first. */
export function encodeValue(type: CtyType, value: unknown): Buffer {
  const v = normalize(type, value);
  const bytes = encoder.encode(toWire(v));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeDynamic(type: CtyType, value: unknown): { msgpack: Buffer } {
  return { msgpack: encodeValue(type, value) };
}

function toWire(v: CtyValue): unknown {
  if (typeof v === 'number' && !Number.isSafeInteger(v) && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(toWire);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toWire(x);
    return out;
  }
  return v;
}

/** Structural equality of two values (unknown equals only unknown). */
export function ctyEqual(a: CtyValue | undefined, b: CtyValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return (a ?? null) === (b ?? null);
  if (typeof a !== 'object' || typeof b !== 'object') return String(a) === String(b) && typeof a === typeof b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => ctyEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const ao = a as CtyObject;
  const bo = b as CtyObject;
  return ka.length === kb.length && ka.every((k) => k in bo && ctyEqual(ao[k], bo[k]));
}

/** Whether a value holds an unknown anywhere. */
export function containsUnknown(v: CtyValue): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v !== null && typeof v === 'object') return Object.values(v).some(containsUnknown);
  return false;
}
