// The root of trust: wraps every KMS key version's material under the root key (AES-256-GCM).
import { AEAD_KEY_BYTES, AeadKey, keyFingerprint } from './aead.js';
import { purposeAad } from './envelope.js';
import { randomKeyBytesInsecure } from './random.js';

export interface WrappedMaterial {
  /** Fingerprint of the root key that wrapped it (public). */
  rootKeyId: string;
  wrapped: Buffer;
}

export class RootKey {
  readonly id: string;
  readonly #aead: AeadKey;

  private constructor(bytes: Uint8Array) {
    this.id = keyFingerprint(bytes);
    this.#aead = AeadKey.fromBytesInsecure(bytes);
  }

  static fromBytesInsecure(bytes: Uint8Array): RootKey {
    if (bytes.length !== AEAD_KEY_BYTES) throw new TypeError('a root key is 32 bytes');
    return new RootKey(bytes);
  }

  static generateBytesInsecure(): Buffer {
    return randomKeyBytesInsecure(AEAD_KEY_BYTES);
  }

  wrap(keyId: string, version: number, material: Uint8Array): WrappedMaterial {
    return { rootKeyId: this.id, wrapped: this.#aead.seal(material, materialAad(keyId, version)) };
  }

  /** Throws DecryptionError when the wrapping was made for another key id or version. */
  unwrap(keyId: string, version: number, wrapped: Uint8Array): Buffer {
    return this.#aead.open(wrapped, materialAad(keyId, version));
  }

  /** Seals a short-lived blob of the server's own (an import token) for `aad`: only this root key opens it. */
  sealBlob(plaintext: Uint8Array, aad: Uint8Array): Buffer {
    return this.#aead.seal(plaintext, aad);
  }

  /** Throws DecryptionError when the blob was not sealed by this root key for `aad`. */
  openBlob(sealed: Uint8Array, aad: Uint8Array): Buffer {
    return this.#aead.open(sealed, aad);
  }

  toString(): string {
    return `[RootKey ${this.id}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

// Binds a wrapped blob to its key id and version: swapping rows in the database fails to open.
function materialAad(keyId: string, version: number): Buffer {
  return purposeAad('keysafe:key-material:v1', keyId, version);
}

/**
 * The current root key plus older ones still needed to read material that is being re-wrapped.
 * New material is always wrapped under `current`.
 */
export class RootKeyring {
  #current: RootKey;
  readonly #all = new Map<string, RootKey>();

  constructor(current: RootKey, older: readonly RootKey[] = []) {
    this.#current = current;
    for (const k of [current, ...older]) this.#all.set(k.id, k);
  }

  get current(): RootKey {
    return this.#current;
  }

  get(rootKeyId: string): RootKey | undefined {
    return this.#all.get(rootKeyId);
  }

  /** Makes `next` the key for new wrappings while keeping the old ones readable. */
  promote(next: RootKey): void {
    this.#all.set(next.id, next);
    this.#current = next;
  }

  /** Forgets every root key but the current one, once nothing is wrapped under them. */
  retireOthers(): void {
    for (const id of this.#all.keys()) if (id !== this.#current.id) this.#all.delete(id);
  }
}
