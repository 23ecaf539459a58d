// Imported key material in the engine: PendingImport keys, import tokens, unwrapping, re-imports, deletion and expiry.
import {
  constants,
  createCipheriv,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/core/clock.js';
import type { WrappingAlgorithm } from '../../src/crypto/index.js';
import type { KmsEngine } from '../../src/kms/index.js';
import { kmsOnTempStore, withCode } from '../support/kms-engine.js';

const oaep = (publicKey: Buffer, hash: 'sha1' | 'sha256', data: Buffer) =>
  publicEncrypt(
    {
      key: createPublicKey({ key: publicKey, format: 'der', type: 'spki' }),
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: hash,
    },
    data,
  );

/** What a user does with the public key: RSA-OAEP of the material, or of an AES key that wraps it (RFC 5649). */
function wrapFor(publicKey: Buffer, algorithm: WrappingAlgorithm, material: Buffer): Buffer {
  const hash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  if (algorithm.startsWith('RSAES')) return oaep(publicKey, hash, material);
  const aes = randomBytes(32);
  const kwp = createCipheriv('id-aes256-wrap-pad', aes, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([oaep(publicKey, hash, aes), kwp.update(material), kwp.final()]);
}

async function importInto(
  kms: KmsEngine,
  keyId: string,
  material: Buffer,
  options: { algorithm?: WrappingAlgorithm; validTo?: number } = {},
) {
  const algorithm = options.algorithm ?? 'RSAES_OAEP_SHA_256';
  const params = await kms.getParametersForImport(keyId, algorithm, 'RSA_2048');
  return kms.importKeyMaterial(keyId, {
    importToken: params.importToken,
    encryptedKeyMaterial: wrapFor(params.publicKey, algorithm, material),
    ...(options.validTo === undefined
      ? { expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' as const }
      : { expirationModel: 'KEY_MATERIAL_EXPIRES' as const, validTo: options.validTo }),
  });
}

describe('EXTERNAL keys', () => {
  it('start PendingImport without material; crypto and enabling are refused with AWS messages', async () => {
    const { kms, store } = await kmsOnTempStore();
    const key = await kms.createKey({ origin: 'EXTERNAL' });
    expect(key).toMatchObject({ state: 'PendingImport', origin: 'EXTERNAL' });
    expect(await store.kms.listKeyVersions(key.keyId)).toEqual([]);
    const pending = expect.objectContaining({
      code: 'KMSInvalidStateException',
      message: `${kms.arnOf(key.keyId)} is pending import.`,
    });
    await expect(kms.encrypt(key.keyId, Buffer.from('x'))).rejects.toEqual(pending);
    await expect(kms.enableKey(key.keyId)).rejects.toEqual(pending);
    await expect(kms.disableKey(key.keyId)).rejects.toEqual(pending);
  });

  it('refuse the import operations on AWS_KMS keys', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await expect(kms.getParametersForImport(key.keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048')).rejects.toEqual(
      expect.objectContaining({
        code: 'UnsupportedOperationException',
        message: `${kms.arnOf(key.keyId)} origin is AWS_KMS which is not valid for this operation.`,
      }),
    );
    await expect(kms.deleteImportedKeyMaterial(key.keyId)).rejects.toEqual(withCode('UnsupportedOperationException'));
  });
});

describe('ImportKeyMaterial', () => {
  for (const algorithm of [
    'RSAES_OAEP_SHA_1',
    'RSAES_OAEP_SHA_256',
    'RSA_AES_KEY_WRAP_SHA_1',
    'RSA_AES_KEY_WRAP_SHA_256',
  ] as const) {
    it(`unwraps ${algorithm}; the key is Enabled and encrypts with the imported material`, async () => {
      const { kms } = await kmsOnTempStore();
      const key = await kms.createKey({ origin: 'EXTERNAL' });
      const material = randomBytes(32);
      const { key: imported, keyMaterialId } = await importInto(kms, key.keyId, material, { algorithm });
      expect(imported.state).toBe('Enabled');
      expect(keyMaterialId).toMatch(/^[0-9a-f]{64}$/);
      const sealed = await kms.encrypt(key.keyId, Buffer.from('hello'));
      expect((await kms.decrypt(sealed.ciphertext)).plaintext.toString()).toBe('hello');
    });
  }

  it('imports HMAC and asymmetric material; the public key is the imported one', async () => {
    const { kms } = await kmsOnTempStore();
    const hmac = await kms.createKey({ origin: 'EXTERNAL', keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    await importInto(kms, hmac.keyId, randomBytes(48));
    expect((await kms.generateMac(hmac.keyId, Buffer.from('m'), 'HMAC_SHA_256')).mac).toHaveLength(32);

    const ec = await kms.createKey({ origin: 'EXTERNAL', keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
    const pair = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    });
    await importInto(kms, ec.keyId, pair.privateKey, { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect((await kms.getPublicKey(ec.keyId)).publicKey).toEqual(pair.publicKey);
  });

  it('refuses material of the wrong length or kind with IncorrectKeyMaterialException', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ origin: 'EXTERNAL' });
    await expect(importInto(kms, key.keyId, randomBytes(16))).rejects.toEqual(
      withCode('IncorrectKeyMaterialException'),
    );
    const hmac = await kms.createKey({ origin: 'EXTERNAL', keySpec: 'HMAC_512', keyUsage: 'GENERATE_VERIFY_MAC' });
    await expect(importInto(kms, hmac.keyId, randomBytes(32))).rejects.toEqual(
      withCode('IncorrectKeyMaterialException'),
    );
    const rsa = await kms.createKey({ origin: 'EXTERNAL', keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' });
    await expect(importInto(kms, rsa.keyId, randomBytes(64), { algorithm: 'RSA_AES_KEY_WRAP_SHA_1' })).rejects.toEqual(
      withCode('IncorrectKeyMaterialException'),
    );
    expect((await kms.describeKey(key.keyId)).state).toBe('PendingImport');
  });

  it('refuses material wrapped under another public key or algorithm with InvalidCiphertextException', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ origin: 'EXTERNAL' });
    const params = await kms.getParametersForImport(key.keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    const other = await kms.getParametersForImport(key.keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    const material = randomBytes(32);
    for (const encrypted of [
      wrapFor(other.publicKey, 'RSAES_OAEP_SHA_256', material),
      wrapFor(params.publicKey, 'RSAES_OAEP_SHA_1', material),
      Buffer.from('not a ciphertext'),
    ]) {
      await expect(
        kms.importKeyMaterial(key.keyId, {
          importToken: params.importToken,
          encryptedKeyMaterial: encrypted,
          expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      ).rejects.toEqual(withCode('InvalidCiphertextException'));
    }
  });

  it("refuses another key's token, an altered token (InvalidImportTokenException) and an expired one", async () => {
    const { kms, clock } = await kmsOnTempStore();
    const a = await kms.createKey({ origin: 'EXTERNAL' });
    const b = await kms.createKey({ origin: 'EXTERNAL' });
    const params = await kms.getParametersForImport(a.keyId, 'RSAES_OAEP_SHA_256', 'RSA_3072');
    expect(params.parametersValidTo).toBe(clock.now() + DAY_MS);
    const encrypted = wrapFor(params.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32));
    const attempt = (keyId: string, importToken: Buffer) =>
      kms.importKeyMaterial(keyId, {
        importToken,
        encryptedKeyMaterial: encrypted,
        expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      });
    await expect(attempt(b.keyId, params.importToken)).rejects.toEqual(withCode('InvalidImportTokenException'));
    const altered = Buffer.from(params.importToken);
    altered[altered.length - 1]! ^= 1;
    await expect(attempt(a.keyId, altered)).rejects.toEqual(withCode('InvalidImportTokenException'));
    await expect(attempt(a.keyId, Buffer.from('x'))).rejects.toEqual(withCode('InvalidImportTokenException'));
    clock.advance(DAY_MS + 1);
    await expect(attempt(a.keyId, params.importToken)).rejects.toEqual(withCode('ExpiredImportTokenException'));
    expect((await kms.describeKey(a.keyId)).state).toBe('PendingImport');
  });

  it('pairs ExpirationModel and ValidTo as AWS does', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({ origin: 'EXTERNAL' });
    const params = await kms.getParametersForImport(key.keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    const base = {
      importToken: params.importToken,
      encryptedKeyMaterial: wrapFor(params.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32)),
    };
    const refused = (message: string) => expect.objectContaining({ code: 'ValidationException', message });
    await expect(kms.importKeyMaterial(key.keyId, base)).rejects.toEqual(
      refused('A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES'),
    );
    await expect(
      kms.importKeyMaterial(key.keyId, {
        ...base,
        expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        validTo: clock.now() + DAY_MS,
      }),
    ).rejects.toEqual(refused('A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE'));
    await expect(kms.importKeyMaterial(key.keyId, { ...base, validTo: clock.now() - 1 })).rejects.toEqual(
      withCode('ValidationException'),
    );
    await expect(kms.importKeyMaterial(key.keyId, { ...base, validTo: clock.now() + 366 * DAY_MS })).rejects.toEqual(
      withCode('ValidationException'),
    );
    const { key: done } = await kms.importKeyMaterial(key.keyId, { ...base, validTo: clock.now() + 10 * DAY_MS });
    expect(done.imported).toMatchObject({
      expirationModel: 'KEY_MATERIAL_EXPIRES',
      validTo: clock.now() + 10 * DAY_MS,
    });
  });
});

describe('re-import, deletion and expiry', () => {
  it('deletes the material (the cached copy too); only the same material re-imports, and old ciphertexts open again', async () => {
    const { kms, store } = await kmsOnTempStore();
    const key = await kms.createKey({ origin: 'EXTERNAL' });
    const material = randomBytes(32);
    const first = await importInto(kms, key.keyId, material);
    const sealed = await kms.encrypt(key.keyId, Buffer.from('kept'));
    const deleted = await kms.deleteImportedKeyMaterial(key.keyId);
    expect(deleted).toMatchObject({ key: { state: 'PendingImport' }, keyMaterialId: first.keyMaterialId });
    expect(await store.kms.listKeyVersions(key.keyId)).toEqual([]);
    await expect(kms.decrypt(sealed.ciphertext)).rejects.toEqual(withCode('KMSInvalidStateException'));
    await expect(importInto(kms, key.keyId, randomBytes(32))).rejects.toEqual(
      withCode('IncorrectKeyMaterialException'),
    );
    const again = await importInto(kms, key.keyId, material, { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(again.keyMaterialId).toBe(first.keyMaterialId);
    expect((await kms.decrypt(sealed.ciphertext)).plaintext.toString()).toBe('kept');
  });

  it('keeps PendingDeletion when material is deleted from a key being deleted; a cancel leaves it PendingImport', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ origin: 'EXTERNAL' });
    await importInto(kms, key.keyId, randomBytes(32));
    await kms.scheduleKeyDeletion(key.keyId, 7);
    expect((await kms.deleteImportedKeyMaterial(key.keyId)).key.state).toBe('PendingDeletion');
    expect((await kms.cancelKeyDeletion(key.keyId)).state).toBe('PendingImport');
  });

  it('refuses a second, different material (NEW_KEY_MATERIAL) and automatic or on-demand rotation', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({ origin: 'EXTERNAL' });
    await importInto(kms, key.keyId, randomBytes(32));
    const params = await kms.getParametersForImport(key.keyId, 'RSAES_OAEP_SHA_1', 'RSA_2048');
    await expect(
      kms.importKeyMaterial(key.keyId, {
        importToken: params.importToken,
        encryptedKeyMaterial: wrapFor(params.publicKey, 'RSAES_OAEP_SHA_1', randomBytes(32)),
        expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        importType: 'NEW_KEY_MATERIAL',
      }),
    ).rejects.toEqual(withCode('UnsupportedOperationException'));
    await expect(kms.enableKeyRotation(key.keyId)).rejects.toEqual(withCode('UnsupportedOperationException'));
    await expect(kms.rotateKeyOnDemand(key.keyId)).rejects.toEqual(withCode('UnsupportedOperationException'));
  });

  it('expires material at ValidTo through the due jobs; a re-import of the same material restores the key', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({ origin: 'EXTERNAL' });
    const material = randomBytes(32);
    await importInto(kms, key.keyId, material, { validTo: clock.now() + 2 * DAY_MS });
    const sealed = await kms.encrypt(key.keyId, Buffer.from('until expiry'));
    clock.advance(2 * DAY_MS - 1);
    expect(await kms.runDueJobs()).toEqual({ rotated: 0, deleted: 0, materialsExpired: 0 });
    clock.advance(1);
    expect(await kms.runDueJobs()).toEqual({ rotated: 0, deleted: 0, materialsExpired: 1 });
    expect(await kms.runDueJobs()).toEqual({ rotated: 0, deleted: 0, materialsExpired: 0 });
    const expired = await kms.describeKey(key.keyId);
    expect(expired).toMatchObject({ state: 'PendingImport', imported: { present: false } });
    await expect(kms.decrypt(sealed.ciphertext)).rejects.toEqual(withCode('KMSInvalidStateException'));
    await importInto(kms, key.keyId, material);
    expect((await kms.decrypt(sealed.ciphertext)).plaintext.toString()).toBe('until expiry');
  });
});
