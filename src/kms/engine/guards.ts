// The checks an operation makes on a key before using or changing it, each failing with AWS's error code.
import { AppError } from '../../core/errors.js';
import { type KeyUsage, SPEC_INFO } from '../key-specs.js';
import type { KeyRecord } from '../store.js';
import type { KmsContext } from './context.js';

/**
 * Keysafe's own keys (session signing, default secrets key, Terraform state key) serve the
 * server only: no caller, the admin included, may use them or change them through the API.
 */
export function refuseInternal(ctx: KmsContext, key: KeyRecord): void {
  if (key.internalPurpose !== undefined) {
    throw new AppError(
      'NotAuthorizedException',
      `${ctx.arnOf(key.keyId)} is a key Keysafe uses for itself; it cannot be used or changed through the API.`,
    );
  }
}

/** Neither pending deletion nor (a multi-Region primary) pending the deletion of its replicas. */
export function requireNotPendingDeletion(ctx: KmsContext, key: KeyRecord): void {
  if (key.state === 'PendingDeletion') {
    throw new AppError('KMSInvalidStateException', `${ctx.arnOf(key.keyId)} is pending deletion.`);
  }
  if (key.state === 'PendingReplicaDeletion') {
    throw new AppError('KMSInvalidStateException', `${ctx.arnOf(key.keyId)} is pending replica deletion.`);
  }
}

/** A key without its imported material (Origin EXTERNAL) cannot be used or enabled. */
export function requireNotPendingImport(ctx: KmsContext, key: KeyRecord): void {
  if (key.state === 'PendingImport') {
    throw new AppError('KMSInvalidStateException', `${ctx.arnOf(key.keyId)} is pending import.`);
  }
}

/** Neither disabled, pending deletion nor pending import. */
export function requireEnabled(ctx: KmsContext, key: KeyRecord): void {
  if (key.state === 'Disabled') throw new AppError('DisabledException', `${ctx.arnOf(key.keyId)} is disabled.`);
  requireNotPendingDeletion(ctx, key);
  requireNotPendingImport(ctx, key);
}

/** Crypto operations need an enabled key of the right usage. */
export function requireUsable(ctx: KmsContext, key: KeyRecord, usage: KeyUsage, operation: string): void {
  requireEnabled(ctx, key);
  if (key.keyUsage !== usage) {
    throw new AppError(
      'InvalidKeyUsageException',
      `${ctx.arnOf(key.keyId)} key usage is ${key.keyUsage} which is not valid for ${operation}.`,
    );
  }
}

export function requireAlgorithm(key: KeyRecord, algorithm: string): void {
  const allowed = SPEC_INFO[key.keySpec].usages[key.keyUsage] ?? [];
  if (!allowed.includes(algorithm)) {
    throw new AppError(
      'InvalidKeyUsageException',
      `Algorithm ${algorithm} is incompatible with key spec ${key.keySpec}.`,
    );
  }
}
