// Two engines on one database (as two server replicas would be): scheduled jobs run exactly once.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS, ManualClock } from '../../src/core/clock.js';
import { RootKey, RootKeyring } from '../../src/crypto/index.js';
import { createKmsEngine, INTERNAL_KEY_POLICY, INTERNAL_KEYS, internalKey } from '../../src/kms/index.js';
import { openStore, type Store } from '../../src/storage/index.js';
import { tempDir } from '../support/server.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function twoReplicas() {
  const dir = tempDir();
  const url = `sqlite:${join(dir, 'keysafe.db')}`;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const root = RootKey.fromBytesInsecure(RootKey.generateBytesInsecure());
  const stores: Store[] = [await openStore(url), await openStore(url)];
  cleanup.push(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const engines = stores.map((s) =>
    createKmsEngine({
      store: s.kms,
      rootKeys: new RootKeyring(root),
      clock,
      partition: { region: 'us-east-1', accountId: '000000000000' },
    }),
  );
  return { clock, a: engines[0]!, b: engines[1]! };
}

describe('replicas sharing a store', () => {
  it('agree on one internal key when both make it at once, even after one cached the alias as missing', async () => {
    const { a, b } = await twoReplicas();
    const spec = INTERNAL_KEYS.terraform;
    // Replica a looks first and caches "no such alias"; then both create the key.
    await expect(a.describeKey(spec.alias)).rejects.toMatchObject({ code: 'NotFoundException' });
    const [arnA, arnB] = await Promise.all([internalKey(a, spec)(), internalKey(b, spec)()]);
    expect(arnA).toBe(arnB);
    const key = await a.describeKey(spec.alias);
    expect(a.arnOf(key.keyId)).toBe(arnA);
    expect(key.policy).toBe(INTERNAL_KEY_POLICY);
    expect(key.internalPurpose).toBe('terraform');
    // The loser's key, if both made one, is on its way out and no longer Keysafe's.
    const all = (await a.listKeys(10)).items;
    for (const other of all.filter((k) => k.keyId !== key.keyId)) {
      expect(other.state).toBe('PendingDeletion');
      expect(other.internalPurpose).toBeUndefined();
    }
  });

  it('rotate a due key exactly once when both schedulers run at the same moment', async () => {
    const { clock, a, b } = await twoReplicas();
    const keys = await Promise.all(Array.from({ length: 10 }, () => a.createKey({})));
    for (const k of keys) await a.enableKeyRotation(k.keyId, 90);
    clock.advance(91 * DAY_MS);
    const [ra, rb] = await Promise.all([a.runDueJobs(), b.runDueJobs()]);
    expect(ra.rotated + rb.rotated).toBe(10);
    for (const k of keys) {
      expect((await b.listKeyRotations(k.keyId)).rotations).toHaveLength(1);
      expect((await a.describeKey(k.keyId)).currentVersion).toBe(2);
    }
  });

  it('delete an expired key exactly once', async () => {
    const { clock, a, b } = await twoReplicas();
    const key = await a.createKey({});
    await a.scheduleKeyDeletion(key.keyId, 7);
    clock.advance(7 * DAY_MS);
    const [ra, rb] = await Promise.all([a.runDueJobs(), b.runDueJobs()]);
    expect(ra.deleted + rb.deleted).toBe(1);
    await expect(b.describeKey(key.keyId)).rejects.toMatchObject({ code: 'NotFoundException' });
  });

  it('keep both of two concurrent on-demand rotations, each a new version', async () => {
    const { a, b } = await twoReplicas();
    const key = await a.createKey({});
    await Promise.all([a.rotateKeyOnDemand(key.keyId), b.rotateKeyOnDemand(key.keyId)]);
    const versions = (await a.listKeyRotations(key.keyId)).rotations.map((r) => r.version);
    expect(versions).toEqual([2, 3]);
  });

  it('see a key disabled by the other replica once the cache TTL has passed', async () => {
    const { clock, a, b } = await twoReplicas();
    const key = await a.createKey({});
    await b.encrypt(key.keyId, Buffer.from('x'));
    await a.disableKey(key.keyId);
    clock.advance(1001);
    await expect(b.encrypt(key.keyId, Buffer.from('x'))).rejects.toMatchObject({ code: 'DisabledException' });
  });
});
