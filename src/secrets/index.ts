// The secrets domain's public surface.
export { type SecretsApiContext, secretsOperations } from './api.js';
export { createSecretsEngine, type SecretsEngine } from './engine.js';
export { DEFAULT_KMS_ALIAS } from './envelope.js';
export { createRotation, type Rotation } from './rotation.js';
