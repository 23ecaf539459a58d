// The secrets domain's public surface.
export { type SecretsApiContext, secretsOperations } from './api.js';
export { createSecretsEngine, type SecretsEngine } from './engine.js';
export { DEFAULT_KMS_ALIAS } from './envelope.js';
export {
  checkReplicaRegions,
  type ReplicaRegionInput,
  type ReplicationPort,
  regionOfArn,
  replicaWriteRefused,
} from './replication.js';
export {
  createRotation,
  type Rotation,
  type RotationAuthorizer,
  type RotationKeys,
  rotationPrincipalOf,
} from './rotation.js';
export { parseWebhookAllowEntry } from './rotators/webhook.js';
export {
  type ReplicaRecord,
  type RotationConnectionPin,
  type RotationPrincipalRecord,
  type RotationRulesRecord,
  type RotationStep,
  type SecretChange,
  type SecretEvent,
  type SecretEventType,
  type SecretRecord,
  type SecretRotationRecord,
  type SecretsStore,
  type SecretTag,
  type SecretVersionRecord,
  secretDueAt,
} from './store.js';
