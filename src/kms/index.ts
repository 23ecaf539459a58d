// The KMS domain's public surface.
export { keyMetadata, kmsOperations } from './api.js';
export {
  type CreateKeyInput,
  createKmsEngine,
  defaultKeyPolicy,
  type KmsEngine,
  type KmsEngineDeps,
} from './engine.js';
export { KEY_SPECS, KEY_USAGES, type KeySpec, type KeyUsage } from './key-specs.js';
export { managedKey } from './managed-key.js';
