// The signing algorithms AWS KMS names: their scheme, hash, and which MessageType each accepts at what length.

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
  | 'ED25519_SHA_512'
  | 'ED25519_PH_SHA_512'
  | 'ML_DSA_SHAKE_256';
export type MessageType = 'RAW' | 'DIGEST' | 'EXTERNAL_MU';

export type Scheme = 'pss' | 'pkcs1' | 'ecdsa' | 'ed25519' | 'ed25519ph' | 'ml-dsa';
export type Hash = 'sha256' | 'sha384' | 'sha512' | 'shake256';
export type AlgorithmInfo = { scheme: Scheme; hash: Hash };

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
  // Ed25519ph (RFC 8032 §5.1, HashEdDSA): signs SHA-512 of the message it is given
  ED25519_PH_SHA_512: { scheme: 'ed25519ph', hash: 'sha512' },
  // FIPS 204 pure ML-DSA, empty context; µ = SHAKE256(tr ‖ M′)
  ML_DSA_SHAKE_256: { scheme: 'ml-dsa', hash: 'shake256' },
};

const HASH_BYTES: Record<Hash, number> = { sha256: 32, sha384: 48, sha512: 64, shake256: 64 };

export function algorithmInfo(alg: SigningAlgorithm): AlgorithmInfo {
  const info = ALGORITHMS[alg];
  if (info === undefined) throw new TypeError(`unknown signing algorithm ${alg}`);
  return info;
}

/**
 * How `alg` takes a message of `messageType`, as AWS KMS documents it (Sign's MessageType): 'refused',
 * 'any' (RAW: Keysafe hashes it), or the exact length a digest (DIGEST) or µ (EXTERNAL_MU) must have.
 * ED25519_SHA_512 takes RAW only; ED25519_PH_SHA_512 takes DIGEST only (and still prehashes it, so the
 * digest is hashed twice, as AWS says); ML_DSA_SHAKE_256 takes RAW or a 64-byte EXTERNAL_MU, never DIGEST;
 * the others take RAW or a DIGEST of their hash's length.
 */
export function messageRule(alg: SigningAlgorithm, messageType: MessageType): 'refused' | 'any' | number {
  const { scheme, hash } = algorithmInfo(alg);
  switch (messageType) {
    case 'RAW':
      return scheme === 'ed25519ph' ? 'refused' : 'any';
    case 'DIGEST':
      return scheme === 'ed25519' || scheme === 'ml-dsa' ? 'refused' : HASH_BYTES[hash];
    case 'EXTERNAL_MU':
      return scheme === 'ml-dsa' ? HASH_BYTES[hash] : 'refused';
    default:
      return 'refused';
  }
}

/** Digest length in bytes that DIGEST messages must have for this algorithm; undefined when DIGEST is refused. */
export function digestLength(alg: SigningAlgorithm): number | undefined {
  const rule = messageRule(alg, 'DIGEST');
  return typeof rule === 'number' ? rule : undefined;
}

/** Throws TypeError unless `message` fits `alg` and `messageType` (the engine has checked with AWS's errors). */
export function checkMessage(alg: SigningAlgorithm, message: Uint8Array, messageType: MessageType): void {
  const rule = messageRule(alg, messageType);
  if (rule === 'refused') throw new TypeError(`${alg} does not take MessageType ${messageType}`);
  if (rule !== 'any' && message.length !== rule)
    throw new TypeError(`${alg} ${messageType} messages are ${rule} bytes`);
}
