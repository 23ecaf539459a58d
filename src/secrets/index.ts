// The secrets domain's public surface.
export { type SecretsApiContext, secretsOperations } from './api.js';
export { createSecretsEngine, DEFAULT_KMS_ALIAS, type SecretsEngine } from './engine.js';
export { createRotation, type Rotation } from './rotation.js';
