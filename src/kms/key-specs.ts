// Which key specs exist, which usages and algorithms each allows, and how big their material is.
import type { AsymmetricKeySpec, PrivateKeySpec } from '../crypto/index.js';

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
  'ML_DSA_44',
  'ML_DSA_65',
  'ML_DSA_87',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
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
/** Every SigningAlgorithm name AWS defines (SM2DSA is named, and no key here has it: see SM2 below). */
export const SIGNING_ALGORITHMS = [
  ...RSA_SIGNING,
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'SM2DSA',
  'ML_DSA_SHAKE_256',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
] as const;
export const KEY_AGREEMENT_ALGORITHMS = ['ECDH'] as const;
/**
 * SM2 (and SM2DSA, SM2PKE) exist in AWS's China Regions only, and no well-kept JavaScript library
 * implements SM2/SM3: CreateKey refuses it as AWS outside China does.
 */
export const CHINA_ONLY_KEY_SPECS = ['SM2'] as const;
const rsa: SpecInfo = { kind: 'asymmetric', usages: { ENCRYPT_DECRYPT: RSA_ENCRYPTION, SIGN_VERIFY: RSA_SIGNING } };
const ecc = (alg: string): SpecInfo => ({ kind: 'asymmetric', usages: { SIGN_VERIFY: [alg] } });
// NIST curves sign or agree keys (one usage per key); ECC_SECG_P256K1 only signs, as in AWS's CreateKey docs.
const nist = (alg: string): SpecInfo => ({
  kind: 'asymmetric',
  usages: { SIGN_VERIFY: [alg], KEY_AGREEMENT: ['ECDH'] },
});
const mlDsa: SpecInfo = { kind: 'asymmetric', usages: { SIGN_VERIFY: ['ML_DSA_SHAKE_256'] } };
const hmac = (alg: string): SpecInfo => ({ kind: 'hmac', usages: { GENERATE_VERIFY_MAC: [alg] } });

export const SPEC_INFO: Record<KeySpec, SpecInfo> = {
  SYMMETRIC_DEFAULT: { kind: 'symmetric', usages: { ENCRYPT_DECRYPT: ['SYMMETRIC_DEFAULT'] } },
  RSA_2048: rsa,
  RSA_3072: rsa,
  RSA_4096: rsa,
  ECC_NIST_P256: nist('ECDSA_SHA_256'),
  ECC_NIST_P384: nist('ECDSA_SHA_384'),
  ECC_NIST_P521: nist('ECDSA_SHA_512'),
  ECC_SECG_P256K1: ecc('ECDSA_SHA_256'),
  // ED25519_SHA_512 signs RAW messages only, ED25519_PH_SHA_512 (Ed25519ph, via noble) DIGESTs only
  ECC_NIST_EDWARDS25519: { kind: 'asymmetric', usages: { SIGN_VERIFY: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'] } },
  ML_DSA_44: mlDsa,
  ML_DSA_65: mlDsa,
  ML_DSA_87: mlDsa,
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

export const isAsymmetricSpec = (spec: KeySpec): spec is KeySpec & PrivateKeySpec =>
  SPEC_INFO[spec].kind === 'asymmetric';
