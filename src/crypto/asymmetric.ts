// Asymmetric KMS keys (RSA, ECC, Ed25519): generation, signing and RSA-OAEP with AWS KMS semantics.
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  publicEncrypt,
  type SignKeyObjectInput,
  timingSafeEqual,
} from 'node:crypto';
import type { ECDSA } from '@noble/curves/abstract/weierstrass.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { DecryptionError } from './errors.js';
import { type PssHash, pssEncode, pssVerify } from './pss.js';

export type AsymmetricKeySpec =
  | 'RSA_2048'
  | 'RSA_3072'
  | 'RSA_4096'
  | 'ECC_NIST_P256'
  | 'ECC_NIST_P384'
  | 'ECC_NIST_P521'
  | 'ECC_SECG_P256K1'
  | 'ECC_NIST_EDWARDS25519';
export type SigningAlgorithm =
  | 'RSASSA_PSS_SHA_256'
  | 'RSASSA_PSS_SHA_384'
  | 'RSASSA_PSS_SHA_512'
  | 'RSASSA_PKCS1_V1_5_SHA_256'
  | 'RSASSA_PKCS1_V1_5_SHA_384'
  | 'RSASSA_PKCS1_V1_5_SHA_512'
  | 'ECDSA_SHA_256'
  | 'ECDSA_SHA_384'
  | 'ECDSA_SHA_512'
  | 'ED25519_SHA_512';
export type RsaEncryptionAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256';
export type MessageType = 'RAW' | 'DIGEST';

type SpecInfo =
  | { kind: 'rsa'; bits: number }
  | { kind: 'ec'; curve: string; ecdsa: ECDSA; algorithm: SigningAlgorithm }
  | { kind: 'ed25519' };

// Curve names as node reports them in asymmetricKeyDetails; AWS pairs each curve with one hash.
const SPECS: Record<AsymmetricKeySpec, SpecInfo> = {
  RSA_2048: { kind: 'rsa', bits: 2048 },
  RSA_3072: { kind: 'rsa', bits: 3072 },
  RSA_4096: { kind: 'rsa', bits: 4096 },
  ECC_NIST_P256: { kind: 'ec', curve: 'prime256v1', ecdsa: p256, algorithm: 'ECDSA_SHA_256' },
  ECC_NIST_P384: { kind: 'ec', curve: 'secp384r1', ecdsa: p384, algorithm: 'ECDSA_SHA_384' },
  ECC_NIST_P521: { kind: 'ec', curve: 'secp521r1', ecdsa: p521, algorithm: 'ECDSA_SHA_512' },
  ECC_SECG_P256K1: { kind: 'ec', curve: 'secp256k1', ecdsa: secp256k1, algorithm: 'ECDSA_SHA_256' },
  ECC_NIST_EDWARDS25519: { kind: 'ed25519' },
};

type Scheme = 'pss' | 'pkcs1' | 'ecdsa' | 'ed25519';
type AlgorithmInfo = { scheme: Scheme; hash: PssHash };

const ALGORITHMS: Record<SigningAlgorithm, AlgorithmInfo> = {
  RSASSA_PSS_SHA_256: { scheme: 'pss', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { scheme: 'pss', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { scheme: 'pss', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { scheme: 'pkcs1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { scheme: 'pkcs1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { scheme: 'pkcs1', hash: 'sha512' },
  ECDSA_SHA_256: { scheme: 'ecdsa', hash: 'sha256' },
  ECDSA_SHA_384: { scheme: 'ecdsa', hash: 'sha384' },
  ECDSA_SHA_512: { scheme: 'ecdsa', hash: 'sha512' },
  // Pure Ed25519 hashes internally with SHA-512 and cannot sign a digest
  ED25519_SHA_512: { scheme: 'ed25519', hash: 'sha512' },
};

const HASH_BYTES: Record<PssHash, number> = { sha256: 32, sha384: 48, sha512: 64 };

// DER DigestInfo headers (RFC 8017 §9.2 note 1); the digest follows them.
const DIGEST_INFO_PREFIX: Record<PssHash, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

const OAEP: Record<RsaEncryptionAlgorithm, { hash: string; hashBytes: number }> = {
  RSAES_OAEP_SHA_1: { hash: 'sha1', hashBytes: 20 },
  RSAES_OAEP_SHA_256: { hash: 'sha256', hashBytes: 32 },
};

function specInfo(spec: AsymmetricKeySpec): SpecInfo {
  const info = SPECS[spec];
  if (info === undefined) throw new TypeError(`unknown key spec ${spec}`);
  return info;
}

function algorithmInfo(alg: SigningAlgorithm): AlgorithmInfo {
  const info = ALGORITHMS[alg];
  if (info === undefined) throw new TypeError(`unknown signing algorithm ${alg}`);
  return info;
}

/** Fresh key pair. privateKeyDer = PKCS#8 DER, publicKeyDer = SubjectPublicKeyInfo DER. */
export function generateKeyPairInsecure(spec: AsymmetricKeySpec): { privateKeyDer: Buffer; publicKeyDer: Buffer } {
  const info = specInfo(spec);
  const publicKeyEncoding = { type: 'spki', format: 'der' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'der' } as const;
  const pair =
    info.kind === 'rsa'
      ? generateKeyPairSync('rsa', {
          modulusLength: info.bits,
          publicExponent: 0x10001,
          publicKeyEncoding,
          privateKeyEncoding,
        })
      : info.kind === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: info.curve, publicKeyEncoding, privateKeyEncoding })
        : generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding });
  return { privateKeyDer: pair.privateKey, publicKeyDer: pair.publicKey };
}

