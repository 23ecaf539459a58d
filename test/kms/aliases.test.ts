// Aliases in the engine: names, targets, re-pointing rules, deletion, listing, and the reserved namespaces.
import { describe, expect, it } from 'vitest';
import { isReservedAlias, refuseReservedAlias } from '../../src/kms/engine.js';
import { kmsOnTempStore, withCode } from '../support/kms-engine.js';

describe('CreateAlias', () => {
  it('names a key for every operation, by alias name or alias ARN', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await kms.createAlias('alias/app/orders', key.keyId);
    const sealed = await kms.encrypt('alias/app/orders', Buffer.from('x'));
    expect(sealed.keyId).toBe(kms.arnOf(key.keyId));
    const arn = 'arn:aws:kms:us-east-1:000000000000:alias/app/orders';
    expect((await kms.decrypt(sealed.ciphertext, undefined, arn)).plaintext.toString()).toBe('x');
  });

  it('refuses a taken name, a malformed name, an alias as target, a missing or pending target', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await kms.createAlias('alias/taken', key.keyId);
    await expect(kms.createAlias('alias/taken', key.keyId)).rejects.toEqual(withCode('AlreadyExistsException'));
    for (const bad of ['orders', 'alias/with space', 'alias/ünïcode', `alias/${'a'.repeat(251)}`, 'alias/a:b']) {
      await expect(kms.createAlias(bad, key.keyId)).rejects.toEqual(withCode('ValidationException'));
    }
    await expect(kms.createAlias('alias/', key.keyId)).rejects.toEqual(withCode('InvalidAliasNameException'));
    await expect(kms.createAlias('alias/other', 'alias/taken')).rejects.toEqual(withCode('ValidationException'));
    await expect(kms.createAlias('alias/other', '00000000-0000-0000-0000-000000000000')).rejects.toEqual(
      withCode('NotFoundException'),
    );
    const doomed = await kms.createKey({});
    await kms.scheduleKeyDeletion(doomed.keyId, 7);
    await expect(kms.createAlias('alias/other', doomed.keyId)).rejects.toEqual(withCode('KMSInvalidStateException'));
    expect((await kms.listAliases(10)).items.map((a) => a.name)).toEqual(['alias/taken']);
  });
});

describe('UpdateAlias', () => {
  it('re-points the alias: the next Encrypt through it uses the new key', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const [a, b] = [await kms.createKey({}), await kms.createKey({})];
    await kms.createAlias('alias/current', a.keyId);
    expect((await kms.encrypt('alias/current', Buffer.from('x'))).keyId).toBe(kms.arnOf(a.keyId));
    clock.advance(1000);
    await kms.updateAlias('alias/current', b.keyId);
    expect((await kms.encrypt('alias/current', Buffer.from('x'))).keyId).toBe(kms.arnOf(b.keyId));
    const [alias] = (await kms.listAliases(10)).items;
    expect(alias).toMatchObject({ keyId: b.keyId, updatedAt: alias!.createdAt + 1000 });
  });

  it('refuses a key of another usage or type, and an alias that does not exist', async () => {
    const { kms } = await kmsOnTempStore();
    const sym = await kms.createKey({});
    const mac = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    await kms.createAlias('alias/sym', sym.keyId);
    await expect(kms.updateAlias('alias/sym', mac.keyId)).rejects.toEqual(withCode('ValidationException'));
    await expect(kms.updateAlias('alias/none', sym.keyId)).rejects.toEqual(withCode('NotFoundException'));
    expect((await kms.listAliases(10)).items).toEqual([expect.objectContaining({ keyId: sym.keyId })]);
  });
});

describe('DeleteAlias and ListAliases', () => {
  it('deletes the name: it no longer resolves, and deleting it again is NotFoundException', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await kms.createAlias('alias/gone', key.keyId);
    await kms.encrypt('alias/gone', Buffer.from('x')); // cached now: deletion must drop it
    await kms.deleteAlias('alias/gone');
    await expect(kms.encrypt('alias/gone', Buffer.from('x'))).rejects.toEqual(withCode('NotFoundException'));
    await expect(kms.deleteAlias('alias/gone')).rejects.toEqual(withCode('NotFoundException'));
    expect((await kms.describeKey(key.keyId)).state).toBe('Enabled');
  });

  it('lists all aliases by name, or those of one key', async () => {
    const { kms } = await kmsOnTempStore();
    const [a, b] = [await kms.createKey({}), await kms.createKey({})];
    await kms.createAlias('alias/b-one', b.keyId);
    await kms.createAlias('alias/a-one', a.keyId);
    await kms.createAlias('alias/a-two', a.keyId);
    expect((await kms.listAliases(10)).items.map((x) => x.name)).toEqual(['alias/a-one', 'alias/a-two', 'alias/b-one']);
    expect((await kms.listAliases(10, undefined, 'alias/b-one')).items.map((x) => x.name)).toEqual(['alias/b-one']);
    const page = await kms.listAliases(1, undefined, a.keyId);
    expect(page.items.map((x) => x.name)).toEqual(['alias/a-one']);
    expect((await kms.listAliases(1, page.next, a.keyId)).items.map((x) => x.name)).toEqual(['alias/a-two']);
  });
});

describe('reserved alias names', () => {
  it.each([
    ['alias/aws', true],
    ['alias/aws/ebs', true],
    ['alias/keysafe', true],
    ['alias/keysafe/sessions', true],
    ['alias/awsome', false],
    ['alias/keysafe-demo', false],
    ['alias/team/aws/x', false],
  ])('%s reserved: %s', (name, reserved) => {
    expect(isReservedAlias(name)).toBe(reserved);
    if (reserved) expect(() => refuseReservedAlias(name)).toThrow(withCode('NotAuthorizedException'));
    else refuseReservedAlias(name);
  });
});
