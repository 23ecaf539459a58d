// Signatures and MACs in the engine: sign/verify, digests, public keys checked outside Keysafe, MAC verification failures.
import { createHash, verify as verifyOutside } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kmsOnTempStore, withCode } from '../support/kms-engine.js';

const message = Buffer.from('pay 10 to alice');

describe('Sign and Verify', () => {
  it('signs RAW and DIGEST messages; the public key verifies the signature outside Keysafe', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ keySpec: 'ECC_NIST_P256' });
    const raw = await kms.sign(key.keyId, message, 'RAW', 'ECDSA_SHA_256');
    expect(raw.keyId).toBe(kms.arnOf(key.keyId));
    const { publicKey } = await kms.getPublicKey(key.keyId);
    const spki = { key: publicKey, format: 'der', type: 'spki' } as const;
    expect(verifyOutside('sha256', message, spki, raw.signature)).toBe(true);
    const digest = createHash('sha256').update(message).digest();
    const signed = await kms.sign(key.keyId, digest, 'DIGEST', 'ECDSA_SHA_256');
    expect(verifyOutside('sha256', message, spki, signed.signature)).toBe(true);
    await kms.verify(key.keyId, message, 'RAW', 'ECDSA_SHA_256', signed.signature);
    await kms.verify(key.keyId, digest, 'DIGEST', 'ECDSA_SHA_256', raw.signature);
  });

  it('refuses another message or a changed signature with KMSInvalidSignatureException', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ keySpec: 'ECC_NIST_P256' });
    const { signature } = await kms.sign(key.keyId, message, 'RAW', 'ECDSA_SHA_256');
    const bad = withCode('KMSInvalidSignatureException');
    await expect(
      kms.verify(key.keyId, Buffer.from('pay 99 to bob'), 'RAW', 'ECDSA_SHA_256', signature),
    ).rejects.toEqual(bad);
    const changed = Buffer.from(signature);
    changed[changed.length - 1]! ^= 0x01;
    await expect(kms.verify(key.keyId, message, 'RAW', 'ECDSA_SHA_256', changed)).rejects.toEqual(bad);
    const other = await kms.createKey({ keySpec: 'ECC_NIST_P256' });
    await expect(kms.verify(other.keyId, message, 'RAW', 'ECDSA_SHA_256', signature)).rejects.toEqual(bad);
  });

  it('refuses digests of the wrong length, DIGEST for Ed25519, and algorithms the key cannot use', async () => {
    const { kms } = await kmsOnTempStore();
    const ecc = await kms.createKey({ keySpec: 'ECC_NIST_P256' });
    await expect(kms.sign(ecc.keyId, Buffer.alloc(31), 'DIGEST', 'ECDSA_SHA_256')).rejects.toEqual(
      withCode('ValidationException'),
    );
    await expect(kms.sign(ecc.keyId, message, 'RAW', 'ECDSA_SHA_384')).rejects.toEqual(
      withCode('InvalidKeyUsageException'),
    );
    const ed = await kms.createKey({ keySpec: 'ECC_NIST_EDWARDS25519' });
    await expect(kms.sign(ed.keyId, Buffer.alloc(64), 'DIGEST', 'ED25519_SHA_512')).rejects.toEqual(
      withCode('ValidationException'),
    );
    const { signature } = await kms.sign(ed.keyId, message, 'RAW', 'ED25519_SHA_512');
    await kms.verify(ed.keyId, message, 'RAW', 'ED25519_SHA_512', signature);
    const sym = await kms.createKey({});
    await expect(kms.sign(sym.keyId, message, 'RAW', 'ECDSA_SHA_256')).rejects.toEqual(
      withCode('InvalidKeyUsageException'),
    );
  });

  it('a disabled signing key neither signs nor gives its public key; a symmetric key has none', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ keySpec: 'ECC_NIST_P256' });
    await kms.disableKey(key.keyId);
    await expect(kms.sign(key.keyId, message, 'RAW', 'ECDSA_SHA_256')).rejects.toEqual(withCode('DisabledException'));
    await expect(kms.getPublicKey(key.keyId)).rejects.toEqual(withCode('DisabledException'));
    const sym = await kms.createKey({});
    await expect(kms.getPublicKey(sym.keyId)).rejects.toEqual(withCode('UnsupportedOperationException'));
  });
});

describe('GenerateMac and VerifyMac', () => {
  it('computes the same MAC for the same message and verifies it', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const { mac, keyId } = await kms.generateMac(key.keyId, message, 'HMAC_SHA_256');
    expect(keyId).toBe(kms.arnOf(key.keyId));
    expect(mac).toHaveLength(32);
    expect((await kms.generateMac(key.keyId, message, 'HMAC_SHA_256')).mac).toEqual(mac);
    expect(await kms.verifyMac(key.keyId, message, 'HMAC_SHA_256', mac)).toEqual({ keyId });
  });

  it('refuses another message, a changed or short tag, and another key with KMSInvalidMacException', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const { mac } = await kms.generateMac(key.keyId, message, 'HMAC_SHA_256');
    const bad = withCode('KMSInvalidMacException');
    await expect(kms.verifyMac(key.keyId, Buffer.from('other'), 'HMAC_SHA_256', mac)).rejects.toEqual(bad);
    const changed = Buffer.from(mac);
    changed[0]! ^= 0x80;
    await expect(kms.verifyMac(key.keyId, message, 'HMAC_SHA_256', changed)).rejects.toEqual(bad);
    await expect(kms.verifyMac(key.keyId, message, 'HMAC_SHA_256', mac.subarray(0, 16))).rejects.toEqual(bad);
    const other = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    await expect(kms.verifyMac(other.keyId, message, 'HMAC_SHA_256', mac)).rejects.toEqual(bad);
  });

  it('refuses an algorithm of another length, a key of another usage, and a disabled key', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    await expect(kms.generateMac(key.keyId, message, 'HMAC_SHA_512')).rejects.toEqual(
      withCode('InvalidKeyUsageException'),
    );
    const sym = await kms.createKey({});
    await expect(kms.generateMac(sym.keyId, message, 'HMAC_SHA_256')).rejects.toEqual(
      withCode('InvalidKeyUsageException'),
    );
    const { mac } = await kms.generateMac(key.keyId, message, 'HMAC_SHA_256');
    await kms.disableKey(key.keyId);
    await expect(kms.verifyMac(key.keyId, message, 'HMAC_SHA_256', mac)).rejects.toEqual(withCode('DisabledException'));
    await expect(kms.requireMacKey(key.keyId)).rejects.toEqual(withCode('DisabledException'));
  });
});
