// Encryption in the engine: round trips, encryption context binding, tamper refusal, named keys, RSA, ReEncrypt, data keys.
import { describe, expect, it } from 'vitest';
import type { EncryptionContext } from '../../src/crypto/index.js';
import { kmsOnTempStore, withCode } from '../support/kms-engine.js';

const INVALID = withCode('InvalidCiphertextException');
const flip = (blob: Buffer, at: number) => {
  const copy = Buffer.from(blob);
  copy[at]! ^= 0x01;
  return copy;
};

describe('symmetric Encrypt and Decrypt', () => {
  it('round-trips under the encryption context, naming the key ARN and SYMMETRIC_DEFAULT', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const context = { tenant: 'a', purpose: 'test' };
    const sealed = await kms.encrypt(key.keyId, Buffer.from('hello'), context);
    expect(sealed).toMatchObject({ keyId: kms.arnOf(key.keyId), algorithm: 'SYMMETRIC_DEFAULT' });
    expect(sealed.ciphertext.includes(Buffer.from('hello'))).toBe(false);
    const opened = await kms.decrypt(sealed.ciphertext, { purpose: 'test', tenant: 'a' });
    expect(opened).toMatchObject({ keyId: kms.arnOf(key.keyId), algorithm: 'SYMMETRIC_DEFAULT' });
    expect(opened.plaintext.toString()).toBe('hello');
  });

  it('refuses any other encryption context with InvalidCiphertextException', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const sealed = await kms.encrypt(key.keyId, Buffer.from('hello'), { tenant: 'a' });
    const others: (EncryptionContext | undefined)[] = [
      undefined,
      {},
      { tenant: 'b' },
      { tenant: 'a', extra: 'x' },
      { Tenant: 'a' },
    ];
    for (const other of others) {
      await expect(kms.decrypt(sealed.ciphertext, other)).rejects.toEqual(INVALID);
    }
    const bare = await kms.encrypt(key.keyId, Buffer.from('hello'));
    await expect(kms.decrypt(bare.ciphertext, { tenant: 'a' })).rejects.toEqual(INVALID);
    expect((await kms.decrypt(bare.ciphertext, {})).plaintext.toString()).toBe('hello');
  });

  it('refuses a flipped bit anywhere, a truncated blob and garbage, all with the same error', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const { ciphertext } = await kms.encrypt(key.keyId, Buffer.from('hello world'));
    // magic, format, key id, key version, nonce/body, tag
    for (const at of [0, 1, 2, 17, 21, 25, ciphertext.length - 1]) {
      await expect(kms.decrypt(flip(ciphertext, at))).rejects.toEqual(INVALID);
    }
    await expect(kms.decrypt(ciphertext.subarray(0, ciphertext.length - 1))).rejects.toEqual(INVALID);
    await expect(kms.decrypt(ciphertext.subarray(0, 10))).rejects.toEqual(INVALID);
    await expect(kms.decrypt(Buffer.alloc(64, 7))).rejects.toEqual(INVALID);
  });

  it('checks a named key against the one the ciphertext names', async () => {
    const { kms } = await kmsOnTempStore();
    const [a, b] = [await kms.createKey({}), await kms.createKey({})];
    await kms.createAlias('alias/a', a.keyId);
    const { ciphertext } = await kms.encrypt(a.keyId, Buffer.from('x'));
    await expect(kms.decrypt(ciphertext, undefined, b.keyId)).rejects.toEqual(withCode('IncorrectKeyException'));
    for (const ref of [a.keyId, kms.arnOf(a.keyId), 'alias/a']) {
      expect((await kms.decrypt(ciphertext, undefined, ref)).plaintext.toString()).toBe('x');
    }
  });

  it('refuses keys not made for encryption with InvalidKeyUsageException', async () => {
    const { kms } = await kmsOnTempStore();
    const mac = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const signer = await kms.createKey({ keySpec: 'ECC_NIST_P256' });
    for (const k of [mac, signer]) {
      await expect(kms.encrypt(k.keyId, Buffer.from('x'))).rejects.toEqual(withCode('InvalidKeyUsageException'));
      await expect(kms.generateDataKey(k.keyId, 32)).rejects.toEqual(withCode('InvalidKeyUsageException'));
    }
    const sym = await kms.createKey({});
    await expect(kms.encrypt(sym.keyId, Buffer.from('x'), undefined, 'RSAES_OAEP_SHA_256')).rejects.toEqual(
      withCode('InvalidKeyUsageException'),
    );
  });
});

