// KMS key lifecycle operations: create, describe, list, update the description, enable, disable, delete.
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { awsEnum, decodeMarker, epochSeconds, int, str } from '../../core/wire.js';
import type { KmsEngine } from '../engine.js';
import { CHINA_ONLY_KEY_SPECS, KEY_SPECS, KEY_USAGES } from '../key-specs.js';
import { CUSTOMER_MASTER_KEY_SPEC, KEY_SPEC, KEY_USAGE_TYPE } from './model-enums.js';
import { refuseLockout } from './policy-lockout.js';
import {
  anyResource,
  grantTokens,
  KeyIdInput,
  type KmsOperation,
  keyArnOf,
  keyId,
  keyMetadata,
  limit,
  marker,
  mayDescribe,
  onKey,
  policy,
  tags,
  truncation,
  validatePolicy,
} from './shapes.js';

const CreateKeyInput = z.object({
  Description: str(0, 8192).optional(),
  KeyUsage: awsEnum(KEY_USAGES, KEY_USAGE_TYPE).optional(),
  KeySpec: awsEnum([...KEY_SPECS, ...CHINA_ONLY_KEY_SPECS], KEY_SPEC).optional(),
  CustomerMasterKeySpec: awsEnum([...KEY_SPECS, ...CHINA_ONLY_KEY_SPECS], CUSTOMER_MASTER_KEY_SPEC).optional(),
  Policy: policy.optional(),
  Tags: tags,
  Origin: z.enum(['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']).optional(),
  MultiRegion: z.boolean().optional(),
  CustomKeyStoreId: str(1, 64).optional(),
  XksKeyId: str(1, 128, '^[a-zA-Z0-9-_.]+$').optional(),
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
});
const DescribeKeyInput = z.object({ KeyId: keyId, GrantTokens: grantTokens });
const ListKeysInput = z.object({ Limit: limit, Marker: marker });
const UpdateKeyDescriptionInput = z.object({ KeyId: keyId, Description: str(0, 8192) });
const ScheduleKeyDeletionInput = z.object({ KeyId: keyId, PendingWindowInDays: int(7, 30).optional() });

export const keyOperations: Record<string, KmsOperation> = {
  CreateKey: operation({
    input: CreateKeyInput,
    // Tags on CreateKey need kms:TagResource too, as on AWS.
    resources: (i) => [anyResource('kms:CreateKey'), ...(i.Tags?.length ? [anyResource('kms:TagResource')] : [])],
    async run(engine: KmsEngine, i, access) {
      if (i.Origin !== undefined && i.Origin !== 'AWS_KMS' && i.Origin !== 'EXTERNAL') {
        throw new AppError(
          'UnsupportedOperationException',
          `Origin ${i.Origin} is not supported; use AWS_KMS or EXTERNAL.`,
        );
      }
      if (i.MultiRegion && i.Origin === 'EXTERNAL') {
        throw new AppError(
          'UnsupportedOperationException',
          'Multi-Region keys with imported key material (Origin EXTERNAL) are not supported by Keysafe.',
        );
      }
      if (i.CustomKeyStoreId || i.XksKeyId) {
        throw new AppError('UnsupportedOperationException', 'Custom key stores are not supported.');
      }
      if (i.KeySpec && i.CustomerMasterKeySpec && i.KeySpec !== i.CustomerMasterKeySpec) {
        throw new AppError('ValidationException', 'KeySpec and CustomerMasterKeySpec must not differ.');
      }
      const spec = i.KeySpec ?? i.CustomerMasterKeySpec;
      if (spec === 'SM2') {
        // As AWS answers outside its China Regions (and no well-kept library here implements SM2)
        throw new AppError('UnsupportedOperationException', 'SM2 key spec is only available in China Regions.');
      }
      if (i.Policy !== undefined) {
        validatePolicy(engine, i.Policy);
        // The key has no id yet: its ARN with `*` for the id stands for it.
        refuseLockout(engine, access, engine.arnOf('*'), i.Policy, i.BypassPolicyLockoutSafetyCheck);
      }
      const created = await engine.createKey({
        description: i.Description,
        keyUsage: i.KeyUsage,
        keySpec: spec,
        policy: i.Policy,
        tags: i.Tags,
        origin: i.Origin,
        multiRegion: i.MultiRegion,
      });
      return { KeyMetadata: keyMetadata(engine, created, await engine.multiRegionView(created)) };
    },
  }),

  DescribeKey: onKey(
    'kms:DescribeKey',
    DescribeKeyInput,
    async (engine, i) => {
      const k = await engine.describeKey(i.KeyId);
      return { KeyMetadata: keyMetadata(engine, k, await engine.multiRegionView(k)) };
    },
    (described) => described,
  ),

  ListKeys: operation({
    input: ListKeysInput,
    resources: () => [anyResource('kms:ListKeys')],
    async run(engine: KmsEngine, i, access) {
      const { items, next } = await engine.listKeys(i.Limit ?? 100, decodeMarker(i.Marker));
      const shown = await mayDescribe(access, items, (k) => k.keyId);
      return { Keys: shown.map((k) => ({ KeyId: k.keyId, KeyArn: engine.arnOf(k.keyId) })), ...truncation(next) };
    },
  }),

  UpdateKeyDescription: onKey('kms:UpdateKeyDescription', UpdateKeyDescriptionInput, (engine, i) =>
    engine.updateKeyDescription(i.KeyId, i.Description),
  ),
  EnableKey: onKey('kms:EnableKey', KeyIdInput, (engine, i) => engine.enableKey(i.KeyId)),
  DisableKey: onKey('kms:DisableKey', KeyIdInput, (engine, i) => engine.disableKey(i.KeyId)),

  ScheduleKeyDeletion: onKey(
    'kms:ScheduleKeyDeletion',
    ScheduleKeyDeletionInput,
    (engine, i) => engine.scheduleKeyDeletion(i.KeyId, i.PendingWindowInDays ?? 30),
    (k, engine) => ({
      KeyId: engine.arnOf(k.keyId),
      // A primary waiting for its replicas has no deletion date yet (AWS leaves it out).
      ...(k.state === 'PendingDeletion' && { DeletionDate: epochSeconds(k.deletionAt!) }),
      KeyState: k.state,
      PendingWindowInDays: k.pendingWindowInDays,
    }),
  ),

  CancelKeyDeletion: onKey(
    'kms:CancelKeyDeletion',
    KeyIdInput,
    (engine, i) => engine.cancelKeyDeletion(i.KeyId),
    keyArnOf,
  ),
};
