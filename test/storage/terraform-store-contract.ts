// The TerraformStateStore contract every storage driver must pass, written against the interface only.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/storage/types.js';
import type {
  TerraformLockRecord,
  TerraformStateStore,
  TerraformStateVersionRecord,
} from '../../src/terraform/index.js';

/** 2026-01-01T00:00:00Z, in ms. */
const T0 = Date.UTC(2026, 0, 1);

/** Every byte value, so encodings that mangle NULs, high bytes or UTF-8 show up. */
function allBytes(): Buffer {
  return Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 11 + 5) % 256));
}

export function newStateVersion(
  name: string,
  serial: number,
  overrides: Partial<Omit<TerraformStateVersionRecord, 'version'>> = {},
): Omit<TerraformStateVersionRecord, 'version'> {
  return {
    name,
    serial,
    lineage: 'lineage-1',
    createdAt: T0 + serial,
    size: 100 + serial,
    kmsKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555',
    wrappedKey: Buffer.from(`wrapped key ${name} ${serial}`),
    ciphertext: Buffer.from(`ciphertext ${name} ${serial}`),
    ...overrides,
  };
}

export function newLock(name: string, id = randomUUID(), at = T0): TerraformLockRecord {
  return {
    name,
    id,
    info: JSON.stringify({ ID: id, Operation: 'OperationTypeApply', Info: '', Who: 'ci@runner', Version: '1.11.4' }),
    createdAt: at,
  };
}

