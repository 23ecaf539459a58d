// Rotation in the engine: on-demand versions and their limit, automatic rotation due times on the manual clock, due deletions.
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/core/clock.js';
import { DEFAULT_ROTATION_DAYS, MAX_ON_DEMAND_ROTATIONS } from '../../src/kms/engine.js';
import { kmsOnTempStore, withCode } from '../support/kms-engine.js';

/** The key version a symmetric ciphertext names (bytes 18..21 of its header). */
const versionOf = (ciphertext: Buffer) => ciphertext.readUInt32BE(18);

describe('on-demand rotation', () => {
  it('adds a version new ciphertexts use, while older ones still decrypt', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const before = await kms.encrypt(key.keyId, Buffer.from('v1'), { c: '1' });
    const rotated = await kms.rotateKeyOnDemand(key.keyId);
    expect(rotated).toMatchObject({ currentVersion: 2, onDemandRotations: 1 });
    const after = await kms.encrypt(key.keyId, Buffer.from('v2'), { c: '1' });
    expect([versionOf(before.ciphertext), versionOf(after.ciphertext)]).toEqual([1, 2]);
    expect((await kms.decrypt(before.ciphertext, { c: '1' })).plaintext.toString()).toBe('v1');
    expect((await kms.decrypt(after.ciphertext, { c: '1' })).plaintext.toString()).toBe('v2');
    const { rotations } = await kms.listKeyRotations(key.keyId);
    expect(rotations).toEqual([expect.objectContaining({ version: 2, rotationType: 'ON_DEMAND' })]);
    // A header claiming a version the key does not have yet, or the other version, does not open.
    const future = Buffer.from(after.ciphertext);
    future.writeUInt32BE(3, 18);
    await expect(kms.decrypt(future, { c: '1' })).rejects.toEqual(withCode('InvalidCiphertextException'));
    const swapped = Buffer.from(after.ciphertext);
    swapped.writeUInt32BE(1, 18);
    await expect(kms.decrypt(swapped, { c: '1' })).rejects.toEqual(withCode('InvalidCiphertextException'));
  });

  it(`stops at ${MAX_ON_DEMAND_ROTATIONS} rotations with LimitExceededException`, async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    for (let i = 0; i < MAX_ON_DEMAND_ROTATIONS; i++) await kms.rotateKeyOnDemand(key.keyId);
    await expect(kms.rotateKeyOnDemand(key.keyId)).rejects.toEqual(withCode('LimitExceededException'));
    expect(await kms.describeKey(key.keyId)).toMatchObject({
      currentVersion: MAX_ON_DEMAND_ROTATIONS + 1,
      onDemandRotations: MAX_ON_DEMAND_ROTATIONS,
    });
  });

  it('refuses keys that cannot rotate: not symmetric, disabled, pending deletion', async () => {
    const { kms } = await kmsOnTempStore();
    const mac = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    await expect(kms.rotateKeyOnDemand(mac.keyId)).rejects.toEqual(withCode('UnsupportedOperationException'));
    await expect(kms.enableKeyRotation(mac.keyId)).rejects.toEqual(withCode('UnsupportedOperationException'));
    await expect(kms.listKeyRotations(mac.keyId)).rejects.toEqual(withCode('UnsupportedOperationException'));
    const key = await kms.createKey({});
    await kms.disableKey(key.keyId);
    await expect(kms.rotateKeyOnDemand(key.keyId)).rejects.toEqual(withCode('DisabledException'));
    await expect(kms.enableKeyRotation(key.keyId)).rejects.toEqual(withCode('DisabledException'));
    await kms.scheduleKeyDeletion(key.keyId, 7);
    await expect(kms.rotateKeyOnDemand(key.keyId)).rejects.toEqual(withCode('KMSInvalidStateException'));
    await expect(kms.getKeyRotationStatus(key.keyId)).rejects.toEqual(withCode('KMSInvalidStateException'));
    expect((await kms.describeKey(key.keyId)).currentVersion).toBe(1);
  });
});