/** Digest length in bytes that DIGEST messages must have for this algorithm; undefined for Ed25519 (RAW only). */
export function digestLength(alg: SigningAlgorithm): number | undefined {
  const { scheme, hash } = algorithmInfo(alg);
  return scheme === 'ed25519' ? undefined : HASH_BYTES[hash];
}

/** Maximum RSA-OAEP plaintext: k − 2·hLen − 2 (RFC 8017 §7.1.1). */
export function maxRsaPlaintext(spec: AsymmetricKeySpec, alg: RsaEncryptionAlgorithm): number {
  const info = specInfo(spec);
  const oaep = OAEP[alg];
  if (info.kind !== 'rsa' || oaep === undefined) throw new TypeError(`${alg} does not apply to ${spec}`);
  return info.bits / 8 - 2 * oaep.hashBytes - 2;
}

/** RSA PSS uses salt length = digest length on the RAW path too, as AWS KMS does. */
function nodeKeyInput(scheme: Scheme, key: KeyObject): KeyObject | SignKeyObjectInput {
  return scheme === 'pss'
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : key;
}

/** The EC key as noble wants it: raw scalar and uncompressed point. */
type EcKey = { ecdsa: ECDSA; secret: Uint8Array; point: Uint8Array };

/**
 * A private asymmetric key. Node KeyObjects (and for ECC the raw scalar) are made once: re-importing
 * per operation is 3-9x slower. inspect/JSON never show key bytes.
 */
export class AsymmetricKey {
  readonly spec: AsymmetricKeySpec;
  readonly #info: SpecInfo;
  readonly #private: KeyObject;
  readonly #public: KeyObject;
  readonly #publicDer: Buffer;
  readonly #ec: EcKey | undefined;

  private constructor(spec: AsymmetricKeySpec, info: SpecInfo, privateKey: KeyObject, ec: EcKey | undefined) {
    this.spec = spec;
    this.#info = info;
    this.#private = privateKey;
    this.#public = createPublicKey(privateKey);
    this.#publicDer = this.#public.export({ type: 'spki', format: 'der' });
    this.#ec = ec;
  }

  static fromPkcs8Insecure(spec: AsymmetricKeySpec, privateKeyDer: Buffer): AsymmetricKey {
    const info = specInfo(spec);
    const key = createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
    const details = key.asymmetricKeyDetails;
    // A key that does not match its spec would sign with the wrong size or curve
    const matches =
      info.kind === 'rsa'
        ? key.asymmetricKeyType === 'rsa' && details?.modulusLength === info.bits
        : info.kind === 'ec'
          ? key.asymmetricKeyType === 'ec' && details?.namedCurve === info.curve
          : key.asymmetricKeyType === 'ed25519';
    if (!matches) throw new TypeError(`key material is not a ${spec} key`);
    let ec: EcKey | undefined;
    if (info.kind === 'ec') {
      const jwk = key.export({ format: 'jwk' });
      const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
      ec = {
        ecdsa: info.ecdsa,
        secret: b64(jwk.d),
        point: Buffer.concat([Buffer.of(0x04), b64(jwk.x), b64(jwk.y)]),
      };
    }
    return new AsymmetricKey(spec, info, key, ec);
  }

