// Root-key rewrap in the engine: every version moves under the new root key and stays readable after the old one is gone.
import { describe, expect, it } from 'vitest';
import { RootKey, RootKeyring } from '../../src/crypto/index.js';
import { createKmsEngine } from '../../src/kms/index.js';
import { kmsOnTempStore, PARTITION, withCode } from '../support/kms-engine.js';

describe('rewrapUnderCurrentRootKey', () => {
  it('re-wraps every version once; an engine holding only the new root key reads them', async () => {
    const { kms, store, clock, rootKeys } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const first = await kms.encrypt(key.keyId, Buffer.from('first'));
    await kms.rotateKeyOnDemand(key.keyId);
    const second = await kms.encrypt(key.keyId, Buffer.from('second'));
    const mac = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const tag = await kms.generateMac(mac.keyId, Buffer.from('m'), 'HMAC_SHA_256');

    const next = RootKey.fromBytesInsecure(RootKey.generateBytesInsecure());
    rootKeys.promote(next);
    expect(await kms.rewrapUnderCurrentRootKey(2)).toBe(3); // two batches of at most two
    expect(await kms.rewrapUnderCurrentRootKey()).toBe(0);
    expect(await store.kms.versionsNotWrappedBy(next.id, 10)).toEqual([]);
    // New material is wrapped under the new root key from now on.
    await kms.rotateKeyOnDemand(key.keyId);
    expect((await store.kms.getKeyVersion(key.keyId, 3))?.rootKeyId).toBe(next.id);

    const fresh = createKmsEngine({ store: store.kms, rootKeys: new RootKeyring(next), clock, partition: PARTITION });
    expect((await fresh.decrypt(first.ciphertext)).plaintext.toString()).toBe('first');
    expect((await fresh.decrypt(second.ciphertext)).plaintext.toString()).toBe('second');
    await fresh.verifyMac(mac.keyId, Buffer.from('m'), 'HMAC_SHA_256', tag.mac);
  });

  it('refuses material wrapped under a root key the keyring does not hold', async () => {
    const { kms, store, clock } = await kmsOnTempStore();
    await kms.createKey({});
    const stranger = RootKey.fromBytesInsecure(RootKey.generateBytesInsecure());
    const other = createKmsEngine({
      store: store.kms,
      rootKeys: new RootKeyring(stranger),
      clock,
      partition: PARTITION,
    });
    await expect(other.rewrapUnderCurrentRootKey()).rejects.toEqual(withCode('KMSInternalException'));
  });
});
