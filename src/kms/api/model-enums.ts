// The KMS model's enum value sets, in the model's order: AWS names the whole set when a value is outside it.
// From botocore 1.43.11's kms/2014-11-01 model; test/api/model-constraints.test.ts holds them to the model.

export const KEY_USAGE_TYPE = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
const SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521'] as const;
export const CUSTOMER_MASTER_KEY_SPEC = [
  ...SPECS,
  'ECC_SECG_P256K1',
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'SM2',
] as const;
export const KEY_SPEC = [...CUSTOMER_MASTER_KEY_SPEC, 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ECC_NIST_EDWARDS25519'];
export const ENCRYPTION_ALGORITHM_SPEC = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'];
export const DATA_KEY_PAIR_SPEC = [...SPECS, 'ECC_SECG_P256K1', 'SM2', 'ECC_NIST_EDWARDS25519'];
export const MESSAGE_TYPE = ['RAW', 'DIGEST', 'EXTERNAL_MU'];
export const SIGNING_ALGORITHM_SPEC = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'SM2DSA',
  'ML_DSA_SHAKE_256',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
];
