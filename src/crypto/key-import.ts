// Importing key material (BYOK): RSA wrapping key pairs, unwrapping RSA-OAEP and RSA + AES key wrap (RFC 5649), material ids.
import { constants, createDecipheriv, createPrivateKey, generateKeyPair, hash, privateDecrypt } from 'node:crypto';
import { DecryptionError } from './errors.js';

export type WrappingKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
export type WrappingAlgorithm =
  | 'RSAES_OAEP_SHA_1'
  | 'RSAES_OAEP_SHA_256'
  | 'RSA_AES_KEY_WRAP_SHA_1'
  | 'RSA_AES_KEY_WRAP_SHA_256';

export const WRAPPING_KEY_SPECS: readonly WrappingKeySpec[] = ['RSA_2048', 'RSA_3072', 'RSA_4096'];
export const WRAPPING_ALGORITHMS: readonly WrappingAlgorithm[] = [
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
];

const BITS: Record<WrappingKeySpec, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };
const OAEP_HASH: Record<WrappingAlgorithm, 'sha1' | 'sha256'> = {
  RSAES_OAEP_SHA_1: 'sha1',
  RSAES_OAEP_SHA_256: 'sha256',
  RSA_AES_KEY_WRAP_SHA_1: 'sha1',
  RSA_AES_KEY_WRAP_SHA_256: 'sha256',
};
// RFC 5649's alternative initial value: node's wrap-pad ciphers take its first 4 bytes as the IV.
const KWP_IV = Buffer.from('A65959A6', 'hex');
const KWP_CIPHERS: Record<number, string> = {
  16: 'id-aes128-wrap-pad',
  24: 'id-aes192-wrap-pad',
  32: 'id-aes256-wrap-pad',
};

export interface WrappingKeyPair {
  /** SubjectPublicKeyInfo DER: what GetParametersForImport returns. */
  publicKeyDer: Buffer;
  /** PKCS#8 DER: sealed into the import token, never stored. */
  privateKeyDer: Buffer;
}

/** A fresh RSA wrapping key pair, generated off the event loop (RSA-4096 takes seconds). */
export function generateWrappingKeyPair(spec: WrappingKeySpec): Promise<WrappingKeyPair> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength: BITS[spec],
        publicExponent: 0x10001,
        publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'der' },
      },
      (err, publicKeyDer, privateKeyDer) => {
        if (err) reject(err);
        else resolve({ publicKeyDer, privateKeyDer });
      },
    );
  });
}

function oaepDecrypt(privateKeyDer: Buffer, algorithm: WrappingAlgorithm, data: Uint8Array): Buffer {
  const key = createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
  return privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[algorithm] }, data);
}

function kwpUnwrap(aesKey: Buffer, wrapped: Uint8Array): Buffer {
  const cipher = KWP_CIPHERS[aesKey.length];
  if (cipher === undefined) throw new DecryptionError();
  const decipher = createDecipheriv(cipher, aesKey, KWP_IV);
  return Buffer.concat([decipher.update(wrapped), decipher.final()]);
}

/**
 * The key material inside `encrypted`: RSA-OAEP of the material itself (RSAES_OAEP_*), or RSA-OAEP
 * of an AES key followed by the material under AES key wrap with padding (RSA_AES_KEY_WRAP_*).
 * Any failure is the one opaque DecryptionError.
 */
export function unwrapImportedMaterialInsecure(
  privateKeyDer: Buffer,
  algorithm: WrappingAlgorithm,
  encrypted: Uint8Array,
): Buffer {
  try {
    if (algorithm === 'RSAES_OAEP_SHA_1' || algorithm === 'RSAES_OAEP_SHA_256') {
      return oaepDecrypt(privateKeyDer, algorithm, encrypted);
    }
    const modulusBytes =
      (createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' }).asymmetricKeyDetails?.modulusLength ??
        0) / 8;
    if (encrypted.length <= modulusBytes) throw new DecryptionError();
    const aesKey = oaepDecrypt(privateKeyDer, algorithm, encrypted.subarray(0, modulusBytes));
    try {
      return kwpUnwrap(aesKey, encrypted.subarray(modulusBytes));
    } finally {
      aesKey.fill(0);
    }
  } catch {
    throw new DecryptionError();
  }
}

/**
 * The id of imported material: SHA-256 over the key id and the material (64 hex digits, as AWS's
 * KeyMaterialId). It also serves as the fingerprint re-imports are checked against: it cannot
 * give the material back, and the key id in it makes ids of the same material differ per key.
 */
export function keyMaterialId(keyId: string, material: Uint8Array): string {
  const prefix = Buffer.from(`keysafe:imported-key-material:v1\0${keyId}\0`, 'utf8');
  return hash('sha256', Buffer.concat([prefix, material]), 'hex');
}

/** Whether `der` is a PKCS#8 private key node can read (the format asymmetric key material is imported in). */
export function isPkcs8PrivateKey(der: Buffer): boolean {
  try {
    createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    return true;
  } catch {
    return false;
  }
}
