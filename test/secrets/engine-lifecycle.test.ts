// Secrets engine lifecycle: create, the deletion recovery window and its purge on a manual clock, forced
// deletion, restore; names, tags and KMS keys the engine refuses.
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/core/clock.js';
import { engineOnStore, expectCode, PREFIX, T0 } from '../support/secrets-engine.js';

describe('deletion and its recovery window', () => {
  it('a secret scheduled for deletion is purged when its window ends, not a moment before', async () => {
    const { secrets, clock } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    const { deletionDate, secret } = await secrets.deleteSecret('app/db', 7, false);
    expect(deletionDate).toBe(T0 + 7 * DAY_MS);
    expect(secret).toMatchObject({ deletedAt: T0, purgeAt: T0 + 7 * DAY_MS });

    expect(await secrets.purgeDue(T0 + 7 * DAY_MS - 1)).toBe(0);
    expect((await secrets.find('app/db')).deletedAt).toBe(T0);
    clock.advance(7 * DAY_MS);
    expect(await secrets.purgeDue(clock.now())).toBe(1);
    await expectCode(secrets.find('app/db'), 'ResourceNotFoundException');
    // The name is free again.
    await secrets.createSecret({ name: 'app/db' });
  });

  it('the window is 30 days unless given, and must be 7 to 30 days', async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db' });
    for (const days of [6, 31]) {
      await expectCode(secrets.deleteSecret('app/db', days, false), 'InvalidParameterException', 'between 7 and 30');
    }
    expect((await secrets.deleteSecret('app/db', undefined, false)).deletionDate).toBe(T0 + 30 * DAY_MS);
    await expectCode(
      secrets.deleteSecret('app/db', undefined, false),
      'InvalidRequestException',
      'marked for deletion',
    );
  });

  it('restored within its window, a secret is live again with its values, and is not purged', async () => {
    const { secrets, clock } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    await secrets.deleteSecret('app/db', 7, false);
    clock.advance(6 * DAY_MS);
    const restored = await secrets.restoreSecret('app/db');
    expect(restored.deletedAt).toBeUndefined();
    expect(restored.purgeAt).toBeUndefined();
    expect(restored.lastChangedAt).toBe(T0 + 6 * DAY_MS);
    clock.advance(2 * DAY_MS);
    expect(await secrets.purgeDue(clock.now())).toBe(0);
    expect((await secrets.getSecretValue('app/db')).value.string).toBe('v');
  });

  it('restoring a live secret changes nothing', async () => {
    const { secrets } = await engineOnStore();
    const { secret } = await secrets.createSecret({ name: 'app/db' });
    expect((await secrets.restoreSecret('app/db')).revision).toBe(secret.revision);
  });

  it('a forced deletion purges at once; of a missing secret it answers as if it had existed', async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    expect((await secrets.deleteSecret('app/db', undefined, true)).deletionDate).toBe(T0);
    await expectCode(secrets.find('app/db'), 'ResourceNotFoundException');
    expect(await secrets.deleteSecret('gone/x', undefined, true)).toEqual({
      secret: { arn: `${PREFIX}gone/x`, name: 'gone/x' },
      deletionDate: T0,
    });
    await expectCode(
      secrets.deleteSecret('app/db', 7, true),
      'InvalidParameterException',
      'ForceDeleteWithoutRecovery',
    );
    await expectCode(secrets.deleteSecret('gone/x', undefined, false), 'ResourceNotFoundException');
  });

  it('a name scheduled for deletion cannot be created again until it is purged', async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db' });
    await secrets.deleteSecret('app/db', 7, false);
    await expectCode(secrets.createSecret({ name: 'app/db' }), 'InvalidRequestException', 'scheduled for deletion');
  });
});

describe('what CreateSecret and the settings refuse', () => {
  it('names outside the allowed characters or over 512 characters', async () => {
    const { secrets } = await engineOnStore();
    for (const name of ['', 'a b', 'a#b', 'x'.repeat(513)]) {
      await expectCode(secrets.createSecret({ name }), 'ValidationException', 'Invalid name');
    }
    await secrets.createSecret({ name: `a/_+=.@-${'x'.repeat(504)}` });
  });

  it('tags: aws: keys, duplicate keys, more than 50 in all after a merge', async () => {
    const { secrets } = await engineOnStore();
    const tags = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ Key: `k${from + i}`, Value: 'v' }));
    await expectCode(
      secrets.createSecret({ name: 'a', tags: [{ Key: 'aws:x', Value: 'v' }] }),
      'InvalidParameterException',
    );
    await expectCode(secrets.createSecret({ name: 'a', tags: [...tags(1), ...tags(1)] }), 'InvalidParameterException');
    await expectCode(secrets.createSecret({ name: 'a', tags: tags(51) }), 'LimitExceededException');
    await secrets.createSecret({ name: 'a', tags: tags(40) });
    // Re-tagging existing keys merges; new ones count towards the 50.
    await secrets.tagResource('a', [...tags(9, 1), { Key: 'k0', Value: 'changed' }]);
    expect((await secrets.find('a')).tags).toHaveLength(40);
    expect((await secrets.find('a')).tags.find((t) => t.Key === 'k0')?.Value).toBe('changed');
    await expectCode(secrets.tagResource('a', tags(11, 40)), 'LimitExceededException');
    await secrets.tagResource('a', tags(10, 40));
    await secrets.untagResource('a', ['k0', 'k1']);
    expect((await secrets.find('a')).tags.map((t) => t.Key)).not.toContain('k0');
    expect((await secrets.find('a')).tags).toHaveLength(48);
  });

  it("a KMS key that does not exist, is not symmetric, or is one of Keysafe's own", async () => {
    const { secrets, kms } = await engineOnStore();
    await expectCode(
      secrets.createSecret({ name: 'a', kmsKeyId: 'alias/none' }),
      'InvalidParameterException',
      "can't be found",
    );
    const signing = await kms.createKey({ keyUsage: 'SIGN_VERIFY', keySpec: 'ECC_NIST_P256' });
    await expectCode(
      secrets.createSecret({ name: 'a', kmsKeyId: signing.keyId }),
      'InvalidParameterException',
      'symmetric',
    );
    await secrets.createSecret({ name: 'b', value: { string: 'v' } });
    const internal = await secrets.versionKey('b');
    await expectCode(
      secrets.createSecret({ name: 'a', kmsKeyId: internal }),
      'InvalidParameterException',
      'Keysafe keeps',
    );
  });

  it('UpdateSecret with a new key re-encrypts the labelled versions under it', async () => {
    const { secrets, kms } = await engineOnStore();
    await secrets.createSecret({ name: 'a', value: { string: 'one' } });
    await secrets.putSecretValue('a', { value: { string: 'two' } });
    const key = await kms.createKey({});
    await secrets.updateSecret('a', { kmsKeyId: key.keyId, description: 'mine' });
    expect((await secrets.find('a')).description).toBe('mine');
    for (const stage of ['AWSCURRENT', 'AWSPREVIOUS']) {
      expect(await secrets.versionKey('a', undefined, stage)).toBe(kms.arnOf(key.keyId));
    }
    expect((await secrets.getSecretValue('a', undefined, 'AWSPREVIOUS')).value.string).toBe('one');
  });
});
