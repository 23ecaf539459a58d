// Key lifecycle in the engine: creation defaults and refusals, state transitions and their error codes, tags and policy.
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/core/clock.js';
import { defaultKeyPolicy } from '../../src/kms/index.js';
import { kmsOnTempStore, PARTITION, withCode } from '../support/kms-engine.js';

const text = (s: string) => Buffer.from(s);

describe('CreateKey', () => {
  it('makes an enabled symmetric key at version 1 with the default policy, found by id, ARN and alias', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({ description: 'orders' });
    expect(key).toMatchObject({
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      state: 'Enabled',
      currentVersion: 1,
      rotationEnabled: false,
      onDemandRotations: 0,
      description: 'orders',
      createdAt: clock.now(),
      tags: [],
    });
    expect(key.policy).toBe(defaultKeyPolicy(PARTITION));
    expect(JSON.parse(key.policy).Statement[0].Principal.AWS).toBe('arn:aws:iam::000000000000:root');
    await kms.createAlias('alias/orders', key.keyId);
    for (const ref of [key.keyId, kms.arnOf(key.keyId), 'alias/orders']) {
      expect((await kms.describeKey(ref)).keyId).toBe(key.keyId);
    }
  });

  it('defaults usage by spec and refuses usages a spec cannot serve', async () => {
    const { kms } = await kmsOnTempStore();
    expect((await kms.createKey({ keySpec: 'ECC_NIST_P256' })).keyUsage).toBe('SIGN_VERIFY');
    await expect(kms.createKey({ keySpec: 'HMAC_256' })).rejects.toEqual(withCode('ValidationException'));
    await expect(kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'ENCRYPT_DECRYPT' })).rejects.toEqual(
      withCode('ValidationException'),
    );
    await expect(kms.createKey({ keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'SIGN_VERIFY' })).rejects.toEqual(
      withCode('ValidationException'),
    );
    expect((await kms.listKeys(10)).items).toHaveLength(1);
  });

  it('refuses reserved, repeated and too many tags, and makes no key then', async () => {
    const { kms } = await kmsOnTempStore();
    const tag = (k: string) => ({ TagKey: k, TagValue: 'v' });
    await expect(kms.createKey({ tags: [tag('aws:owner')] })).rejects.toEqual(withCode('TagException'));
    await expect(kms.createKey({ tags: [tag('a'), tag('a')] })).rejects.toEqual(withCode('TagException'));
    const many = Array.from({ length: 51 }, (_, i) => tag(`t${i}`));
    await expect(kms.createKey({ tags: many })).rejects.toEqual(withCode('TagException'));
    expect((await kms.listKeys(10)).items).toEqual([]);
    expect((await kms.createKey({ tags: many.slice(0, 50) })).tags).toHaveLength(50);
  });

  it('answers NotFoundException for an unknown key, alias or malformed reference', async () => {
    const { kms } = await kmsOnTempStore();
    for (const ref of ['00000000-0000-0000-0000-000000000000', 'alias/nothing', 'not a key']) {
      await expect(kms.describeKey(ref)).rejects.toEqual(withCode('NotFoundException'));
    }
  });

  it('lists keys in pages', async () => {
    const { kms } = await kmsOnTempStore();
    const made = await Promise.all([kms.createKey({}), kms.createKey({}), kms.createKey({})]);
    const first = await kms.listKeys(2);
    expect(first.items).toHaveLength(2);
    const second = await kms.listKeys(2, first.next);
    expect(second.next).toBeUndefined();
    const ids = [...first.items, ...second.items].map((k) => k.keyId);
    expect(ids.sort()).toEqual(made.map((k) => k.keyId).sort());
  });
});