  publicKeyDer(): Buffer {
    return Buffer.from(this.#publicDer);
  }

  sign(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType): Buffer {
    const { scheme, hash } = this.#checkSigning(alg, message, messageType);
    if (messageType === 'RAW') {
      if (scheme === 'ed25519') return nodeSign(null, message, this.#private);
      return nodeSign(hash, message, nodeKeyInput(scheme, this.#private));
    }
    switch (scheme) {
      case 'pkcs1':
        return privateEncrypt(
          { key: this.#private, padding: constants.RSA_PKCS1_PADDING },
          Buffer.concat([DIGEST_INFO_PREFIX[hash], message]),
        );
      case 'pss':
        return privateEncrypt(
          { key: this.#private, padding: constants.RSA_NO_PADDING },
          pssEncode(hash, message, this.#rsaBits()),
        );
      default: {
        // ECDSA; Ed25519 DIGEST was rejected by #checkSigning
        const ec = this.#ec!;
        // Hedged RFC 6979 nonces: deterministic plus fresh randomness, like AWS's non-deterministic output
        const sig = ec.ecdsa.sign(message, ec.secret, { prehash: false, format: 'der', extraEntropy: true });
        return Buffer.from(sig);
      }
    }
  }

  /** False on any bad or malformed signature; throws TypeError only for a wrong algorithm or digest length. */
  verify(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType, signature: Uint8Array): boolean {
    const { scheme, hash } = this.#checkSigning(alg, message, messageType);
    try {
      // RFC 8017: an RSA signature is exactly modulus-length; OpenSSL would also take one with its
      // leading zero bytes dropped.
      if ((scheme === 'pkcs1' || scheme === 'pss') && signature.length !== this.#rsaBits() / 8) return false;
      if (messageType === 'RAW') {
        if (scheme === 'ed25519') return nodeVerify(null, message, this.#public, signature);
        return nodeVerify(hash, message, nodeKeyInput(scheme, this.#public), signature);
      }
      switch (scheme) {
        case 'pkcs1': {
          const decoded = publicDecrypt({ key: this.#public, padding: constants.RSA_PKCS1_PADDING }, signature);
          const expected = Buffer.concat([DIGEST_INFO_PREFIX[hash], message]);
          return decoded.length === expected.length && timingSafeEqual(decoded, expected);
        }
        case 'pss': {
          const block = publicDecrypt({ key: this.#public, padding: constants.RSA_NO_PADDING }, signature);
          return pssVerify(hash, message, block, this.#rsaBits());
        }
        default: {
          // ECDSA; Ed25519 DIGEST was rejected by #checkSigning
          const ec = this.#ec!;
          // lowS off: OpenSSL and AWS KMS produce high-S signatures half the time, and they are valid
          return ec.ecdsa.verify(signature, message, ec.point, { prehash: false, format: 'der', lowS: false });
        }
      }
    } catch {
      return false;
    }
  }

  encrypt(alg: RsaEncryptionAlgorithm, plaintext: Uint8Array): Buffer {
    if (plaintext.length > maxRsaPlaintext(this.spec, alg)) throw new TypeError(`plaintext too long for ${alg}`);
    return publicEncrypt(
      { key: this.#public, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP[alg].hash },
      plaintext,
    );
  }

  /** Throws DecryptionError on any failure, never anything else (even for a non-RSA key or unknown algorithm). */
  decrypt(alg: RsaEncryptionAlgorithm, ciphertext: Uint8Array): Buffer {
    const oaep = OAEP[alg];
    // Checked here because node would default a missing oaepHash to SHA-1, and would left-pad a short ciphertext
    if (this.#info.kind !== 'rsa' || oaep === undefined || ciphertext.length !== this.#info.bits / 8) {
      throw new DecryptionError();
    }
    try {
      return privateDecrypt(
        { key: this.#private, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaep.hash },
        ciphertext,
      );
    } catch {
      throw new DecryptionError();
    }
  }

  toString(): string {
    return '[AsymmetricKey REDACTED]';
  }
  toJSON(): string {
    return '[AsymmetricKey REDACTED]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[AsymmetricKey REDACTED]';
  }

  /** Rejects algorithms AWS KMS does not offer for this key spec, and DIGEST messages of the wrong length. */
  #checkSigning(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType): AlgorithmInfo {
    const info = algorithmInfo(alg);
    const allowed =
      this.#info.kind === 'rsa'
        ? info.scheme === 'pss' || info.scheme === 'pkcs1'
        : this.#info.kind === 'ec'
          ? alg === this.#info.algorithm
          : info.scheme === 'ed25519';
    if (!allowed) throw new TypeError(`${alg} does not apply to ${this.spec}`);
    if (messageType === 'DIGEST') {
      const length = digestLength(alg);
      if (length === undefined) throw new TypeError(`${alg} signs RAW messages only`);
      if (message.length !== length) throw new TypeError(`${alg} digests are ${length} bytes`);
    } else if (messageType !== 'RAW') {
      throw new TypeError(`unknown message type ${messageType}`);
    }
    return info;
  }

  #rsaBits(): number {
    if (this.#info.kind !== 'rsa') throw new TypeError(`${this.spec} is not an RSA key`);
    return this.#info.bits;
  }
}
