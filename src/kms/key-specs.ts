// Which key specs exist, which usages and algorithms each allows, and how big their material is.
import type { AsymmetricKeySpec } from '../crypto/index.js';

/** Key pair specs for GenerateDataKeyPair: every asymmetric spec. */
export const DATA_KEY_PAIR_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
] as const satisfies readonly AsymmetricKeySpec[];

export const KEY_SPECS = [
  'SYMMETRIC_DEFAULT',
  ...DATA_KEY_PAIR_SPECS,
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export type KeyKind = 'symmetric' | 'asymmetric' | 'hmac';

export interface SpecInfo {
  kind: KeyKind;
  /** Algorithms per allowed usage. */
  usages: Partial<Record<KeyUsage, readonly string[]>>;
}

const RSA_ENCRYPTION = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;
const RSA_SIGNING = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
] as const;
/** Every SigningAlgorithm name AWS defines (ED25519_PH_SHA_512 is named but refused: see below). */
export const SIGNING_ALGORITHMS = [
  ...RSA_SIGNING,
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
] as const;
const rsa: SpecInfo = { kind: 'asymmetric', usages: { ENCRYPT_DECRYPT: RSA_ENCRYPTION, SIGN_VERIFY: RSA_SIGNING } };
const ecc = (alg: string): SpecInfo => ({ kind: 'asymmetric', usages: { SIGN_VERIFY: [alg] } });
const hmac = (alg: string): SpecInfo => ({ kind: 'hmac', usages: { GENERATE_VERIFY_MAC: [alg] } });

export const SPEC_INFO: Record<KeySpec, SpecInfo> = {
  SYMMETRIC_DEFAULT: { kind: 'symmetric', usages: { ENCRYPT_DECRYPT: ['SYMMETRIC_DEFAULT'] } },
  RSA_2048: rsa,
  RSA_3072: rsa,
  RSA_4096: rsa,
  ECC_NIST_P256: ecc('ECDSA_SHA_256'),
  ECC_NIST_P384: ecc('ECDSA_SHA_384'),
  ECC_NIST_P521: ecc('ECDSA_SHA_512'),
  ECC_SECG_P256K1: ecc('ECDSA_SHA_256'),
  // AWS also names ED25519_PH_SHA_512 (pre-hashed, DIGEST); Node 20's OpenSSL cannot do Ed25519ph.
  ECC_NIST_EDWARDS25519: ecc('ED25519_SHA_512'),
  HMAC_224: hmac('HMAC_SHA_224'),
  HMAC_256: hmac('HMAC_SHA_256'),
  HMAC_384: hmac('HMAC_SHA_384'),
  HMAC_512: hmac('HMAC_SHA_512'),
};

/** HMAC key length equals the hash's output length, as AWS does. */
export const HMAC_KEY_BYTES: Partial<Record<KeySpec, number>> = {
  HMAC_224: 28,
  HMAC_256: 32,
  HMAC_384: 48,
  HMAC_512: 64,
};

export const isAsymmetricSpec = (spec: KeySpec): spec is KeySpec & AsymmetricKeySpec =>
  SPEC_INFO[spec].kind === 'asymmetric';
