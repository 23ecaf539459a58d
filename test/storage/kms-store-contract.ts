// The KmsStore contract every storage driver must pass, written against the interface only.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AliasRecord, KeyRecord, KeyVersionRecord, KmsStore } from '../../src/kms/index.js';
import type { Store } from '../../src/storage/types.js';

/** 2026-01-01T00:00:00Z, in ms. */
const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

export function newKey(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyId: randomUUID(),
    revision: 1,
    createdAt: T0,
    description: '',
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    state: 'Enabled',
    currentVersion: 1,
    rotationEnabled: false,
    onDemandRotations: 0,
    policy: '{}',
    tags: [],
    ...overrides,
  };
}

export function newVersion(
  keyId: string,
  version: number,
  overrides: Partial<KeyVersionRecord> = {},
): KeyVersionRecord {
  return {
    keyId,
    version,
    rootKeyId: 'root-a',
    wrappedMaterial: Buffer.from(`wrapped ${keyId} v${version}`),
    createdAt: T0 + version,
    ...overrides,
  };
}

/** Every byte value, so encodings that mangle NULs, high bytes or UTF-8 show up. */
function allBytes(): Buffer {
  return Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 7 + 3) % 256));
}

function byId(a: { keyId: string }, b: { keyId: string }): number {
  return a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0;
}

