// Aliases: the reserved namespaces, CreateAlias, UpdateAlias, DeleteAlias, ListAliases, and the server's own.
import { aliasArn } from '../../core/arn.js';
import { AppError } from '../../core/errors.js';
import type { Page } from '../../storage/index.js';
import { SPEC_INFO } from '../key-specs.js';
import type { AliasRecord, KeyRecord } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireNotPendingDeletion } from './guards.js';

/**
 * Alias namespaces no caller may create, re-point or delete: AWS's, and Keysafe's own (whose
 * aliases name the keys Keysafe uses for itself, for display only).
 */
export function isReservedAlias(name: string): boolean {
  return (
    name === 'alias/aws' ||
    name.startsWith('alias/aws/') ||
    name === 'alias/keysafe' ||
    name.startsWith('alias/keysafe/')
  );
}

/**
 * Refuses a reserved alias name, for every caller: checked before any authorization, as AWS does.
 * AWS answers alias/aws/ names with a NotAuthorizedException that carries no message; Keysafe's own
 * namespace says why.
 */
export function refuseReservedAlias(name: string): void {
  if (!isReservedAlias(name)) return;
  if (name === 'alias/aws' || name.startsWith('alias/aws/')) throw new AppError('NotAuthorizedException', '');
  throw new AppError(
    'NotAuthorizedException',
    `Alias names that begin with alias/keysafe/ are reserved; ${name.slice(0, 256)} cannot be created, updated or deleted.`,
  );
}

/** The model's AliasName pattern (AliasNameType). */
const ALIAS_NAME = /^[a-zA-Z0-9:/_-]+$/;
const ALIAS_NAME_PATTERN = ALIAS_NAME.source;

/**
 * An alias name as AWS checks it, in AWS's order and words: the model's pattern, the `alias/`
 * prefix, the reserved namespaces, then no `:` (which the pattern allows but KMS refuses).
 */
export function validateAliasName(name: string): void {
  if (name.length > 256) {
    throw new AppError(
      'ValidationException',
      `1 validation error detected: Value '${name}' at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256`,
    );
  }
  if (!ALIAS_NAME.test(name)) {
    throw new AppError(
      'ValidationException',
      `1 validation error detected: Value '${name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${ALIAS_NAME_PATTERN}`,
    );
  }
  if (!name.startsWith('alias/')) {
    throw new AppError(
      'ValidationException',
      'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html',
    );
  }
  refuseReservedAlias(name);
  if (name.includes(':')) throw new AppError('ValidationException', `${name} contains invalid characters for an alias`);
  if (name === 'alias/') throw new AppError('InvalidAliasNameException', 'Alias name alias/ is not valid.');
}

/** An alias name or alias ARN, told apart without the partition (a check made before any lookup). */
export const looksLikeAlias = (ref: string): boolean =>
  ref.startsWith('alias/') || /^arn:[^:]*:kms:[^:]*:[^:]*:alias\//.test(ref);

/** CreateAlias and UpdateAlias take a key id or key ARN as TargetKeyId: AWS's words for an alias there. */
export function refuseAliasTarget(targetRef: string): void {
  if (looksLikeAlias(targetRef)) throw new AppError('ValidationException', 'Aliases must refer to keys. Not aliases');
}

function kindOf(k: KeyRecord): string {
  return SPEC_INFO[k.keySpec].kind;
}

function aliasNotFound(ctx: KmsContext, name: string): AppError {
  return new AppError('NotFoundException', `Alias ${aliasArn(ctx.partition, name)} is not found.`);
}

/** A valid, unreserved alias name and the key it may point at (by key id or ARN, never another alias). */
async function validatedAlias(ctx: KmsContext, name: string, targetRef: string): Promise<KeyRecord> {
  validateAliasName(name);
  refuseAliasTarget(targetRef);
  const key = await ctx.keys.getKey(targetRef, true);
  refuseInternal(ctx, key);
  requireNotPendingDeletion(ctx, key);
  return key;
}

/** Points one of Keysafe's reserved aliases at its key (creating it), for display. */
export async function pointAlias(ctx: KmsContext, name: string, keyId: string): Promise<void> {
  const now = ctx.clock.now();
  if (!(await ctx.store.createAlias({ name, keyId, createdAt: now, updatedAt: now }))) {
    const existing = await ctx.store.getAlias(name);
    if (existing?.keyId !== keyId) await ctx.store.updateAlias(name, keyId, now);
  }
  ctx.keys.forgetAlias(name);
}

export function aliasOperations(ctx: KmsContext) {
  const { store, keys } = ctx;
  return {
    async createAlias(name: string, targetRef: string): Promise<void> {
      const key = await validatedAlias(ctx, name, targetRef);
      const now = ctx.clock.now();
      const created = await store.createAlias({ name, keyId: key.keyId, createdAt: now, updatedAt: now });
      // Either way the alias exists now: a cached "not found" (another replica made it) must go.
      keys.forgetAlias(name);
      if (!created) {
        throw new AppError(
          'AlreadyExistsException',
          `An alias with the name ${aliasArn(ctx.partition, name)} already exists`,
        );
      }
    },

    async updateAlias(name: string, targetRef: string): Promise<void> {
      const key = await validatedAlias(ctx, name, targetRef);
      const existing = await store.getAlias(name);
      if (!existing) throw aliasNotFound(ctx, name);
      const current = await store.getKey(existing.keyId);
      if (current && (current.keyUsage !== key.keyUsage || kindOf(current) !== kindOf(key))) {
        throw new AppError(
          'ValidationException',
          'An alias can only point to a key of the same key type and key usage as its current key.',
        );
      }
      if (!(await store.updateAlias(name, key.keyId, ctx.clock.now()))) throw aliasNotFound(ctx, name);
      keys.forgetAlias(name);
    },

    async deleteAlias(name: string): Promise<void> {
      validateAliasName(name);
      if (!(await store.deleteAlias(name))) throw aliasNotFound(ctx, name);
      keys.forgetAlias(name);
    },

    async listAliases(limit: number, after?: string, keyRef?: string): Promise<Page<AliasRecord>> {
      const keyId = keyRef === undefined ? undefined : (await keys.getKey(keyRef)).keyId;
      return store.listAliases(limit, after, keyId);
    },
  };
}
