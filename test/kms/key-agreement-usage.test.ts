// DeriveSharedSecret and GetKeyLastUsage in the engine: errors, and key usage written in batches that survive a restart.
import { createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKmsEngine, type KmsStore } from '../../src/kms/index.js';
import { kmsOnTempStore, PARTITION, withCode } from '../support/kms-engine.js';

const spkiOf = (curve: string) => {
  const pair = generateKeyPairSync('ec', { namedCurve: curve });
  return { pair, der: pair.publicKey.export({ type: 'spki', format: 'der' }) };
};

describe('DeriveSharedSecret', () => {
  it('agrees with the peer; refuses the wrong usage, curve, algorithm and a disabled key', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ keySpec: 'ECC_NIST_P384', keyUsage: 'KEY_AGREEMENT' });
    const peer = spkiOf('secp384r1');
    const r = await kms.deriveSharedSecret(key.keyId, 'ECDH', peer.der);
    const { publicKey } = await kms.getPublicKey(key.keyId);
    const theirs = diffieHellman({
      privateKey: peer.pair.privateKey,
      publicKey: createPublicKey({ key: publicKey, format: 'der', type: 'spki' }),
    });
    expect(r.sharedSecret).toEqual(theirs);

    await expect(kms.deriveSharedSecret(key.keyId, 'ECDH', spkiOf('prime256v1').der)).rejects.toEqual(
      withCode('ValidationException'),
    );
    await expect(kms.deriveSharedSecret(key.keyId, 'ECDH', Buffer.from('junk'))).rejects.toEqual(
      withCode('ValidationException'),
    );
    await expect(kms.deriveSharedSecret(key.keyId, 'SM2DH', peer.der)).rejects.toEqual(
      withCode('InvalidKeyUsageException'),
    );
    const signer = await kms.createKey({ keySpec: 'ECC_NIST_P384', keyUsage: 'SIGN_VERIFY' });
    await expect(kms.deriveSharedSecret(signer.keyId, 'ECDH', peer.der)).rejects.toEqual(
      withCode('InvalidKeyUsageException'),
    );
    await kms.disableKey(key.keyId);
    await expect(kms.deriveSharedSecret(key.keyId, 'ECDH', peer.der)).rejects.toEqual(withCode('DisabledException'));
  });

  it('KEY_AGREEMENT exists for the NIST curves only, as AWS documents', async () => {
    const { kms } = await kmsOnTempStore();
    for (const keySpec of ['ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519', 'RSA_2048', 'ML_DSA_44'] as const) {
      await expect(kms.createKey({ keySpec, keyUsage: 'KEY_AGREEMENT' })).rejects.toEqual(
        withCode('ValidationException'),
      );
    }
  });
});

describe('GetKeyLastUsage', () => {
  it('answers a use at once, writes it only at a flush, and a restarted engine reads it back', async () => {
    const { kms, store, clock, rootKeys } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const before = await kms.keyLastUsage(key.keyId);
    expect(before.lastUse).toBeUndefined();
    expect(before.trackingStartDate).toBeGreaterThanOrEqual(key.createdAt);

    clock.advance(5_000);
    kms.noteKeyUse(kms.arnOf(key.keyId), 'Encrypt');
    expect((await kms.keyLastUsage(key.keyId)).lastUse).toMatchObject({ operation: 'Encrypt', at: clock.now() });
    expect(await store.kms.getKeyUsage(key.keyId)).toBeUndefined(); // no write per use

    await kms.flushKeyUsage();
    expect(await store.kms.getKeyUsage(key.keyId)).toMatchObject({ operation: 'Encrypt', at: clock.now() });

    // Another replica's older use never replaces a newer one
    await store.kms.recordKeyUsage([{ keyId: key.keyId, at: clock.now() - 1, operation: 'Decrypt' }]);
    expect(await store.kms.getKeyUsage(key.keyId)).toMatchObject({ operation: 'Encrypt' });

    const restarted = createKmsEngine({ store: store.kms, rootKeys, clock, partition: PARTITION });
    expect((await restarted.keyLastUsage(key.keyId)).lastUse).toMatchObject({ operation: 'Encrypt' });
  });

  it('skips a key deleted before the flush, and keeps uses for the next flush when the store fails', async () => {
    const { kms, store, clock, rootKeys } = await kmsOnTempStore();
    const key = await kms.createKey({});
    kms.noteKeyUse(key.keyId, 'Decrypt');
    await store.kms.deleteKey(key.keyId, (await kms.describeKey(key.keyId)).revision);
    await expect(kms.flushKeyUsage()).resolves.toBeUndefined();

    // An engine over a store whose first usage write fails
    let failures = 1;
    // The same store, every method bound to it, one replaced
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(store.kms)).filter((n) => n !== 'constructor');
    const bound = Object.fromEntries(
      methods.map((n) => [n, (Reflect.get(store.kms, n) as (...a: unknown[]) => unknown).bind(store.kms)]),
    ) as unknown as KmsStore;
    const failing: KmsStore = {
      ...bound,
      async recordKeyUsage(uses) {
        if (failures-- > 0) throw new Error('disk full');
        return store.kms.recordKeyUsage(uses);
      },
    };
    const flaky = createKmsEngine({ store: failing, rootKeys, clock, partition: PARTITION, usageFlushMs: 0 });
    const other = await flaky.createKey({});
    flaky.noteKeyUse(other.keyId, 'Sign');
    await flaky.flushKeyUsage();
    expect(await store.kms.getKeyUsage(other.keyId)).toBeUndefined();
    expect((await flaky.keyLastUsage(other.keyId)).lastUse).toMatchObject({ operation: 'Sign' });
    await flaky.flushKeyUsage();
    expect(await store.kms.getKeyUsage(other.keyId)).toMatchObject({ operation: 'Sign' });
  });
});