describe('automatic rotation', () => {
  it('reports its status: period and next due time from the clock, default 365 days, nothing once disabled', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({});
    expect((await kms.getKeyRotationStatus(key.keyId)).status).toEqual({ enabled: false });
    await kms.enableKeyRotation(key.keyId);
    expect((await kms.getKeyRotationStatus(key.keyId)).status).toEqual({
      enabled: true,
      periodInDays: DEFAULT_ROTATION_DAYS,
      nextRotationAt: clock.now() + DEFAULT_ROTATION_DAYS * DAY_MS,
    });
    clock.advance(DAY_MS);
    await kms.enableKeyRotation(key.keyId, 90);
    expect((await kms.getKeyRotationStatus(key.keyId)).status).toEqual({
      enabled: true,
      periodInDays: 90,
      nextRotationAt: clock.now() + 90 * DAY_MS,
    });
    const off = await kms.disableKeyRotation(key.keyId);
    expect(off.nextRotationAt).toBeUndefined();
    expect((await kms.getKeyRotationStatus(key.keyId)).status).toEqual({ enabled: false });
  });

  it('rotates when the period has elapsed, not before, and schedules the next one from then', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await kms.enableKeyRotation(key.keyId, 90);
    const old = await kms.encrypt(key.keyId, Buffer.from('old'));
    clock.advance(90 * DAY_MS - 1);
    expect(await kms.runDueJobs()).toEqual({ rotated: 0, deleted: 0, materialsExpired: 0 });
    clock.advance(1);
    expect(await kms.runDueJobs()).toEqual({ rotated: 1, deleted: 0, materialsExpired: 0 });
    expect(await kms.runDueJobs()).toEqual({ rotated: 0, deleted: 0, materialsExpired: 0 });
    const rotated = await kms.describeKey(key.keyId);
    expect(rotated).toMatchObject({
      currentVersion: 2,
      onDemandRotations: 0,
      nextRotationAt: clock.now() + 90 * DAY_MS,
    });
    expect((await kms.listKeyRotations(key.keyId)).rotations).toEqual([
      expect.objectContaining({ version: 2, rotationType: 'AUTOMATIC', createdAt: clock.now() }),
    ]);
    expect((await kms.decrypt(old.ciphertext)).plaintext.toString()).toBe('old');
    expect(versionOf((await kms.encrypt(key.keyId, Buffer.from('new'))).ciphertext)).toBe(2);
  });

  it('skips a disabled key when due, and catches up once it is enabled', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await kms.enableKeyRotation(key.keyId, 30);
    await kms.disableKey(key.keyId);
    clock.advance(31 * DAY_MS);
    expect((await kms.runDueJobs()).rotated).toBe(0);
    await kms.enableKey(key.keyId);
    expect((await kms.runDueJobs()).rotated).toBe(1);
    expect((await kms.describeKey(key.keyId)).currentVersion).toBe(2);
  });
});

describe('due deletions', () => {
  it('deletes a key once its window has ended, with its aliases; its ciphertexts become invalid', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await kms.createAlias('alias/doomed', key.keyId);
    const { ciphertext } = await kms.encrypt(key.keyId, Buffer.from('x'));
    await kms.scheduleKeyDeletion(key.keyId, 7);
    clock.advance(7 * DAY_MS - 1);
    expect(await kms.runDueJobs()).toEqual({ rotated: 0, deleted: 0, materialsExpired: 0 });
    clock.advance(1);
    expect(await kms.runDueJobs()).toEqual({ rotated: 0, deleted: 1, materialsExpired: 0 });
    await expect(kms.describeKey(key.keyId)).rejects.toEqual(withCode('NotFoundException'));
    await expect(kms.describeKey('alias/doomed')).rejects.toEqual(withCode('NotFoundException'));
    await expect(kms.decrypt(ciphertext)).rejects.toEqual(withCode('InvalidCiphertextException'));
  });

  it('a cancelled deletion never runs', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await kms.scheduleKeyDeletion(key.keyId, 7);
    await kms.cancelKeyDeletion(key.keyId);
    clock.advance(8 * DAY_MS);
    expect(await kms.runDueJobs()).toEqual({ rotated: 0, deleted: 0, materialsExpired: 0 });
    expect((await kms.describeKey(key.keyId)).state).toBe('Disabled');
  });
});
