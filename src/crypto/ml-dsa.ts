// ML-DSA (FIPS 204) KMS keys: ML_DSA_44/65/87 with ML_DSA_SHAKE_256, key encodings as RFC 9881 defines them.
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { fillRandom } from './random.js';
import { checkMessage, type MessageType, type SigningAlgorithm } from './signing-algorithms.js';

export type MlDsaSpec = 'ML_DSA_44' | 'ML_DSA_65' | 'ML_DSA_87';
type Dsa = typeof ml_dsa44;

// id-ml-dsa-44/65/87: 2.16.840.1.101.3.4.3.17/18/19 (NIST CSOR), the OIDs AWS KMS puts in GetPublicKey's SPKI
const oid = (last: number) => Buffer.from([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, last]);
const SPECS: Record<MlDsaSpec, { dsa: Dsa; oid: Buffer }> = {
  ML_DSA_44: { dsa: ml_dsa44, oid: oid(0x11) },
  ML_DSA_65: { dsa: ml_dsa65, oid: oid(0x12) },
  ML_DSA_87: { dsa: ml_dsa87, oid: oid(0x13) },
};
const SEED_BYTES = 32;

export const isMlDsaSpec = (spec: string): spec is MlDsaSpec => Object.hasOwn(SPECS, spec);

/** DER TLV with a definite length (the lengths here stay below 64 KiB). */
function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

/** OneAsymmetricKey v0 holding the 32-byte seed (`seed [0] IMPLICIT OCTET STRING`, RFC 9881 §6). */
function pkcs8(spec: MlDsaSpec, seed: Uint8Array): Buffer {
  const algorithm = tlv(0x30, SPECS[spec].oid);
  return tlv(0x30, Buffer.from([0x02, 0x01, 0x00]), algorithm, tlv(0x04, tlv(0x80, seed)));
}

/** SubjectPublicKeyInfo: the algorithm without parameters, the raw public key as the BIT STRING. */
export function mlDsaSpki(spec: MlDsaSpec, publicKey: Uint8Array): Buffer {
  return tlv(0x30, tlv(0x30, SPECS[spec].oid), tlv(0x03, Buffer.of(0), publicKey));
}

/** A fresh ML-DSA private key as PKCS#8 DER (seed form). */
export function generateMlDsaPkcs8Insecure(spec: MlDsaSpec): Buffer {
  const seed = Buffer.alloc(SEED_BYTES);
  fillRandom(seed);
  try {
    return pkcs8(spec, seed);
  } finally {
    seed.fill(0);
  }
}

/** The seed from our own PKCS#8 encoding; anything else (or another parameter set's OID) is refused. */
function seedOf(spec: MlDsaSpec, der: Uint8Array): Uint8Array {
  const expected = pkcs8(spec, new Uint8Array(SEED_BYTES));
  const prefix = expected.subarray(0, expected.length - SEED_BYTES);
  if (der.length !== expected.length || !Buffer.from(der.subarray(0, prefix.length)).equals(prefix)) {
    throw new TypeError(`key material is not a ${spec} key`);
  }
  return der.subarray(prefix.length);
}

/** A private ML-DSA key, expanded once from its seed. inspect/JSON never show key bytes. */
export class MlDsaKey {
  readonly spec: MlDsaSpec;
  readonly #dsa: Dsa;
  readonly #secret: Uint8Array;
  readonly #public: Uint8Array;

  private constructor(spec: MlDsaSpec, seed: Uint8Array) {
    this.spec = spec;
    this.#dsa = SPECS[spec].dsa;
    const pair = this.#dsa.keygen(seed);
    this.#secret = pair.secretKey;
    this.#public = pair.publicKey;
  }

  static fromPkcs8Insecure(spec: MlDsaSpec, der: Uint8Array): MlDsaKey {
    if (!isMlDsaSpec(spec)) throw new TypeError(`unknown key spec ${spec}`);
    return new MlDsaKey(spec, seedOf(spec, der));
  }

  publicKeyDer(): Buffer {
    return mlDsaSpki(this.spec, this.#public);
  }

  /** Hedged signing (fresh randomness per signature), RAW with the empty context, or a 64-byte external µ. */
  sign(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType): Buffer {
    this.#check(alg, message, messageType);
    const sig =
      messageType === 'EXTERNAL_MU'
        ? this.#dsa.internal.sign(message, this.#secret, { externalMu: true })
        : this.#dsa.sign(message, this.#secret);
    return Buffer.from(sig);
  }

  /** False on any bad or malformed signature; throws TypeError only for a wrong algorithm or message type. */
  verify(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType, signature: Uint8Array): boolean {
    this.#check(alg, message, messageType);
    if (signature.length !== this.#dsa.lengths.signature) return false;
    try {
      return messageType === 'EXTERNAL_MU'
        ? this.#dsa.internal.verify(signature, message, this.#public, { externalMu: true })
        : this.#dsa.verify(signature, message, this.#public);
    } catch {
      return false;
    }
  }

  toString(): string {
    return '[MlDsaKey REDACTED]';
  }
  toJSON(): string {
    return '[MlDsaKey REDACTED]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[MlDsaKey REDACTED]';
  }

  #check(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType): void {
    if (alg !== 'ML_DSA_SHAKE_256') throw new TypeError(`${alg} does not apply to ${this.spec}`);
    checkMessage(alg, message, messageType);
  }
}
