// KMS key rotation operations: enable, disable, status, rotate on demand, list rotations.
import { z } from 'zod';
import { operation } from '../../core/operation.js';
import { epochSeconds, int } from '../../core/wire.js';
import type { KmsEngine } from '../engine.js';
import { importedMaterialEntries } from './import.js';
import { KeyIdInput, type KmsOperation, keyArnOf, keyId, limit, marker, onKey, onKeyId, paginate } from './shapes.js';

const EnableKeyRotationInput = z.object({ KeyId: keyId, RotationPeriodInDays: int(90, 2560).optional() });
const ListKeyRotationsInput = z.object({
  KeyId: keyId,
  Limit: limit,
  Marker: marker,
  IncludeKeyMaterial: z.enum(['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY']).optional(),
});

export const rotationOperations: Record<string, KmsOperation> = {
  EnableKeyRotation: onKey('kms:EnableKeyRotation', EnableKeyRotationInput, (engine, i) =>
    engine.enableKeyRotation(i.KeyId, i.RotationPeriodInDays),
  ),
  DisableKeyRotation: onKey('kms:DisableKeyRotation', KeyIdInput, (engine, i) => engine.disableKeyRotation(i.KeyId)),

  GetKeyRotationStatus: operation({
    input: KeyIdInput,
    resources: onKeyId('kms:GetKeyRotationStatus'),
    async run(engine: KmsEngine, i) {
      const { key: k, status } = await engine.getKeyRotationStatus(i.KeyId);
      const onDemand = (await engine.listKeyRotations(k.keyId)).rotations.filter((r) => r.rotationType === 'ON_DEMAND');
      return {
        KeyRotationEnabled: status.enabled,
        KeyId: engine.arnOf(k.keyId),
        ...(status.periodInDays !== undefined && { RotationPeriodInDays: status.periodInDays }),
        ...(status.nextRotationAt !== undefined && { NextRotationDate: epochSeconds(status.nextRotationAt) }),
        ...(onDemand.length > 0 && {
          OnDemandRotationStartDate: epochSeconds(onDemand[onDemand.length - 1]!.createdAt),
        }),
      };
    },
  }),

  RotateKeyOnDemand: onKey(
    'kms:RotateKeyOnDemand',
    KeyIdInput,
    (engine, i) => engine.rotateKeyOnDemand(i.KeyId),
    keyArnOf,
  ),

  ListKeyRotations: onKey(
    'kms:ListKeyRotations',
    ListKeyRotationsInput,
    (engine, i) => engine.listKeyRotations(i.KeyId),
    ({ key: k, rotations }, engine, i) =>
      paginate(
        [
          ...(i.IncludeKeyMaterial === 'ALL_KEY_MATERIAL' ? importedMaterialEntries(engine, k) : []),
          ...rotations.map((r) => ({
            KeyId: engine.arnOf(k.keyId),
            RotationDate: epochSeconds(r.createdAt),
            RotationType: r.rotationType,
          })),
        ],
        i.Limit ?? 100,
        i.Marker,
        'Rotations',
      ),
  ),
};
