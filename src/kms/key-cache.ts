// Key lookups for the KMS engine: KeyId references resolved, records and unwrapped material cached.
//
// Records and aliases are served for up to `ttlMs`; this replica's own writes update the cache at
// once, and another replica's are dropped on its change notification (the TTL is the backstop). Unwrapped material never changes for a
// key version, so it stays until the key is deleted, its imported material deleted, or another replica changes the key.
import { aliasArn, type KeyRef, keyArn, type Partition, parseKeyRef } from '../core/arn.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { DecryptionError, type RootKeyring } from '../crypto/index.js';
import { loadMaterialInsecure, type Material } from './material.js';
import type { KeyRecord, KmsStore } from './store.js';

const MAX_CACHED_MATERIALS = 10_000;

export interface KeyCacheDeps {
  store: KmsStore;
  rootKeys: RootKeyring;
  clock: Clock;
  partition: Partition;
  ttlMs: number;
}

/**
 * A key or alias ARN of another region or account. AWS KMS answers an ARN of another region with
 * NotFoundException "Invalid arn <region>" (the request's region serves only its own keys), and
 * one of another account as a key or alias it cannot find there: Keysafe serves one account, so
 * nothing exists in any other. (InvalidArnException is for malformed ARNs in grants and
 * policies, not for a KeyId.)
 */
function notServedHere(partition: Partition, ref: Extract<KeyRef, { kind: 'elsewhere' }>): AppError {
  if (ref.region !== partition.region) return new AppError('NotFoundException', `Invalid arn ${ref.region}`);
  return new AppError(
    'NotFoundException',
    ref.resource === 'key' ? `Key '${ref.arn}' does not exist` : `Alias ${ref.arn} is not found.`,
  );
}

/** What the cache holds: records and aliases with the time they were read, and unwrapped material by `keyId/version`. */
interface CacheMaps {
  records: Map<string, { record: KeyRecord; at: number }>;
  aliases: Map<string, { keyId: string | undefined; at: number }>;
  materials: Map<string, Material>;
}

function dropMaterial(materials: CacheMaps['materials'], keyId: string): void {
  for (const id of materials.keys()) if (id.startsWith(`${keyId}/`)) materials.delete(id);
}

/** A KeyId parameter (key id, key ARN, alias name or alias ARN) → the key id. */
async function resolveKeyId(deps: KeyCacheDeps, aliases: CacheMaps['aliases'], ref: string): Promise<string> {
  const { store, clock, partition, ttlMs } = deps;
  const parsed = parseKeyRef(partition, ref);
  if (parsed.kind === 'key') return parsed.keyId;
  if (parsed.kind === 'invalid') throw new AppError('NotFoundException', `Invalid keyId '${ref}'`);
  if (parsed.kind === 'elsewhere') throw notServedHere(partition, parsed);
  const now = clock.now();
  let hit = aliases.get(parsed.name);
  if (!hit || now - hit.at > ttlMs) {
    hit = { keyId: (await store.getAlias(parsed.name))?.keyId, at: now };
    aliases.set(parsed.name, hit);
  }
  if (!hit.keyId) throw new AppError('NotFoundException', `Alias ${aliasArn(partition, parsed.name)} is not found.`);
  return hit.keyId;
}

/**
 * A multi-Region key's current version is its newest shared version: the primary's rotation adds
 * it (one transaction with the primary's record) and every replica derives it here, so no replica
 * record can lag behind the versions. (The primary is the only writer of versions.)
 */
async function withSharedCurrentVersion(store: KmsStore, record: KeyRecord): Promise<KeyRecord> {
  const versions = await store.listKeyVersions(record.keyId);
  const latest = versions.reduce((max, v) => Math.max(max, v.version), 0);
  return latest > record.currentVersion ? { ...record, currentVersion: latest } : record;
}

/** The key's record; `fresh` reads the store (management operations need the latest revision). */
async function loadKey(
  deps: KeyCacheDeps,
  records: CacheMaps['records'],
  keyId: string,
  fresh: boolean,
): Promise<KeyRecord> {
  const { store, clock, partition, ttlMs } = deps;
  const now = clock.now();
  const hit = records.get(keyId);
  if (hit && !fresh && now - hit.at <= ttlMs) return hit.record;
  const stored = await store.getKey(keyId);
  if (!stored) {
    records.delete(keyId);
    throw new AppError('NotFoundException', `Key '${keyArn(partition, keyId)}' does not exist`);
  }
  const record = stored.multiRegion ? await withSharedCurrentVersion(store, stored) : stored;
  records.set(keyId, { record, at: now });
  return record;
}

/** A key version's material, unwrapped with the root key that wrapped it. */
async function loadMaterial(
  deps: KeyCacheDeps,
  materials: CacheMaps['materials'],
  key: KeyRecord,
  version: number,
): Promise<Material> {
  const id = `${key.keyId}/${version}`;
  const cached = materials.get(id);
  if (cached) return cached;
  const row = await deps.store.getKeyVersion(key.keyId, version);
  if (!row) throw new DecryptionError();
  const root = deps.rootKeys.get(row.rootKeyId);
  if (!root) throw new AppError('KMSInternalException', 'key material is wrapped under an unknown root key');
  const loaded = loadMaterialInsecure(key.keySpec, root.unwrap(key.keyId, version, row.wrappedMaterial));
  // A bound on memory: the oldest entry goes first.
  if (materials.size >= MAX_CACHED_MATERIALS) materials.delete(materials.keys().next().value!);
  materials.set(id, loaded);
  return loaded;
}

export function createKeyCache(deps: KeyCacheDeps) {
  const { records, aliases, materials }: CacheMaps = { records: new Map(), aliases: new Map(), materials: new Map() };
  const load = (keyId: string, fresh = false) => loadKey(deps, records, keyId, fresh);
  const resolve = (ref: string) => resolveKeyId(deps, aliases, ref);

  return {
    resolveKeyId: resolve,
    loadKey: load,
    getKey: async (ref: string, fresh = false) => load(await resolve(ref), fresh),

    /** Records a key this replica just wrote. */
    remember(record: KeyRecord): KeyRecord {
      records.set(record.keyId, { record, at: deps.clock.now() });
      return record;
    },

    /** Drops everything about a deleted key. */
    forget(keyId: string): void {
      records.delete(keyId);
      for (const [name, hit] of aliases) if (hit.keyId === keyId) aliases.delete(name);
      dropMaterial(materials, keyId);
    },

    /** Drops a key's unwrapped material: its imported material was deleted or expired. */
    forgetMaterial: (keyId: string): void => dropMaterial(materials, keyId),

    forgetAlias: (name: string) => aliases.delete(name),

    /**
     * Drops a key's record, so the next use reads the store (another replica changed it), and its
     * material: the change may have deleted imported material, which must not outlive it here.
     */
    forgetRecord(keyId: string): void {
      records.delete(keyId);
      dropMaterial(materials, keyId);
    },

    /** Drops every record and alias (changes may have been missed); material never changes. */
    clear(): void {
      records.clear();
      aliases.clear();
    },

    /** A key version's material, unwrapped with the root key that wrapped it. */
    material: (key: KeyRecord, version: number): Promise<Material> => loadMaterial(deps, materials, key, version),
  };
}