export function describeKmsStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`KmsStore contract: ${name}`, () => {
    let store: Store;
    let kms: KmsStore;

    beforeEach(async () => {
      store = await open();
      kms = store.kms;
    });

    afterEach(async () => {
      await store.close();
    });

    /** Inserts a key with its first version and returns both as stored. */
    async function seed(overrides: Partial<KeyRecord> = {}, version: Partial<KeyVersionRecord> = {}) {
      const key = newKey(overrides);
      const v1 = newVersion(key.keyId, 1, version);
      await kms.insertKey(key, v1);
      return { key: (await kms.getKey(key.keyId))!, v1 };
    }

    function alias(name: string, keyId: string, at = T0): AliasRecord {
      return { name, keyId, createdAt: at, updatedAt: at };
    }

    describe('insertKey and getKey', () => {
      it('round-trips every field of a minimal key, with optional fields absent and revision 1', async () => {
        const key = newKey();
        await kms.insertKey(key, newVersion(key.keyId, 1));
        const got = await kms.getKey(key.keyId);
        expect(got).toEqual({ ...key, revision: 1 });
        for (const field of ['deletionAt', 'pendingWindowInDays', 'rotationPeriodInDays', 'nextRotationAt'] as const) {
          expect(got![field], field).toBeUndefined();
        }
      });

      it('round-trips every field of a fully populated key, including tags and policy verbatim', async () => {
        const policy = JSON.stringify(
          {
            Version: '2012-10-17',
            Statement: [{ Sid: 'Enable IAM', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*' }],
          },
          null,
          2,
        );
        const key = newKey({
          createdAt: T0 - 123,
          description: 'payments – “prod” key ✓',
          state: 'PendingDeletion',
          deletionAt: T0 + 7 * DAY,
          pendingWindowInDays: 7,
          currentVersion: 1,
          rotationEnabled: true,
          rotationPeriodInDays: 90,
          nextRotationAt: T0 + 90 * DAY,
          onDemandRotations: 3,
          policy,
          tags: [
            { TagKey: 'team', TagValue: 'payments' },
            { TagKey: 'env', TagValue: '' },
            { TagKey: 'ünïcødé', TagValue: '日本語' },
          ],
        });
        await kms.insertKey(key, newVersion(key.keyId, 1));
        const got = await kms.getKey(key.keyId);
        expect(got).toEqual({ ...key, revision: 1 });
        expect(got!.policy).toBe(policy);
        expect(got!.tags).toEqual(key.tags);
      });

      it('round-trips the first version, with and without a rotation type', async () => {
        const a = newKey();
        const va = newVersion(a.keyId, 1, { wrappedMaterial: allBytes(), rootKeyId: 'root-fp-1' });
        await kms.insertKey(a, va);
        const gotA = await kms.getKeyVersion(a.keyId, 1);
        expect(gotA).toEqual(va);
        expect(gotA!.rotationType).toBeUndefined();
        expect(Buffer.isBuffer(gotA!.wrappedMaterial)).toBe(true);
        expect(gotA!.wrappedMaterial.equals(va.wrappedMaterial)).toBe(true);

        const b = newKey();
        const vb = newVersion(b.keyId, 1, { rotationType: 'ON_DEMAND' });
        await kms.insertKey(b, vb);
        expect(await kms.getKeyVersion(b.keyId, 1)).toEqual(vb);
      });

      it('returns undefined for an unknown key id', async () => {
        await seed();
        expect(await kms.getKey(randomUUID())).toBeUndefined();
      });

      it('makes the key and its first version visible together', async () => {
        const key = newKey();
        const v1 = newVersion(key.keyId, 1);
        await kms.insertKey(key, v1);
        expect(await kms.getKey(key.keyId)).toEqual({ ...key, revision: 1 });
        expect(await kms.getKeyVersion(key.keyId, 1)).toEqual(v1);
        expect(await kms.listKeyVersions(key.keyId)).toEqual([v1]);
      });

      it('rejects a duplicate key id and leaves the first key and its version intact', async () => {
        const { key, v1 } = await seed({ description: 'first' });
        const dup = newKey({ keyId: key.keyId, description: 'second', state: 'Disabled' });
        const dupV1 = newVersion(key.keyId, 1, { rootKeyId: 'root-b', wrappedMaterial: Buffer.from('other') });
        await expect(kms.insertKey(dup, dupV1)).rejects.toThrow();
        expect(await kms.getKey(key.keyId)).toEqual(key);
        expect(await kms.listKeyVersions(key.keyId)).toEqual([v1]);
        expect((await kms.listKeys(10)).items).toHaveLength(1);
      });
    });

    describe('updateKey', () => {
      it('applies an update made against the current revision and returns the record with revision + 1', async () => {
        const { key } = await seed();
        const changed: KeyRecord = {
          ...key,
          description: 'updated',
          state: 'Disabled',
          tags: [{ TagKey: 'a', TagValue: 'b' }],
          policy: '{"Version":"2012-10-17"}',
        };
        const updated = await kms.updateKey(changed);
        expect(updated).toEqual({ ...changed, revision: key.revision + 1 });
        expect(await kms.getKey(key.keyId)).toEqual(updated);
      });

      it('bumps the revision on every successive update', async () => {
        let { key } = await seed();
        for (let i = 1; i <= 3; i++) {
          const next = await kms.updateKey({ ...key, onDemandRotations: i });
          expect(next!.revision).toBe(key.revision + 1);
          key = next!;
        }
        expect(await kms.getKey(key.keyId)).toEqual({ ...key, revision: 4, onDemandRotations: 3 });
      });

      it('sets and clears optional fields', async () => {
        const { key } = await seed();
        const pending = await kms.updateKey({
          ...key,
          state: 'PendingDeletion',
          deletionAt: T0 + 30 * DAY,
          pendingWindowInDays: 30,
        });
        expect(await kms.getKey(key.keyId)).toEqual(pending);
        const { deletionAt: _d, pendingWindowInDays: _p, ...restored } = pending!;
        const enabled = await kms.updateKey({ ...restored, state: 'Enabled' });
        const got = await kms.getKey(key.keyId);
        expect(got).toEqual(enabled);
        expect(got!.deletionAt).toBeUndefined();
        expect(got!.pendingWindowInDays).toBeUndefined();
      });

      it('rejects an update made against a stale revision and changes nothing', async () => {
        const { key } = await seed();
        const first = await kms.updateKey({ ...key, description: 'winner' });
        expect(first).toBeDefined();
        const stale = await kms.updateKey({ ...key, description: 'loser', state: 'Disabled' });
        expect(stale).toBeUndefined();
        expect(await kms.getKey(key.keyId)).toEqual(first);
      });

      it('lets exactly one of two concurrent updates from the same read win', async () => {
        const { key } = await seed();
        const results = await Promise.all([
          kms.updateKey({ ...key, description: 'replica a' }),
          kms.updateKey({ ...key, description: 'replica b' }),
        ]);
        const winners = results.filter((r) => r !== undefined);
        expect(winners).toHaveLength(1);
        expect(winners[0]!.revision).toBe(key.revision + 1);
        expect(await kms.getKey(key.keyId)).toEqual(winners[0]);
      });

      it('returns undefined for a key that does not exist', async () => {
        expect(await kms.updateKey(newKey())).toBeUndefined();
        expect((await kms.listKeys(10)).items).toEqual([]);
      });
    });

    describe('imported key material', () => {
      const imported = (validTo?: number, present = true) => ({
        keyMaterialId: 'f'.repeat(64),
        present,
        expirationModel:
          validTo === undefined ? ('KEY_MATERIAL_DOES_NOT_EXPIRE' as const) : ('KEY_MATERIAL_EXPIRES' as const),
        ...(validTo !== undefined && { validTo }),
        importedAt: T0,
      });

      it('inserts a key without material, puts, replaces and deletes it with the key; due at ValidTo', async () => {
        const key = newKey({ state: 'PendingImport', origin: 'EXTERNAL' });
        await kms.insertKey(key);
        expect(await kms.listKeyVersions(key.keyId)).toEqual([]);
        const stored = (await kms.getKey(key.keyId))!;
        const v1 = newVersion(key.keyId, 1, { wrappedMaterial: allBytes() });
        const put = (await kms.putKeyMaterial({ ...stored, state: 'Enabled', imported: imported(T0 + DAY) }, v1))!;
        expect(await kms.getKey(key.keyId)).toEqual(put);
        expect(await kms.listKeyVersions(key.keyId)).toEqual([v1]);
        expect(await kms.dueKeys(T0 + DAY - 1, 10)).toEqual([]);
        expect(await kms.dueKeys(T0 + DAY, 10)).toEqual([put]);
        const again = newVersion(key.keyId, 1, { rootKeyId: 'root-b' });
        const replaced = (await kms.putKeyMaterial({ ...put, imported: imported() }, again))!;
        expect(await kms.listKeyVersions(key.keyId)).toEqual([again]);
        expect(await kms.dueKeys(T0 + 400 * DAY, 10)).toEqual([]);
        expect(await kms.deleteKeyMaterial({ ...put, state: 'PendingImport' }, 1)).toBeUndefined();
        const gone = (await kms.deleteKeyMaterial(
          { ...replaced, state: 'PendingImport', imported: imported(undefined, false) },
          1,
        ))!;
        expect(await kms.getKey(key.keyId)).toEqual(gone);
        expect(await kms.listKeyVersions(key.keyId)).toEqual([]);
      });
    });

    describe('addKeyVersion', () => {
      it('inserts the version and updates the key together', async () => {
        const { key, v1 } = await seed({ rotationEnabled: true, rotationPeriodInDays: 90, nextRotationAt: T0 });
        const v2 = newVersion(key.keyId, 2, { rotationType: 'AUTOMATIC', wrappedMaterial: allBytes() });
        const next: KeyRecord = { ...key, currentVersion: 2, nextRotationAt: T0 + 90 * DAY };
        const updated = await kms.addKeyVersion(next, v2);
        expect(updated).toEqual({ ...next, revision: key.revision + 1 });
        expect(await kms.getKey(key.keyId)).toEqual(updated);
        expect(await kms.getKeyVersion(key.keyId, 2)).toEqual(v2);
        expect(await kms.listKeyVersions(key.keyId)).toEqual([v1, v2]);
      });

      it('rejects a stale revision without writing the version or touching the key', async () => {
        const { key, v1 } = await seed();
        const moved = await kms.updateKey({ ...key, description: 'moved on' });
        const v2 = newVersion(key.keyId, 2, { rotationType: 'ON_DEMAND' });
        expect(await kms.addKeyVersion({ ...key, currentVersion: 2, onDemandRotations: 1 }, v2)).toBeUndefined();
        expect(await kms.getKeyVersion(key.keyId, 2)).toBeUndefined();
        expect(await kms.listKeyVersions(key.keyId)).toEqual([v1]);
        expect(await kms.getKey(key.keyId)).toEqual(moved);
      });

      it('lets exactly one of two concurrent rotations from the same read win, writing one version', async () => {
        const { key, v1 } = await seed();
        const next = { ...key, currentVersion: 2, onDemandRotations: 1 };
        const a = newVersion(key.keyId, 2, { rotationType: 'ON_DEMAND', wrappedMaterial: Buffer.from('a') });
        const b = newVersion(key.keyId, 2, { rotationType: 'ON_DEMAND', wrappedMaterial: Buffer.from('b') });
        // The loser gets undefined (a conflict), not an error from the duplicate version.
        const results = await Promise.all([kms.addKeyVersion(next, a), kms.addKeyVersion(next, b)]);
        expect(results.filter((r) => r !== undefined)).toHaveLength(1);
        const versions = await kms.listKeyVersions(key.keyId);
        expect(versions).toHaveLength(2);
        expect(versions[0]).toEqual(v1);
        expect(versions[1]).toEqual(results[0] ? a : b);
        expect((await kms.getKey(key.keyId))!.revision).toBe(key.revision + 1);
      });

      it('lists versions in numeric version order with their material byte-for-byte', async () => {
        let { key } = await seed({}, { wrappedMaterial: allBytes() });
        const expected: KeyVersionRecord[] = [(await kms.getKeyVersion(key.keyId, 1))!];
        for (let v = 2; v <= 12; v++) {
          const material = Buffer.concat([allBytes().subarray(v), Buffer.from([0, v, 255])]);
          const version = newVersion(key.keyId, v, {
            rotationType: v % 2 ? 'AUTOMATIC' : 'ON_DEMAND',
            wrappedMaterial: material,
          });
          key = (await kms.addKeyVersion({ ...key, currentVersion: v }, version))!;
          expect(key).toBeDefined();
          expected.push(version);
        }
        const listed = await kms.listKeyVersions(key.keyId);
        expect(listed.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        expect(listed).toEqual(expected);
        for (const [i, v] of listed.entries()) {
          expect(Buffer.isBuffer(v.wrappedMaterial)).toBe(true);
          expect(v.wrappedMaterial.equals(expected[i]!.wrappedMaterial)).toBe(true);
        }
        expect((await kms.getKeyVersion(key.keyId, 10))!.wrappedMaterial.equals(expected[9]!.wrappedMaterial)).toBe(
          true,
        );
      });

      it('keeps versions separate per key and returns nothing for unknown ones', async () => {
        const a = await seed();
        const b = await seed();
        expect(await kms.listKeyVersions(a.key.keyId)).toEqual([a.v1]);
        expect(await kms.listKeyVersions(b.key.keyId)).toEqual([b.v1]);
        expect(await kms.getKeyVersion(a.key.keyId, 2)).toBeUndefined();
        expect(await kms.getKeyVersion(randomUUID(), 1)).toBeUndefined();
        expect(await kms.listKeyVersions(randomUUID())).toEqual([]);
      });
    });

    describe('deleteKey', () => {
      it('removes the key, its versions and its aliases when the revision matches', async () => {
        const { key } = await seed();
        const rotated = (await kms.addKeyVersion({ ...key, currentVersion: 2 }, newVersion(key.keyId, 2)))!;
        const other = await seed();
        expect(await kms.createAlias(alias('alias/doomed-1', key.keyId))).toBe(true);
        expect(await kms.createAlias(alias('alias/doomed-2', key.keyId))).toBe(true);
        expect(await kms.createAlias(alias('alias/survivor', other.key.keyId))).toBe(true);

        expect(await kms.deleteKey(key.keyId, rotated.revision)).toBe(true);

        expect(await kms.getKey(key.keyId)).toBeUndefined();
        expect(await kms.getKeyVersion(key.keyId, 1)).toBeUndefined();
        expect(await kms.getKeyVersion(key.keyId, 2)).toBeUndefined();
        expect(await kms.listKeyVersions(key.keyId)).toEqual([]);
        expect(await kms.getAlias('alias/doomed-1')).toBeUndefined();
        expect(await kms.getAlias('alias/doomed-2')).toBeUndefined();
        expect((await kms.listAliases(10, undefined, key.keyId)).items).toEqual([]);
        // The other key is untouched.
        expect(await kms.getKey(other.key.keyId)).toEqual(other.key);
        expect(await kms.listKeyVersions(other.key.keyId)).toEqual([other.v1]);
        expect((await kms.listAliases(10)).items.map((a) => a.name)).toEqual(['alias/survivor']);
      });

      it('returns false and removes nothing when the revision is stale', async () => {
        const { key, v1 } = await seed();
        const moved = await kms.updateKey({ ...key, state: 'PendingDeletion', deletionAt: T0 });
        expect(await kms.createAlias(alias('alias/kept', key.keyId))).toBe(true);
        expect(await kms.deleteKey(key.keyId, key.revision)).toBe(false);
        expect(await kms.getKey(key.keyId)).toEqual(moved);
        expect(await kms.listKeyVersions(key.keyId)).toEqual([v1]);
        expect(await kms.getAlias('alias/kept')).toEqual(alias('alias/kept', key.keyId));
      });

      it('returns false for an unknown key and for a second delete', async () => {
        const { key } = await seed();
        expect(await kms.deleteKey(randomUUID(), 1)).toBe(false);
        expect(await kms.deleteKey(key.keyId, key.revision)).toBe(true);
        expect(await kms.deleteKey(key.keyId, key.revision)).toBe(false);
      });
    });

    describe('listKeys', () => {
      it('returns an empty last page for an empty store', async () => {
        const page = await kms.listKeys(10);
        expect(page.items).toEqual([]);
        expect(page.next).toBeUndefined();
      });

      it('pages through every key in key id order, each exactly once, honouring the limit', async () => {
        const keys: KeyRecord[] = [];
        for (let i = 0; i < 7; i++) keys.push((await seed({ description: `key ${i}` })).key);
        const expected = [...keys].sort(byId);

        const seen: KeyRecord[] = [];
        const sizes: number[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await kms.listKeys(3, after);
          sizes.push(page.items.length);
          seen.push(...page.items);
          if (page.next === undefined) break;
          after = page.next;
        }
        expect(sizes).toEqual([3, 3, 1]);
        expect(seen).toEqual(expected);
      });

      it('gives the last page no cursor when the key count is an exact multiple of the limit', async () => {
        for (let i = 0; i < 4; i++) await seed();
        const first = await kms.listKeys(2);
        expect(first.items).toHaveLength(2);
        expect(first.next).toBeDefined();
        const second = await kms.listKeys(2, first.next);
        expect(second.items).toHaveLength(2);
        expect(second.next).toBeUndefined();
        expect(first.items.at(-1)!.keyId < second.items[0]!.keyId).toBe(true);
      });

      it('returns everything with no cursor when the limit exceeds the key count', async () => {
        const a = await seed();
        const b = await seed();
        const page = await kms.listKeys(100);
        expect(page.items).toEqual([a.key, b.key].sort(byId));
        expect(page.next).toBeUndefined();
      });

      it('returns current records, reflecting updates', async () => {
        const { key } = await seed();
        const updated = await kms.updateKey({ ...key, description: 'changed' });
        expect((await kms.listKeys(10)).items).toEqual([updated]);
      });
    });

    describe('dueKeys', () => {
      const now = T0 + 100 * DAY;

      it('returns enabled keys due for rotation and pending keys whose window ended, nothing else', async () => {
        const due = [
          await seed({ rotationEnabled: true, rotationPeriodInDays: 90, nextRotationAt: now - DAY }),
          await seed({ rotationEnabled: true, rotationPeriodInDays: 90, nextRotationAt: now }),
          await seed({ state: 'PendingDeletion', deletionAt: now - 1, pendingWindowInDays: 7 }),
          await seed({ state: 'PendingDeletion', deletionAt: now, pendingWindowInDays: 7 }),
          // A multi-Region primary waiting for its replicas: its look-again time came.
          await seed({ state: 'PendingReplicaDeletion', deletionAt: now, pendingWindowInDays: 7 }),
        ].map((s) => s.key);
        const notDue = [
          // Rotation due, but the key is disabled or pending deletion.
          await seed({ state: 'Disabled', rotationEnabled: true, rotationPeriodInDays: 90, nextRotationAt: now - DAY }),
          await seed({ state: 'PendingDeletion', deletionAt: now + DAY, nextRotationAt: now - DAY }),
          // Times in the future.
          await seed({ rotationEnabled: true, rotationPeriodInDays: 90, nextRotationAt: now + 1 }),
          await seed({ state: 'PendingDeletion', deletionAt: now + 1, pendingWindowInDays: 7 }),
          await seed({ state: 'PendingReplicaDeletion', deletionAt: now + 1, pendingWindowInDays: 7 }),
          // No times at all.
          await seed(),
          await seed({ state: 'Disabled' }),
          // A deletion time on a key that is not pending deletion.
          await seed({ state: 'Enabled', deletionAt: now - DAY }),
          await seed({ state: 'Disabled', deletionAt: now - DAY }),
        ].map((s) => s.key);
        expect(notDue).toHaveLength(9);

        const got = await kms.dueKeys(now, 100);
        expect([...got].sort(byId)).toEqual([...due].sort(byId));
      });

      it('respects the limit', async () => {
        const due: string[] = [];
        for (let i = 0; i < 5; i++) {
          due.push((await seed({ rotationEnabled: true, nextRotationAt: now - i * DAY })).key.keyId);
        }
        const got = await kms.dueKeys(now, 2);
        expect(got).toHaveLength(2);
        for (const k of got) expect(due).toContain(k.keyId);
        expect(new Set(got.map((k) => k.keyId)).size).toBe(2);
        expect(await kms.dueKeys(now, 5)).toHaveLength(5);
      });

      it('follows updates to state and due times', async () => {
        const { key } = await seed({ rotationEnabled: true, rotationPeriodInDays: 90, nextRotationAt: now - DAY });
        expect((await kms.dueKeys(now, 10)).map((k) => k.keyId)).toEqual([key.keyId]);

        const rotated = (await kms.updateKey({ ...key, nextRotationAt: now + 90 * DAY }))!;
        expect(await kms.dueKeys(now, 10)).toEqual([]);

        const pending = (await kms.updateKey({ ...rotated, state: 'PendingDeletion', deletionAt: now }))!;
        expect(await kms.dueKeys(now, 10)).toEqual([pending]);

        const { deletionAt: _d, ...cancelled } = pending;
        await kms.updateKey({ ...cancelled, state: 'Disabled' });
        expect(await kms.dueKeys(now, 10)).toEqual([]);
        expect(await kms.dueKeys(now + 1000 * DAY, 10)).toEqual([]);
      });
    });

    describe('versionsNotWrappedBy and rewrapKeyVersion', () => {
      it('returns only versions wrapped under another root key, honouring the limit', async () => {
        const a = await seed({}, { rootKeyId: 'root-old' });
        const a2 = newVersion(a.key.keyId, 2, { rootKeyId: 'root-new' });
        await kms.addKeyVersion({ ...a.key, currentVersion: 2 }, a2);
        await seed({}, { rootKeyId: 'root-new' });
        const c = await seed({}, { rootKeyId: 'root-older', wrappedMaterial: allBytes() });

        const stale = await kms.versionsNotWrappedBy('root-new', 100);
        const sortKey = (v: KeyVersionRecord) => `${v.keyId}/${v.version}`;
        expect([...stale].sort((x, y) => sortKey(x).localeCompare(sortKey(y)))).toEqual(
          [a.v1, c.v1].sort((x, y) => sortKey(x).localeCompare(sortKey(y))),
        );
        expect(stale.every((v) => v.rootKeyId !== 'root-new')).toBe(true);
        expect(stale.find((v) => v.keyId === c.key.keyId)!.wrappedMaterial.equals(allBytes())).toBe(true);

        const limited = await kms.versionsNotWrappedBy('root-new', 1);
        expect(limited).toHaveLength(1);
        expect([a.v1, c.v1]).toContainEqual(limited[0]);

        expect(await kms.versionsNotWrappedBy('root-unused', 100)).toHaveLength(4);
      });

      it('rewraps a version only while it is still wrapped under the named root key', async () => {
        const { key, v1 } = await seed({}, { rootKeyId: 'root-old' });
        const v2 = newVersion(key.keyId, 2, { rootKeyId: 'root-old', rotationType: 'AUTOMATIC' });
        await kms.addKeyVersion({ ...key, currentVersion: 2 }, v2);

        const material = allBytes();
        expect(
          await kms.rewrapKeyVersion(key.keyId, 1, 'root-old', { rootKeyId: 'root-new', wrappedMaterial: material }),
        ).toBe(true);
        const rewrapped = await kms.getKeyVersion(key.keyId, 1);
        expect(rewrapped).toEqual({ ...v1, rootKeyId: 'root-new', wrappedMaterial: material });
        expect(rewrapped!.wrappedMaterial.equals(material)).toBe(true);

        // A second rewrap from the old root key (a racing replica) loses and changes nothing.
        expect(
          await kms.rewrapKeyVersion(key.keyId, 1, 'root-old', {
            rootKeyId: 'root-other',
            wrappedMaterial: Buffer.from('x'),
          }),
        ).toBe(false);
        expect(await kms.getKeyVersion(key.keyId, 1)).toEqual(rewrapped);

        // Other versions of the same key are untouched.
        expect(await kms.getKeyVersion(key.keyId, 2)).toEqual(v2);
        expect((await kms.versionsNotWrappedBy('root-new', 100)).map((v) => v.version)).toEqual([2]);
      });

      it('returns false for a version that does not exist', async () => {
        const { key } = await seed({}, { rootKeyId: 'root-old' });
        const next = { rootKeyId: 'root-new', wrappedMaterial: Buffer.from('n') };
        expect(await kms.rewrapKeyVersion(key.keyId, 2, 'root-old', next)).toBe(false);
        expect(await kms.rewrapKeyVersion(randomUUID(), 1, 'root-old', next)).toBe(false);
        expect(await kms.listKeyVersions(key.keyId)).toHaveLength(1);
      });

      it('lets exactly one of two concurrent rewraps of the same version win', async () => {
        const { key } = await seed({}, { rootKeyId: 'root-old' });
        const results = await Promise.all([
          kms.rewrapKeyVersion(key.keyId, 1, 'root-old', { rootKeyId: 'root-new', wrappedMaterial: Buffer.from('a') }),
          kms.rewrapKeyVersion(key.keyId, 1, 'root-old', { rootKeyId: 'root-new', wrappedMaterial: Buffer.from('b') }),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results[0] ? 'a' : 'b';
        expect((await kms.getKeyVersion(key.keyId, 1))!.wrappedMaterial.toString()).toBe(winner);
      });
    });

    describe('aliases', () => {
      it('creates an alias and reads it back', async () => {
        const { key } = await seed();
        const a = { name: 'alias/payments', keyId: key.keyId, createdAt: T0 + 5, updatedAt: T0 + 6 };
        expect(await kms.createAlias(a)).toBe(true);
        expect(await kms.getAlias('alias/payments')).toEqual(a);
        expect(await kms.getAlias('alias/unknown')).toBeUndefined();
      });

      it('refuses a taken name and keeps the first alias', async () => {
        const first = await seed();
        const second = await seed();
        expect(await kms.createAlias(alias('alias/taken', first.key.keyId, T0))).toBe(true);
        expect(await kms.createAlias(alias('alias/taken', second.key.keyId, T0 + DAY))).toBe(false);
        expect(await kms.getAlias('alias/taken')).toEqual(alias('alias/taken', first.key.keyId, T0));
        expect((await kms.listAliases(10)).items).toHaveLength(1);
      });

      it('lets exactly one of two concurrent creations of the same name win', async () => {
        const first = await seed();
        const second = await seed();
        const results = await Promise.all([
          kms.createAlias(alias('alias/race', first.key.keyId)),
          kms.createAlias(alias('alias/race', second.key.keyId)),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results[0] ? first.key.keyId : second.key.keyId;
        expect((await kms.getAlias('alias/race'))!.keyId).toBe(winner);
      });

      it('points an existing alias at another key, keeping its creation time', async () => {
        const first = await seed();
        const second = await seed();
        await kms.createAlias(alias('alias/moving', first.key.keyId, T0));
        expect(await kms.updateAlias('alias/moving', second.key.keyId, T0 + DAY)).toBe(true);
        expect(await kms.getAlias('alias/moving')).toEqual({
          name: 'alias/moving',
          keyId: second.key.keyId,
          createdAt: T0,
          updatedAt: T0 + DAY,
        });
        expect((await kms.listAliases(10, undefined, first.key.keyId)).items).toEqual([]);
        expect((await kms.listAliases(10, undefined, second.key.keyId)).items.map((a) => a.name)).toEqual([
          'alias/moving',
        ]);
      });

      it('returns false when updating an alias that does not exist, creating nothing', async () => {
        const { key } = await seed();
        expect(await kms.updateAlias('alias/missing', key.keyId, T0)).toBe(false);
        expect(await kms.getAlias('alias/missing')).toBeUndefined();
        expect((await kms.listAliases(10)).items).toEqual([]);
      });

      it('deletes an alias once: true, then false', async () => {
        const { key } = await seed();
        await kms.createAlias(alias('alias/gone', key.keyId));
        await kms.createAlias(alias('alias/stays', key.keyId));
        expect(await kms.deleteAlias('alias/gone')).toBe(true);
        expect(await kms.getAlias('alias/gone')).toBeUndefined();
        expect(await kms.deleteAlias('alias/gone')).toBe(false);
        expect(await kms.deleteAlias('alias/never')).toBe(false);
        expect(await kms.getAlias('alias/stays')).toEqual(alias('alias/stays', key.keyId));
        // The key itself is not affected.
        expect(await kms.getKey(key.keyId)).toEqual(key);
      });

      it('lists aliases in name order, paging with the cursor and honouring the limit', async () => {
        const a = await seed();
        const b = await seed();
        const names = [
          'alias/m-03',
          'alias/m-00',
          'alias/m-06',
          'alias/m-01',
          'alias/m-05',
          'alias/m-02',
          'alias/m-04',
        ];
        for (const [i, name] of names.entries()) {
          expect(await kms.createAlias(alias(name, i % 2 ? a.key.keyId : b.key.keyId, T0 + i))).toBe(true);
        }
        const sorted = [...names].sort();

        const seen: AliasRecord[] = [];
        const sizes: number[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await kms.listAliases(3, after);
          sizes.push(page.items.length);
          seen.push(...page.items);
          if (page.next === undefined) break;
          after = page.next;
        }
        expect(sizes).toEqual([3, 3, 1]);
        expect(seen.map((x) => x.name)).toEqual(sorted);
        for (const x of seen) expect(await kms.getAlias(x.name)).toEqual(x);

        const all = await kms.listAliases(7);
        expect(all.items).toHaveLength(7);
        expect(all.next).toBeUndefined();
        expect((await kms.listAliases(100)).next).toBeUndefined();
      });

      it('filters by key id, still in name order and paged', async () => {
        const a = await seed();
        const b = await seed();
        const names = ['alias/f-05', 'alias/f-01', 'alias/f-04', 'alias/f-00', 'alias/f-03', 'alias/f-02'];
        for (const [i, name] of names.entries()) {
          await kms.createAlias(alias(name, i < 4 ? a.key.keyId : b.key.keyId));
        }
        // a: f-00, f-01, f-04, f-05; b: f-02, f-03.
        const first = await kms.listAliases(2, undefined, a.key.keyId);
        expect(first.items.map((x) => x.name)).toEqual(['alias/f-00', 'alias/f-01']);
        expect(first.items.every((x) => x.keyId === a.key.keyId)).toBe(true);
        expect(first.next).toBeDefined();
        const second = await kms.listAliases(2, first.next, a.key.keyId);
        expect(second.items.map((x) => x.name)).toEqual(['alias/f-04', 'alias/f-05']);
        expect(second.next).toBeUndefined();

        const onlyB = await kms.listAliases(10, undefined, b.key.keyId);
        expect(onlyB.items.map((x) => x.name)).toEqual(['alias/f-02', 'alias/f-03']);
        expect(onlyB.next).toBeUndefined();

        const none = await kms.listAliases(10, undefined, randomUUID());
        expect(none.items).toEqual([]);
        expect(none.next).toBeUndefined();
      });
    });

    describe('internal keys', () => {
      it('records a purpose once: the first writer wins and a second record changes nothing', async () => {
        const a = await seed();
        const b = await seed();
        expect(await kms.getInternalKey('sessions')).toBeUndefined();
        expect(await kms.recordInternalKey({ purpose: 'sessions', keyId: a.key.keyId, createdAt: T0 })).toBe(true);
        expect(await kms.recordInternalKey({ purpose: 'sessions', keyId: b.key.keyId, createdAt: T0 + 1 })).toBe(false);
        expect(await kms.getInternalKey('sessions')).toEqual({
          purpose: 'sessions',
          keyId: a.key.keyId,
          createdAt: T0,
        });
        expect(await kms.getInternalKey('terraform')).toBeUndefined();
      });

      it('agrees on one key when many writers record the same purpose at once', async () => {
        const keys = await Promise.all(Array.from({ length: 8 }, () => seed()));
        const won = await Promise.all(
          keys.map((k) => kms.recordInternalKey({ purpose: 'secretsmanager', keyId: k.key.keyId, createdAt: T0 })),
        );
        expect(won.filter(Boolean)).toHaveLength(1);
        const winner = keys[won.indexOf(true)]!.key.keyId;
        expect((await kms.getInternalKey('secretsmanager'))?.keyId).toBe(winner);
      });

      it('refuses to delete a recorded key, and keeps the record', async () => {
        const a = await seed();
        await kms.recordInternalKey({ purpose: 'sessions', keyId: a.key.keyId, createdAt: T0 });
        await expect(kms.deleteKey(a.key.keyId, a.key.revision)).rejects.toThrow();
        expect(await kms.getKey(a.key.keyId)).toBeDefined();
        expect((await kms.getInternalKey('sessions'))?.keyId).toBe(a.key.keyId);
      });

      it('keeps the purpose marker of a key record', async () => {
        const a = await seed({ internalPurpose: 'terraform' });
        expect(a.key.internalPurpose).toBe('terraform');
        const updated = await kms.updateKey({ ...a.key, description: 'x' });
        expect((await kms.getKey(a.key.keyId))?.internalPurpose).toBe('terraform');
        expect(updated?.internalPurpose).toBe('terraform');
      });
    });

    describe('regions', () => {
      it('keeps keys, aliases and internal keys of one region out of another', async () => {
        const { key } = await seed();
        const eu = store.inRegion('eu-west-1').kms;
        expect(store.inRegion(store.defaultRegion).kms).toBe(kms);
        expect(await eu.getKey(key.keyId)).toBeUndefined();
        expect((await eu.listKeys(10)).items).toEqual([]);
        expect(await eu.updateKey(key)).toBeUndefined();
        expect(await eu.deleteKey(key.keyId, key.revision)).toBe(false);
        expect(await kms.createAlias(alias('alias/same', key.keyId))).toBe(true);
        expect(await eu.getAlias('alias/same')).toBeUndefined();
        expect(await kms.recordInternalKey({ purpose: 'p', keyId: key.keyId, createdAt: T0 })).toBe(true);
        expect(await eu.getInternalKey('p')).toBeUndefined();

        const other = newKey();
        await eu.insertKey(other, newVersion(other.keyId, 1));
        expect(await eu.createAlias(alias('alias/same', other.keyId))).toBe(true);
        expect((await eu.getAlias('alias/same'))!.keyId).toBe(other.keyId);
        expect((await kms.getAlias('alias/same'))!.keyId).toBe(key.keyId);
        expect((await eu.listAliases(10)).items.map((a) => a.keyId)).toEqual([other.keyId]);
        expect(await store.regions()).toEqual(['eu-west-1', store.defaultRegion].sort());
      });

      it('finds due keys per region', async () => {
        await seed({ rotationEnabled: true, nextRotationAt: T0 });
        const eu = store.inRegion('eu-west-1').kms;
        expect(await eu.dueKeys(T0 + 1, 10)).toEqual([]);
        expect(await kms.dueKeys(T0 + 1, 10)).toHaveLength(1);
      });

      it('shares versions by key id, deleting them with the last region holding the key', async () => {
        const { key, v1 } = await seed();
        const eu = store.inRegion('eu-west-1').kms;
        // The same key id in a second region (a multi-Region key's replica) sees the same versions.
        await eu.insertKey({ ...key, revision: 1 }, newVersion(key.keyId, 2));
        expect((await eu.listKeyVersions(key.keyId)).map((v) => v.version)).toEqual([1, 2]);
        expect(await kms.getKeyVersion(key.keyId, 2)).toBeDefined();
        expect(await kms.deleteKey(key.keyId, key.revision)).toBe(true);
        expect(await eu.getKeyVersion(key.keyId, 1)).toEqual(v1);
        expect(await eu.deleteKey(key.keyId, 1)).toBe(true);
        expect(await kms.listKeyVersions(key.keyId)).toEqual([]);
      });
    });

    describe('key usage (GetKeyLastUsage)', () => {
      it('keeps the later use per key, in one batch, skipping keys deleted meanwhile', async () => {
        const a = await seed();
        const b = await seed();
        const gone = await seed();
        await kms.deleteKey(gone.key.keyId, gone.key.revision);
        await kms.recordKeyUsage([
          { keyId: a.key.keyId, at: T0 + 10, operation: 'Encrypt' },
          { keyId: b.key.keyId, at: T0 + 5, operation: 'Sign' },
          { keyId: gone.key.keyId, at: T0 + 5, operation: 'Decrypt' },
        ]);
        await kms.recordKeyUsage([
          { keyId: a.key.keyId, at: T0 + 9, operation: 'Decrypt' }, // older: another replica's late flush
          { keyId: b.key.keyId, at: T0 + 6, operation: 'Verify' },
        ]);
        expect(await kms.getKeyUsage(a.key.keyId)).toEqual({ keyId: a.key.keyId, at: T0 + 10, operation: 'Encrypt' });
        expect(await kms.getKeyUsage(b.key.keyId)).toEqual({ keyId: b.key.keyId, at: T0 + 6, operation: 'Verify' });
        expect(await kms.getKeyUsage(gone.key.keyId)).toBeUndefined();
        await kms.recordKeyUsage([]);
      });

      it('goes with its key, and reports when tracking began', async () => {
        const a = await seed();
        await kms.recordKeyUsage([{ keyId: a.key.keyId, at: T0, operation: 'Encrypt' }]);
        await kms.deleteKey(a.key.keyId, a.key.revision);
        expect(await kms.getKeyUsage(a.key.keyId)).toBeUndefined();
        const start = await kms.keyUsageTrackingStart();
        expect(start).toBeGreaterThan(0);
        expect(start).toBeLessThanOrEqual(Date.now());
      });
    });
  });
}
