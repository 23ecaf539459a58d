// HMAC for GenerateMac/VerifyMac, with constant-time verification.
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

export type MacAlgorithm = 'HMAC_SHA_224' | 'HMAC_SHA_256' | 'HMAC_SHA_384' | 'HMAC_SHA_512';

const HASH: Record<MacAlgorithm, string> = {
  HMAC_SHA_224: 'sha224',
  HMAC_SHA_256: 'sha256',
  HMAC_SHA_384: 'sha384',
  HMAC_SHA_512: 'sha512',
};

/** An HMAC key; the KeyObject is built once, and inspect/JSON never show key bytes. */
export class MacKey {
  readonly #key: KeyObject;
  private constructor(key: KeyObject) {
    this.#key = key;
  }
  static fromBytesInsecure(bytes: Uint8Array): MacKey {
    return new MacKey(createSecretKey(bytes));
  }
  generate(alg: MacAlgorithm, message: Uint8Array): Buffer {
    return createHmac(HASH[alg], this.#key).update(message).digest();
  }
  verify(alg: MacAlgorithm, message: Uint8Array, mac: Uint8Array): boolean {
    const expected = this.generate(alg, message);
    return expected.length === mac.length && timingSafeEqual(expected, mac);
  }
  toString(): string {
    return '[MacKey REDACTED]';
  }
  toJSON(): string {
    return '[MacKey REDACTED]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[MacKey REDACTED]';
  }
}