describe('RSA encryption', () => {
  it('round-trips with a named key and algorithm; refuses what RSA-OAEP cannot do', async () => {
    const { kms } = await kmsOnTempStore();
    const rsa = await kms.createKey({ keySpec: 'RSA_2048' });
    expect(rsa.keyUsage).toBe('ENCRYPT_DECRYPT');
    const alg = 'RSAES_OAEP_SHA_256';
    const sealed = await kms.encrypt(rsa.keyId, Buffer.from('hello'), undefined, alg);
    expect(sealed.algorithm).toBe(alg);
    expect((await kms.decrypt(sealed.ciphertext, undefined, rsa.keyId, alg)).plaintext.toString()).toBe('hello');
    await expect(kms.decrypt(sealed.ciphertext, undefined, undefined, alg)).rejects.toEqual(
      withCode('ValidationException'),
    );
    await expect(kms.decrypt(flip(sealed.ciphertext, 9), undefined, rsa.keyId, alg)).rejects.toEqual(INVALID);
    await expect(kms.encrypt(rsa.keyId, Buffer.from('x'))).rejects.toEqual(withCode('InvalidKeyUsageException'));
    await expect(kms.encrypt(rsa.keyId, Buffer.from('x'), { a: 'b' }, alg)).rejects.toEqual(
      withCode('ValidationException'),
    );
    // 2048-bit OAEP with SHA-256 holds at most 256 - 2*32 - 2 = 190 bytes.
    await kms.encrypt(rsa.keyId, Buffer.alloc(190), undefined, alg);
    await expect(kms.encrypt(rsa.keyId, Buffer.alloc(191), undefined, alg)).rejects.toEqual(
      withCode('ValidationException'),
    );
    await expect(kms.generateDataKeyPair(rsa.keyId, 'ECC_NIST_P256')).rejects.toEqual(
      withCode('InvalidKeyUsageException'),
    );
  });
});

describe('ReEncrypt', () => {
  it('moves a ciphertext to another key and context; the result opens only there', async () => {
    const { kms } = await kmsOnTempStore();
    const [a, b] = [await kms.createKey({}), await kms.createKey({})];
    const { ciphertext } = await kms.encrypt(a.keyId, Buffer.from('moved'), { from: 'a' });
    const { source, destination } = await kms.reEncrypt({
      blob: ciphertext,
      sourceContext: { from: 'a' },
      destinationKeyRef: b.keyId,
      destinationContext: { to: 'b' },
    });
    expect(source.keyId).toBe(kms.arnOf(a.keyId));
    expect(source.plaintext.every((byte) => byte === 0)).toBe(true); // zeroed once re-sealed
    expect(destination.keyId).toBe(kms.arnOf(b.keyId));
    expect((await kms.decrypt(destination.ciphertext, { to: 'b' })).plaintext.toString()).toBe('moved');
    await expect(kms.decrypt(destination.ciphertext, { from: 'a' })).rejects.toEqual(INVALID);
    await expect(
      kms.reEncrypt({ blob: ciphertext, sourceContext: { from: 'x' }, destinationKeyRef: b.keyId }),
    ).rejects.toEqual(INVALID);
  });
});

describe('data keys', () => {
  it('GenerateDataKey returns the plaintext and its ciphertext, which decrypts to it under the context', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const dk = await kms.generateDataKey(key.keyId, 32, { item: '1' });
    expect(dk.plaintext).toHaveLength(32);
    expect((await kms.decrypt(dk.ciphertext, { item: '1' })).plaintext).toEqual(dk.plaintext);
    await expect(kms.decrypt(dk.ciphertext, { item: '2' })).rejects.toEqual(INVALID);
    const other = await kms.generateDataKey(key.keyId, 32, { item: '1' });
    expect(other.plaintext).not.toEqual(dk.plaintext);
  });

  it('GenerateDataKeyPair seals the private key, which decrypts to the returned one', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const pair = await kms.generateDataKeyPair(key.keyId, 'ECC_NIST_P256', { k: 'v' });
    expect(pair.keyId).toBe(kms.arnOf(key.keyId));
    expect(pair.publicKey.length).toBeGreaterThan(0);
    expect((await kms.decrypt(pair.privateKeyCiphertext, { k: 'v' })).plaintext).toEqual(pair.privateKeyPlaintext);
  });
});
