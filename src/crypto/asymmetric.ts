// Asymmetric KMS keys (RSA, ECC, Ed25519; ML-DSA in ml-dsa.ts): generation, signing, RSA-OAEP and ECDH with AWS KMS semantics.
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
import { ed25519ph } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ecdhSharedSecret } from './ecdh.js';
import { DecryptionError } from './errors.js';
import { generateMlDsaPkcs8Insecure, isMlDsaSpec, MlDsaKey, type MlDsaSpec } from './ml-dsa.js';
import { type PssHash, pssEncode, pssVerify } from './pss.js';
import {
  type AlgorithmInfo,
  algorithmInfo,
  checkMessage,
  type Hash,
  type MessageType,
  type Scheme,
  type SigningAlgorithm,
} from './signing-algorithms.js';

/** The specs node:crypto (with noble for ECDSA digests and Ed25519ph) serves in AsymmetricKey. */
export type AsymmetricKeySpec =
  | 'RSA_2048'
  | 'RSA_3072'
  | 'RSA_4096'
  | 'ECC_NIST_P256'
  | 'ECC_NIST_P384'
  | 'ECC_NIST_P521'
  | 'ECC_SECG_P256K1'
  | 'ECC_NIST_EDWARDS25519';
/** Every asymmetric KMS key spec: AsymmetricKey's, and ML-DSA's (MlDsaKey). */
export type PrivateKeySpec = AsymmetricKeySpec | MlDsaSpec;
export type RsaEncryptionAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256';

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

/** A fresh private key as PKCS#8 DER, for any asymmetric spec. */
export function generatePrivateKeyInsecure(spec: PrivateKeySpec): Buffer {
  return isMlDsaSpec(spec) ? generateMlDsaPkcs8Insecure(spec) : generateKeyPairInsecure(spec).privateKeyDer;
}

/** The key object for a spec's PKCS#8 DER: AsymmetricKey, or MlDsaKey for ML-DSA. */
export function loadPrivateKeyInsecure(spec: PrivateKeySpec, der: Buffer): AsymmetricKey | MlDsaKey {
  return isMlDsaSpec(spec) ? MlDsaKey.fromPkcs8Insecure(spec, der) : AsymmetricKey.fromPkcs8Insecure(spec, der);
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

/** The key as noble wants it: ECDSA's raw scalar and uncompressed point, or Ed25519's seed and public key. */
type RawKey = { secret: Uint8Array; point: Uint8Array };

/** The RSA, ECDSA and Ed25519 hashes: never SHAKE (ML-DSA's, in ml-dsa.ts). */
function shaOf(hash: Hash): PssHash {
  if (hash === 'shake256') throw new TypeError('SHAKE256 is ML-DSA only');
  return hash;
}

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
  readonly #raw: RawKey | undefined;

  private constructor(spec: AsymmetricKeySpec, info: SpecInfo, privateKey: KeyObject, raw: RawKey | undefined) {
    this.spec = spec;
    this.#info = info;
    this.#private = privateKey;
    this.#public = createPublicKey(privateKey);
    this.#publicDer = this.#public.export({ type: 'spki', format: 'der' });
    this.#raw = raw;
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
    let raw: RawKey | undefined;
    if (info.kind !== 'rsa') {
      const jwk = key.export({ format: 'jwk' });
      const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
      raw =
        info.kind === 'ec'
          ? { secret: b64(jwk.d), point: Buffer.concat([Buffer.of(0x04), b64(jwk.x), b64(jwk.y)]) }
          : { secret: b64(jwk.d), point: b64(jwk.x) };
    }
    return new AsymmetricKey(spec, info, key, raw);
  }

  publicKeyDer(): Buffer {
    return Buffer.from(this.#publicDer);
  }

  sign(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType): Buffer {
    const { scheme, hash: h } = this.#checkSigning(alg, message, messageType);
    const hash = shaOf(h);
    // Ed25519ph takes DIGEST only and prehashes it again (RFC 8032 §5.1), as AWS documents
    if (scheme === 'ed25519ph') return Buffer.from(ed25519ph.sign(message, this.#raw!.secret));
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
        const ec = this.#raw!;
        // Hedged RFC 6979 nonces: deterministic plus fresh randomness, like AWS's non-deterministic output
        const sig = this.#ecdsa().sign(message, ec.secret, { prehash: false, format: 'der', extraEntropy: true });
        return Buffer.from(sig);
      }
    }
  }

  /** False on any bad or malformed signature; throws TypeError only for a wrong algorithm or digest length. */
  verify(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType, signature: Uint8Array): boolean {
    const { scheme, hash: h } = this.#checkSigning(alg, message, messageType);
    const hash = shaOf(h);
    try {
      if (scheme === 'ed25519ph') return ed25519ph.verify(signature, message, this.#raw!.point);
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
          const ec = this.#raw!;
          // lowS off: OpenSSL and AWS KMS produce high-S signatures half the time, and they are valid
          return this.#ecdsa().verify(signature, message, ec.point, { prehash: false, format: 'der', lowS: false });
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

  /** The raw ECDH shared secret with a peer's DER SPKI public key on this key's curve (PeerKeyError otherwise). */
  deriveSharedSecret(peerSpkiDer: Uint8Array): Buffer {
    if (this.#info.kind !== 'ec') throw new TypeError(`${this.spec} does not do key agreement`);
    return ecdhSharedSecret(this.#private, this.#info.curve, peerSpkiDer);
  }

  /** Rejects algorithms AWS KMS does not offer for this key spec, and messages its MessageType refuses. */
  #checkSigning(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType): AlgorithmInfo {
    const info = algorithmInfo(alg);
    const allowed =
      this.#info.kind === 'rsa'
        ? info.scheme === 'pss' || info.scheme === 'pkcs1'
        : this.#info.kind === 'ec'
          ? alg === this.#info.algorithm
          : info.scheme === 'ed25519' || info.scheme === 'ed25519ph';
    if (!allowed) throw new TypeError(`${alg} does not apply to ${this.spec}`);
    checkMessage(alg, message, messageType);
    return info;
  }

  #ecdsa(): ECDSA {
    if (this.#info.kind !== 'ec') throw new TypeError(`${this.spec} is not an ECDSA key`);
    return this.#info.ecdsa;
  }

  #rsaBits(): number {
    if (this.#info.kind !== 'rsa') throw new TypeError(`${this.spec} is not an RSA key`);
    return this.#info.bits;
  }
}
