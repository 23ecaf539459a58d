// Key material: generating it for a spec and turning unwrapped bytes into usable key objects.
import { AeadKey, AsymmetricKey, generateKeyPairInsecure, MacKey, randomKeyBytesInsecure } from '../crypto/index.js';
import { HMAC_KEY_BYTES, isAsymmetricSpec, type KeySpec, SPEC_INFO } from './key-specs.js';

export type Material = AeadKey | MacKey | AsymmetricKey;

/** Fresh material: 32 random bytes (AES), hash-length bytes (HMAC) or a PKCS#8 private key. */
export function generateMaterialInsecure(spec: KeySpec): Buffer {
  if (isAsymmetricSpec(spec)) return generateKeyPairInsecure(spec).privateKeyDer;
  if (SPEC_INFO[spec].kind === 'hmac') return randomKeyBytesInsecure(HMAC_KEY_BYTES[spec]!);
  return randomKeyBytesInsecure(32);
}

/**
 * Turns unwrapped material into a key object, then zeroes `bytes`: the key objects hold their own
 * copy, so the plaintext material does not linger in the heap beside them.
 */
export function loadMaterialInsecure(spec: KeySpec, bytes: Buffer): Material {
  try {
    if (isAsymmetricSpec(spec)) return AsymmetricKey.fromPkcs8Insecure(spec, bytes);
    if (SPEC_INFO[spec].kind === 'hmac') return MacKey.fromBytesInsecure(bytes);
    return AeadKey.fromBytesInsecure(bytes);
  } finally {
    bytes.fill(0);
  }
}
