// KMS operations whose KeyId takes only a key id or key ARN (as the model documents it): aliases refused as AWS does.
import { AppError } from '../../core/errors.js';
import { looksLikeAlias } from '../engine.js';
import type { KmsOperation } from './shapes.js';

/**
 * The operations whose KeyId documentation in the botocore model says "Specify the key ID or key ARN"
 * without alias names (test/api/operation-coverage.test.ts holds this list against the model). The
 * cryptographic operations, GenerateMac and VerifyMac included, take aliases.
 */
export const KEY_ID_ONLY_OPERATIONS: readonly string[] = [
  'CancelKeyDeletion',
  'CreateGrant',
  'DeleteImportedKeyMaterial',
  'DisableKey',
  'DisableKeyRotation',
  'EnableKey',
  'EnableKeyRotation',
  'GetKeyLastUsage',
  'GetKeyPolicy',
  'GetKeyRotationStatus',
  'GetParametersForImport',
  'ImportKeyMaterial',
  'ListAliases',
  'ListGrants',
  'ListKeyPolicies',
  'ListKeyRotations',
  'ListResourceTags',
  'PutKeyPolicy',
  'ReplicateKey',
  'RetireGrant',
  'RevokeGrant',
  'RotateKeyOnDemand',
  'ScheduleKeyDeletion',
  'TagResource',
  'UntagResource',
  'UpdateKeyDescription',
  'UpdatePrimaryRegion',
];

/** AWS's answer to an alias name or alias ARN where only a key id or key ARN is taken. */
export function refuseAliasKeyId(input: unknown): void {
  const ref = typeof input === 'object' && input !== null ? Reflect.get(input, 'KeyId') : undefined;
  if (typeof ref === 'string' && looksLikeAlias(ref)) throw new AppError('NotFoundException', `Invalid keyId ${ref}`);
}

/**
 * The table with the refusal added to each key-id-only operation's validation (before authorization:
 * the answer is the same whether or not the alias exists, so it reveals nothing).
 */
export function refusingAliasKeyIds(table: Record<string, KmsOperation>): Record<string, KmsOperation> {
  const out: Record<string, KmsOperation> = { ...table };
  for (const name of KEY_ID_ONLY_OPERATIONS) {
    const op = table[name];
    if (op === undefined) continue;
    out[name] = {
      ...op,
      validate(input) {
        refuseAliasKeyId(input);
        op.validate?.(input);
      },
    };
  }
  return out;
}