describe('enable and disable', () => {
  it('a disabled key refuses Encrypt and Decrypt with DisabledException until enabled again', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const sealed = await kms.encrypt(key.keyId, text('secret'));
    expect((await kms.disableKey(key.keyId)).state).toBe('Disabled');
    await expect(kms.encrypt(key.keyId, text('x'))).rejects.toEqual(withCode('DisabledException'));
    await expect(kms.decrypt(sealed.ciphertext)).rejects.toEqual(withCode('DisabledException'));
    await expect(kms.generateDataKey(key.keyId, 32)).rejects.toEqual(withCode('DisabledException'));
    await expect(kms.requireDecryptable(key.keyId)).rejects.toEqual(withCode('DisabledException'));
    await kms.enableKey(key.keyId);
    expect((await kms.decrypt(sealed.ciphertext)).plaintext.toString()).toBe('secret');
  });

  it('each write bumps the revision the store keeps', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const a = await kms.updateKeyDescription(key.keyId, 'one');
    const b = await kms.disableKey(key.keyId);
    expect([a.revision, b.revision]).toEqual([key.revision + 1, key.revision + 2]);
    expect(await kms.describeKey(key.keyId)).toMatchObject({ description: 'one', state: 'Disabled' });
  });
});

describe('scheduled deletion', () => {
  it('puts the key in PendingDeletion with its date; every use and change but cancel is KMSInvalidStateException', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const sealed = await kms.encrypt(key.keyId, text('secret'));
    const pending = await kms.scheduleKeyDeletion(key.keyId, 7);
    expect(pending).toMatchObject({ state: 'PendingDeletion', pendingWindowInDays: 7 });
    expect(pending.deletionAt).toBe(clock.now() + 7 * DAY_MS);
    const invalid = withCode('KMSInvalidStateException');
    await expect(kms.encrypt(key.keyId, text('x'))).rejects.toEqual(invalid);
    await expect(kms.decrypt(sealed.ciphertext)).rejects.toEqual(invalid);
    await expect(kms.enableKey(key.keyId)).rejects.toEqual(invalid);
    await expect(kms.disableKey(key.keyId)).rejects.toEqual(invalid);
    await expect(kms.scheduleKeyDeletion(key.keyId, 30)).rejects.toEqual(invalid);
    await expect(kms.updateKeyDescription(key.keyId, 'x')).rejects.toEqual(invalid);
    await expect(kms.putKeyPolicy(key.keyId, '{}')).rejects.toEqual(invalid);
    await expect(kms.tagResource(key.keyId, [{ TagKey: 'a', TagValue: 'b' }])).rejects.toEqual(invalid);
    await expect(kms.createAlias('alias/late', key.keyId)).rejects.toEqual(invalid);
    // Refusals left the record as it was.
    expect(await kms.describeKey(key.keyId)).toMatchObject({
      revision: pending.revision,
      deletionAt: pending.deletionAt,
    });
  });

  it('cancel leaves the key Disabled without a deletion date; cancelling a key not pending is refused', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await expect(kms.cancelKeyDeletion(key.keyId)).rejects.toEqual(withCode('KMSInvalidStateException'));
    await kms.scheduleKeyDeletion(key.keyId, 7);
    const cancelled = await kms.cancelKeyDeletion(key.keyId);
    expect(cancelled.state).toBe('Disabled');
    expect(cancelled.deletionAt).toBeUndefined();
    expect(cancelled.pendingWindowInDays).toBeUndefined();
    await expect(kms.encrypt(key.keyId, text('x'))).rejects.toEqual(withCode('DisabledException'));
  });
});

describe('tags and key policy', () => {
  it('tagging adds and replaces, untagging removes, and the store keeps them', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ tags: [{ TagKey: 'team', TagValue: 'a' }] });
    await kms.tagResource(key.keyId, [
      { TagKey: 'team', TagValue: 'b' },
      { TagKey: 'env', TagValue: 'prod' },
    ]);
    expect(await kms.listResourceTags(key.keyId)).toEqual([
      { TagKey: 'team', TagValue: 'b' },
      { TagKey: 'env', TagValue: 'prod' },
    ]);
    await kms.untagResource(key.keyId, ['team', 'absent']);
    expect(await kms.listResourceTags(key.keyId)).toEqual([{ TagKey: 'env', TagValue: 'prod' }]);
    await expect(kms.tagResource(key.keyId, [{ TagKey: 'aws:x', TagValue: 'y' }])).rejects.toEqual(
      withCode('TagException'),
    );
  });

  it('PutKeyPolicy replaces the policy GetKeyPolicy returns', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [] });
    await kms.putKeyPolicy(key.keyId, policy);
    expect(await kms.getKeyPolicy(key.keyId)).toBe(policy);
  });
});
