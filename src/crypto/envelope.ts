// Envelope encryption's local half: one item sealed under its own data key, the key zeroed after use.
//
// The caller gets the data key from KMS (and stores it wrapped); this module only ever sees the
// plaintext data key, for as long as one seal or open takes. Layout: nonce ‖ ciphertext ‖ tag.
import { AeadKey } from './aead.js';
import { DecryptionError } from './errors.js';

/**
 * The associated data that binds a sealed item to its purpose and place: `label NUL field NUL …`
 * (e.g. `keysafe:secret-value:v1`, ARN, version id), so an item moved elsewhere fails to open.
 */
export function purposeAad(label: string, ...fields: (string | number)[]): Buffer {
  return Buffer.from([label, ...fields].join('\0'), 'utf8');
}

/** AES-256-GCM under `dataKey`, which is zeroed before this returns or throws. */
export function sealEnvelope(dataKey: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  try {
    return AeadKey.fromBytesInsecure(dataKey).seal(plaintext, aad);
  } finally {
    dataKey.fill(0);
  }
}

/** Opens what sealEnvelope made and zeroes `dataKey`; any failure is the one opaque DecryptionError. */
export function openEnvelope(dataKey: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
  try {
    return AeadKey.fromBytesInsecure(dataKey).open(sealed, aad);
  } catch {
    throw new DecryptionError();
  } finally {
    dataKey.fill(0);
  }
}
