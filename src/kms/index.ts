// The KMS domain's public surface.
export { keyMetadata, kmsOperations } from './api.js';
export {
  type CreateKeyInput,
  createKmsEngine,
  defaultKeyPolicy,
  isReservedAlias,
  type KmsEngine,
  type KmsEngineDeps,
  type KmsRegions,
} from './engine.js';
export { KEY_SPECS, KEY_USAGES, type KeySpec, type KeyUsage } from './key-specs.js';
export {
  INTERNAL_KEY_POLICY,
  INTERNAL_KEYS,
  type InternalKeySpec,
  internalKey,
  madeByKeysafe,
} from './managed-key.js';
export {
  type AliasRecord,
  type ExpirationModel,
  GRANT_OPERATIONS,
  type GrantConstraints,
  type GrantInsert,
  type GrantOperation,
  type GrantQuota,
  type GrantRecord,
  type ImportedMaterial,
  type InternalKeyRecord,
  type KeyRecord,
  type KeyState,
  type KeyUsageRecord,
  type KeyVersionRecord,
  type KmsGrantStore,
  type KmsStore,
  materialExpiresAt,
  type Tag,
} from './store.js';