export function describeTerraformStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`TerraformStateStore contract: ${name}`, () => {
    let store: Store;
    let tf: TerraformStateStore;
    /** A fresh state name per test, so a shared database (PostgreSQL) needs no cleanup. */
    let state: string;

    beforeEach(async () => {
      store = await open();
      tf = store.terraform;
      state = `contract/${randomUUID()}`;
    });

    afterEach(async () => {
      await store.close();
    });

    const put = (serial: number, options: { lockId?: string; keep?: number } = {}, overrides = {}) =>
      tf.putState(newStateVersion(state, serial, overrides), {
        keep: options.keep ?? 10,
        ...(options.lockId !== undefined && { lockId: options.lockId }),
      });

    describe('putState and getState', () => {
      it('has no state, no versions and no lock for a name never written', async () => {
        expect(await tf.getState(state)).toBeUndefined();
        expect(await tf.getStateVersion(state, 1)).toBeUndefined();
        expect(await tf.listStateVersions(state)).toEqual([]);
        expect(await tf.getLock(state)).toBeUndefined();
      });

      it('round-trips every field of the first version, numbered 1, with binary blobs byte for byte', async () => {
        const v = newStateVersion(state, 7, { wrappedKey: allBytes(), ciphertext: allBytes().reverse(), size: 0 });
        expect(await tf.putState(v, { keep: 10 })).toEqual({ ok: true, version: 1 });
        expect(await tf.getState(state)).toEqual({ ...v, version: 1 });
        expect(await tf.getStateVersion(state, 1)).toEqual({ ...v, version: 1 });
        const { wrappedKey: _w, ciphertext: _c, ...info } = v;
        expect(await tf.listStateVersions(state)).toEqual([{ ...info, version: 1 }]);
      });

      it('numbers versions 1, 2, 3 and answers the newest from getState', async () => {
        expect(await put(1)).toEqual({ ok: true, version: 1 });
        expect(await put(2)).toEqual({ ok: true, version: 2 });
        expect(await put(5)).toEqual({ ok: true, version: 3 });
        expect((await tf.getState(state))!.serial).toBe(5);
        expect((await tf.getStateVersion(state, 2))!.serial).toBe(2);
        expect((await tf.listStateVersions(state)).map((v) => [v.version, v.serial])).toEqual([
          [3, 5],
          [2, 2],
          [1, 1],
        ]);
      });

      it('refuses the same serial again: a version is never replaced in place', async () => {
        await put(3);
        expect(await put(3)).toEqual({ ok: false, reason: 'stale-serial', serial: 3 });
        expect(await tf.listStateVersions(state)).toHaveLength(1);
      });

      it('refuses a lower serial, naming the stored one, and keeps the state as it was', async () => {
        await put(4);
        expect(await put(3)).toEqual({ ok: false, reason: 'stale-serial', serial: 4 });
        expect((await tf.getState(state))!.serial).toBe(4);
        expect(await tf.listStateVersions(state)).toHaveLength(1);
      });

      it('refuses another lineage, naming the stored one, even with a higher serial', async () => {
        await put(1);
        expect(await put(9, {}, { lineage: 'lineage-2' })).toEqual({
          ok: false,
          reason: 'lineage-mismatch',
          lineage: 'lineage-1',
        });
        expect((await tf.getState(state))!.lineage).toBe('lineage-1');
      });

      it('keeps only the newest `keep` versions', async () => {
        for (let serial = 1; serial <= 5; serial++) await put(serial, { keep: 3 });
        expect((await tf.listStateVersions(state)).map((v) => v.version)).toEqual([5, 4, 3]);
        expect(await tf.getStateVersion(state, 2)).toBeUndefined();
        expect((await tf.getStateVersion(state, 3))!.serial).toBe(3);
        expect((await tf.getState(state))!.version).toBe(5);
      });

      it('keeps states of different names apart', async () => {
        const other = `${state}/nested`;
        await put(8);
        expect(await tf.putState(newStateVersion(other, 1, { lineage: 'other' }), { keep: 10 })).toEqual({
          ok: true,
          version: 1,
        });
        expect((await tf.getState(state))!.serial).toBe(8);
        expect((await tf.getState(other))!.lineage).toBe('other');
      });

      it('serialises concurrent writers: the versions never go back in serial', async () => {
        const serials = [4, 1, 7, 2, 9, 3, 8, 5, 6, 10];
        const results = await Promise.all(serials.map((s) => put(s)));
        expect(results.some((r) => r.ok)).toBe(true);
        for (const r of results) if (!r.ok) expect(r.reason).toBe('stale-serial');
        const versions = await tf.listStateVersions(state);
        expect(versions).toHaveLength(results.filter((r) => r.ok).length);
        const newestFirst = versions.map((v) => v.serial);
        expect(newestFirst).toEqual([...new Set(newestFirst)].sort((a, b) => b - a));
        expect((await tf.getState(state))!.serial).toBe(10);
      });
    });

    describe('locks', () => {
      it('locks a state that does not exist yet and reports the lock as stored', async () => {
        const lock = newLock(state);
        expect(await tf.lock(lock)).toEqual({ acquired: true });
        expect(await tf.getLock(state)).toEqual(lock);
      });

      it('counts a repeated lock with the same ID as acquired, keeping the first record', async () => {
        const lock = newLock(state);
        await tf.lock(lock);
        expect(await tf.lock({ ...lock, createdAt: T0 + 5000 })).toEqual({ acquired: true });
        expect(await tf.getLock(state)).toEqual(lock);
      });

      it('refuses a lock under another ID with the holder record', async () => {
        const holder = newLock(state);
        await tf.lock(holder);
        expect(await tf.lock(newLock(state))).toEqual({ acquired: false, holder });
      });

      it('gives the lock to exactly one of many concurrent lockers', async () => {
        const locks = Array.from({ length: 20 }, () => newLock(state));
        const results = await Promise.all(locks.map((l) => tf.lock(l)));
        expect(results.filter((r) => r.acquired)).toHaveLength(1);
        const winner = locks[results.findIndex((r) => r.acquired)]!;
        expect(await tf.getLock(state)).toEqual(winner);
        for (const r of results) if (!r.acquired) expect(r.holder).toEqual(winner);
      });

      it('unlocks only with the holder ID, and says when there was no lock', async () => {
        const holder = newLock(state);
        await tf.lock(holder);
        expect(await tf.unlock(state, 'someone-else')).toEqual({ outcome: 'held', lock: holder });
        expect(await tf.getLock(state)).toEqual(holder);
        expect(await tf.unlock(state, holder.id)).toEqual({ outcome: 'released' });
        expect(await tf.getLock(state)).toBeUndefined();
        expect(await tf.unlock(state, holder.id)).toEqual({ outcome: 'not-locked' });
      });

      it('force-unlocks whatever lock there is and returns it', async () => {
        const holder = newLock(state);
        await tf.lock(holder);
        expect(await tf.forceUnlock(state)).toEqual(holder);
        expect(await tf.getLock(state)).toBeUndefined();
        expect(await tf.forceUnlock(state)).toBeUndefined();
        expect(await tf.lock(newLock(state))).toEqual({ acquired: true });
      });

      it('does not let a lock on one state affect another', async () => {
        await tf.lock(newLock(state));
        expect(await tf.lock(newLock(`${state}-b`))).toEqual({ acquired: true });
        expect(await tf.putState(newStateVersion(`${state}-b`, 1), { keep: 10 })).toMatchObject({ ok: false });
        expect(await tf.putState(newStateVersion(`${state}-c`, 1), { keep: 10 })).toEqual({ ok: true, version: 1 });
      });
    });

    describe('writes under a lock', () => {
      it('refuses a write without the holder ID, or with another, naming the holder', async () => {
        await put(1);
        const holder = newLock(state);
        await tf.lock(holder);
        expect(await put(2)).toEqual({ ok: false, reason: 'locked', lock: holder });
        expect(await put(2, { lockId: 'not-the-holder' })).toEqual({ ok: false, reason: 'locked', lock: holder });
        expect((await tf.getState(state))!.serial).toBe(1);
        expect(await put(2, { lockId: holder.id })).toEqual({ ok: true, version: 2 });
      });

      it('refuses a write naming a lock that is no longer held', async () => {
        const holder = newLock(state);
        await tf.lock(holder);
        await tf.forceUnlock(state);
        expect(await put(1, { lockId: holder.id })).toEqual({ ok: false, reason: 'not-locked' });
        expect(await tf.getState(state)).toBeUndefined();
        expect(await put(1)).toEqual({ ok: true, version: 1 });
      });

      it('checks the lock before the serial: a locked state answers locked, not stale', async () => {
        await put(5);
        const holder = newLock(state);
        await tf.lock(holder);
        expect(await put(1)).toMatchObject({ ok: false, reason: 'locked' });
      });
    });

    describe('deleteState', () => {
      it('removes the state and all its versions; a new state starts again at version 1', async () => {
        await put(1);
        await put(2);
        expect(await tf.deleteState(state)).toEqual({ ok: true, deleted: true });
        expect(await tf.getState(state)).toBeUndefined();
        expect(await tf.getStateVersion(state, 1)).toBeUndefined();
        expect(await tf.listStateVersions(state)).toEqual([]);
        // Another lineage, lower serial: nothing of the old state is left to compare with.
        expect(await put(1, {}, { lineage: 'lineage-new' })).toEqual({ ok: true, version: 1 });
      });

      it('says when there was nothing to delete', async () => {
        expect(await tf.deleteState(state)).toEqual({ ok: true, deleted: false });
      });

      it('refuses while another ID holds the lock, and keeps the lock when the holder deletes', async () => {
        await put(1);
        const holder = newLock(state);
        await tf.lock(holder);
        expect(await tf.deleteState(state)).toEqual({ ok: false, reason: 'locked', lock: holder });
        expect(await tf.deleteState(state, 'other')).toEqual({ ok: false, reason: 'locked', lock: holder });
        expect((await tf.getState(state))!.serial).toBe(1);
        expect(await tf.deleteState(state, holder.id)).toEqual({ ok: true, deleted: true });
        expect(await tf.getLock(state)).toEqual(holder);
      });
    });
  });
}
