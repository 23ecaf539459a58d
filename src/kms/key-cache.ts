// Key lookups for the KMS engine: KeyId references resolved, records and unwrapped material cached.
//
// Records and aliases are served for up to `ttlMs`; this replica's own writes update the cache at
// once, and another replica's are dropped on its change notification (the TTL is the backstop). Unwrapped material never changes for a
// key version, so it stays until the key is deleted, its imported material deleted, or another replica changes the key.
import { aliasArn, keyArn, type Partition, parseKeyRef } from '../core/arn.js';
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

export function createKeyCache({ store, rootKeys, clock, partition, ttlMs }: KeyCacheDeps) {
  const records = new Map<string, { record: KeyRecord; at: number }>();
  const aliases = new Map<string, { keyId: string | undefined; at: number }>();
  const materials = new Map<string, Material>();

  function dropMaterial(keyId: string): void {
    for (const id of materials.keys()) if (id.startsWith(`${keyId}/`)) materials.delete(id);
  }

  /** A KeyId parameter (key id, key ARN, alias name or alias ARN) → the key id. */
  async function resolveKeyId(ref: string): Promise<string> {
    const parsed = parseKeyRef(partition, ref);
    if (parsed.kind === 'key') return parsed.keyId;
    if (parsed.kind === 'invalid') throw new AppError('NotFoundException', `Invalid keyId '${ref}'`);
    const now = clock.now();
    let hit = aliases.get(parsed.name);
    if (!hit || now - hit.at > ttlMs) {
      hit = { keyId: (await store.getAlias(parsed.name))?.keyId, at: now };
      aliases.set(parsed.name, hit);
    }
    if (!hit.keyId) throw new AppError('NotFoundException', `Alias ${aliasArn(partition, parsed.name)} is not found.`);
    return hit.keyId;
  }

  /** The key's record; `fresh` reads the store (management operations need the latest revision). */
  async function loadKey(keyId: string, fresh = false): Promise<KeyRecord> {
    const now = clock.now();
    const hit = records.get(keyId);
    if (hit && !fresh && now - hit.at <= ttlMs) return hit.record;
    const record = await store.getKey(keyId);
    if (!record) {
      records.delete(keyId);
      throw new AppError('NotFoundException', `Key '${keyArn(partition, keyId)}' does not exist`);
    }
    records.set(keyId, { record, at: now });
    return record;
  }

  return {
    resolveKeyId,
    loadKey,
    getKey: async (ref: string, fresh = false) => loadKey(await resolveKeyId(ref), fresh),

    /** Records a key this replica just wrote. */
    remember(record: KeyRecord): KeyRecord {
      records.set(record.keyId, { record, at: clock.now() });
      return record;
    },

    /** Drops everything about a deleted key. */
    forget(keyId: string): void {
      records.delete(keyId);
      for (const [name, hit] of aliases) if (hit.keyId === keyId) aliases.delete(name);
      dropMaterial(keyId);
    },

    /** Drops a key's unwrapped material: its imported material was deleted or expired. */
    forgetMaterial: dropMaterial,

    forgetAlias: (name: string) => aliases.delete(name),

    /**
     * Drops a key's record, so the next use reads the store (another replica changed it), and its
     * material: the change may have deleted imported material, which must not outlive it here.
     */
    forgetRecord(keyId: string): void {
      records.delete(keyId);
      dropMaterial(keyId);
    },

    /** Drops every record and alias (changes may have been missed); material never changes. */
    clear(): void {
      records.clear();
      aliases.clear();
    },

    /** A key version's material, unwrapped with the root key that wrapped it. */
    async material(key: KeyRecord, version: number): Promise<Material> {
      const id = `${key.keyId}/${version}`;
      const cached = materials.get(id);
      if (cached) return cached;
      const row = await store.getKeyVersion(key.keyId, version);
      if (!row) throw new DecryptionError();
      const root = rootKeys.get(row.rootKeyId);
      if (!root) throw new AppError('KMSInternalException', 'key material is wrapped under an unknown root key');
      const loaded = loadMaterialInsecure(key.keySpec, root.unwrap(key.keyId, version, row.wrappedMaterial));
      if (materials.size >= MAX_CACHED_MATERIALS) materials.delete(materials.keys().next().value!);
      materials.set(id, loaded);
      return loaded;
    },
  };
}
