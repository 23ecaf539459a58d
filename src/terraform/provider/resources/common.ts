// Helpers shared by the resources: reading typed values out of cty objects, tags, JSON documents.
import type { KeysafeClient } from '../client.js';
import type { CtyObject, CtyValue } from '../cty.js';
import type { Diagnostic } from '../definitions.js';

export const str = (v: CtyValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
export const num = (v: CtyValue | undefined): number | undefined =>
  v === null || v === undefined || typeof v === 'symbol' || typeof v === 'boolean' || typeof v === 'object'
    ? undefined
    : Number(v);
export const bool = (v: CtyValue | undefined): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
export const strMap = (v: CtyValue | undefined): Record<string, string> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]))
    : undefined;
export const strList = (v: CtyValue | undefined): string[] | undefined =>
  Array.isArray(v) ? v.map((x) => String(x)) : undefined;

/** A tag map as stored: null when there are none and the configuration has none either. */
export function tagsState(tags: Record<string, string>, prior: CtyValue | undefined): CtyValue {
  if (Object.keys(tags).length === 0 && (prior === null || prior === undefined)) return null;
  return tags;
}

export function tagChanges(prior: CtyValue | undefined, next: CtyValue | undefined) {
  const before = strMap(prior) ?? {};
  const after = strMap(next) ?? {};
  const set = Object.entries(after).filter(([k, v]) => before[k] !== v);
  const removed = Object.keys(before).filter((k) => !(k in after));
  return { set, removed };
}

/** Keep the configured text when it means the same JSON as what the server returns (no spurious diffs). */
export function sameJsonOr(prior: CtyValue | undefined, server: string): string {
  if (typeof prior === 'string') {
    try {
      if (canonicalJson(JSON.parse(prior)) === canonicalJson(JSON.parse(server))) return prior;
    } catch {
      // not JSON: the server's text wins
    }
  }
  return server;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function jsonDiagnostic(config: CtyObject, key: string): Diagnostic[] {
  const v = config[key];
  if (typeof v !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(v);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return [];
  } catch (e) {
    return [
      {
        severity: 'error',
        summary: `Invalid ${key}`,
        detail: `${key} must be a JSON object: ${(e as Error).message}`,
        path: [key],
      },
    ];
  }
}

export function rangeDiagnostic(config: CtyObject, key: string, min: number, max: number): Diagnostic[] {
  const n = num(config[key]);
  if (n === undefined || (Number.isInteger(n) && n >= min && n <= max)) return [];
  return [
    {
      severity: 'error',
      summary: `Invalid ${key}`,
      detail: `${key} must be an integer from ${min} to ${max}, got ${n}.`,
      path: [key],
    },
  ];
}

export function oneOfDiagnostic(config: CtyObject, key: string, allowed: readonly string[]): Diagnostic[] {
  const v = str(config[key]);
  if (v === undefined || allowed.includes(v)) return [];
  return [
    {
      severity: 'error',
      summary: `Invalid ${key}`,
      detail: `${key} must be one of ${allowed.join(', ')}; got "${v}".`,
      path: [key],
    },
  ];
}

/** Every alias page of ListAliases (optionally for one key). */
export async function listAliases(client: KeysafeClient, keyId?: string) {
  const out: { AliasName: string; AliasArn: string; TargetKeyId?: string }[] = [];
  let marker: string | undefined;
  do {
    const page = await client.kms<{
      Aliases?: { AliasName: string; AliasArn: string; TargetKeyId?: string }[];
      NextMarker?: string;
      Truncated?: boolean;
    }>('ListAliases', { ...(keyId && { KeyId: keyId }), Limit: 100, ...(marker && { Marker: marker }) });
    out.push(...(page.Aliases ?? []));
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return out;
}
