// The KMS engine, composed: one shared context handed to each part (src/kms/engine/), one object for callers.

import { aliasOperations } from './engine/aliases.js';
import { createKmsContext, type KmsEngineDeps } from './engine/context.js';
import { dataKeyOperations } from './engine/data-keys.js';
import { runDueJobs } from './engine/due-jobs.js';
import { encryptionOperations } from './engine/encryption.js';
import { grantOperations } from './engine/grants.js';
import { importOperations } from './engine/import.js';
import { internalOperations } from './engine/internal.js';
import { keyAgreementOperations } from './engine/key-agreement.js';
import { lifecycleOperations } from './engine/lifecycle.js';
import { multiRegionOperations } from './engine/multi-region.js';
import { rewrapUnderCurrentRootKey } from './engine/rewrap.js';
import { rotationOperations } from './engine/rotation.js';
import { signingOperations } from './engine/signing.js';
import { tagPolicyOperations } from './engine/tags-policy.js';

export {
  isReservedAlias,
  looksLikeAlias,
  refuseAliasTarget,
  refuseReservedAlias,
  validateAliasName,
} from './engine/aliases.js';
export type { KmsEngineDeps, KmsRegions } from './engine/context.js';
export type { DataKeyPair } from './engine/data-keys.js';
export { type DecryptResult, type EncryptResult, SYMMETRIC_DEFAULT } from './engine/encryption.js';
export type { CreatedGrant, CreateGrantInput } from './engine/grants.js';
export type { ImportMaterialInput, ImportParameters } from './engine/import.js';
export type { CreateKeyInput } from './engine/lifecycle.js';
export type { MultiRegionView, ReplicateKeyInput } from './engine/multi-region.js';
export { DEFAULT_ROTATION_DAYS, MAX_ON_DEMAND_ROTATIONS, type RotationStatus } from './engine/rotation.js';
export { defaultKeyPolicy } from './engine/tags-policy.js';

export type KmsEngine = ReturnType<typeof createKmsEngine>;

export function createKmsEngine(deps: KmsEngineDeps) {
  const ctx = createKmsContext(deps);
  return {
    partition: ctx.partition,
    arnOf: ctx.arnOf,
    internal: internalOperations(ctx, deps.logger),
    ...lifecycleOperations(ctx),
    ...aliasOperations(ctx),
    ...encryptionOperations(ctx),
    ...dataKeyOperations(ctx),
    ...signingOperations(ctx),
    ...keyAgreementOperations(ctx),
    ...rotationOperations(ctx),
    ...importOperations(ctx),
    ...tagPolicyOperations(ctx),
    ...grantOperations(ctx),
    ...multiRegionOperations(ctx),
    /** Automatic rotations, deletions and material expiries that are due (src/kms/engine/due-jobs.ts). */
    runDueJobs: (limit?: number) => runDueJobs(ctx, limit),
    /** Re-wraps every key version under the current root key (src/kms/engine/rewrap.ts). */
    rewrapUnderCurrentRootKey: (batch?: number) => rewrapUnderCurrentRootKey(ctx, batch),
  };
}
