// The crypto module's public surface: the only door to node:crypto for the rest of Keysafe.
export { AEAD_KEY_BYTES, AeadKey } from './aead.js';
export {
  AsymmetricKey,
  type AsymmetricKeySpec,
  generateKeyPairInsecure,
  generatePrivateKeyInsecure,
  loadPrivateKeyInsecure,
  maxRsaPlaintext,
  type PrivateKeySpec,
  type RsaEncryptionAlgorithm,
} from './asymmetric.js';
export { CIPHERTEXT_OVERHEAD, openCiphertext, parseCiphertextHeader, sealCiphertext } from './ciphertext.js';
export { type EncryptionContext, encodeEncryptionContext } from './encryption-context.js';
export { openEnvelope, purposeAad, sealEnvelope } from './envelope.js';
export { DecryptionError, PeerKeyError } from './errors.js';
export { constantTimeEqual, hmacSha256, hmacSha256Hex, sha256Hex } from './hash.js';
export {
  generateWrappingKeyPair,
  isPkcs8PrivateKey,
  keyMaterialId,
  unwrapImportedMaterialInsecure,
  WRAPPING_ALGORITHMS,
  WRAPPING_KEY_SPECS,
  type WrappingAlgorithm,
  type WrappingKeyPair,
  type WrappingKeySpec,
} from './key-import.js';
export { type MacAlgorithm, MacKey } from './mac.js';
export { MlDsaKey, type MlDsaSpec } from './ml-dsa.js';
export { md5PasswordVerifier, scramSha256Verifier } from './postgres-verifiers.js';
export {
  fillRandom,
  newUuid,
  randomBase32,
  randomHex,
  randomIndex,
  randomKeyBytesInsecure,
  randomToken,
} from './random.js';
export { RootKey, RootKeyring, type WrappedMaterial } from './root-key.js';
export { createSelfSignedCert, type SelfSignedCert } from './self-signed-cert.js';
export {
  digestLength,
  type MessageType,
  messageRule,
  type SigningAlgorithm,
} from './signing-algorithms.js';
