// AES-256-GCM with mandatory associated data: the one symmetric primitive Keysafe uses.
import { createCipheriv, createDecipheriv, createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { DecryptionError } from './errors.js';
import { fillRandom } from './random.js';

export const AEAD_KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes a sealed message adds to its plaintext besides the caller's prefix. */
export const AEAD_OVERHEAD = NONCE_BYTES + TAG_BYTES;

/**
 * An AES-256-GCM key. The node KeyObject is created once: importing per operation costs more
 * than the operation. inspect/JSON never show key bytes.
 */
export class AeadKey {
  readonly #key: KeyObject;

  private constructor(key: KeyObject) {
    this.#key = key;
  }

  static fromBytesInsecure(bytes: Uint8Array): AeadKey {
    if (bytes.length !== AEAD_KEY_BYTES) throw new TypeError('AES-256-GCM keys are 32 bytes');
    return new AeadKey(createSecretKey(bytes));
  }

  /** The raw key bytes, for wrapping under another key. */
  exportInsecure(): Buffer {
    return this.#key.export();
  }

  /**
   * Returns `prefix ‖ nonce ‖ ciphertext ‖ tag`. The prefix (a header) is authenticated along
   * with `aad`, so no byte of the output can change unnoticed.
   */
  seal(plaintext: Uint8Array, aad: Uint8Array, prefix: Uint8Array = EMPTY): Buffer {
    const out = Buffer.allocUnsafe(prefix.length + NONCE_BYTES + plaintext.length + TAG_BYTES);
    out.set(prefix, 0);
    const nonce = out.subarray(prefix.length, prefix.length + NONCE_BYTES);
    fillRandom(nonce);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    if (prefix.length > 0) cipher.setAAD(prefix);
    if (aad.length > 0) cipher.setAAD(aad);
    let offset = prefix.length + NONCE_BYTES;
    offset += cipher.update(plaintext).copy(out, offset);
    offset += cipher.final().copy(out, offset);
    cipher.getAuthTag().copy(out, offset);
    return out;
  }

  /** Opens what `seal` made with the same prefix length and aad; any mismatch is a DecryptionError. */
  open(sealed: Uint8Array, aad: Uint8Array, prefixLength = 0): Buffer {
    if (sealed.length < prefixLength + AEAD_OVERHEAD) throw new DecryptionError();
    const nonce = sealed.subarray(prefixLength, prefixLength + NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(tag);
      if (prefixLength > 0) decipher.setAAD(sealed.subarray(0, prefixLength));
      if (aad.length > 0) decipher.setAAD(aad);
      const body = decipher.update(sealed.subarray(prefixLength + NONCE_BYTES, sealed.length - TAG_BYTES));
      const last = decipher.final();
      return last.length === 0 ? body : Buffer.concat([body, last]);
    } catch {
      throw new DecryptionError();
    }
  }

  toString(): string {
    return '[AeadKey REDACTED]';
  }
  toJSON(): string {
    return '[AeadKey REDACTED]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[AeadKey REDACTED]';
  }
}

const EMPTY = new Uint8Array(0);

/** A short public fingerprint of a key, safe to store and log: names which root key wrapped what. */
export function keyFingerprint(bytes: Uint8Array): string {
  return createHash('sha256').update('keysafe root key id\0').update(bytes).digest('hex').slice(0, 16);
}
