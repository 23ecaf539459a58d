// Key material: generating it for a spec and turning unwrapped bytes into usable key objects.
import {
  AeadKey,
  type AsymmetricKey,
  generatePrivateKeyInsecure,
  loadPrivateKeyInsecure,
  MacKey,
  type MlDsaKey,
  randomKeyBytesInsecure,
} from '../crypto/index.js';
import { HMAC_KEY_BYTES, isAsymmetricSpec, type KeySpec, SPEC_INFO } from './key-specs.js';

export type Material = AeadKey | MacKey | AsymmetricKey | MlDsaKey;

/** Fresh material: 32 random bytes (AES), hash-length bytes (HMAC) or a PKCS#8 private key. */
export function generateMaterialInsecure(spec: KeySpec): Buffer {
  if (isAsymmetricSpec(spec)) return generatePrivateKeyInsecure(spec);
  if (SPEC_INFO[spec].kind === 'hmac') return randomKeyBytesInsecure(HMAC_KEY_BYTES[spec]!);
  return randomKeyBytesInsecure(32);
}

/**
 * Turns unwrapped material into a key object, then zeroes `bytes`: the key objects hold their own
 * copy, so the plaintext material does not linger in the heap beside them.
 */
export function loadMaterialInsecure(spec: KeySpec, bytes: Buffer): Material {
  try {
    if (isAsymmetricSpec(spec)) return loadPrivateKeyInsecure(spec, bytes);
    if (SPEC_INFO[spec].kind === 'hmac') return MacKey.fromBytesInsecure(bytes);
    return AeadKey.fromBytesInsecure(bytes);
  } finally {
    bytes.fill(0);
  }
}
