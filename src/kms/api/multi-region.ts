// Multi-Region key operations: ReplicateKey and UpdatePrimaryRegion (CreateKey MultiRegion is in keys.ts).
import { z } from 'zod';
import { keyArn } from '../../core/arn.js';
import { operation } from '../../core/operation.js';
import { str } from '../../core/wire.js';
import type { KmsEngine } from '../engine.js';
import { refuseLockout } from './policy-lockout.js';
import {
  anyResource,
  type KmsOperation,
  key,
  keyId,
  keyMetadata,
  onKey,
  policy,
  tags,
  validatePolicy,
} from './shapes.js';

/** The model's RegionType. */
const region = str(1, 32, '^([a-z]+-){2,3}\\d+$');

const ReplicateKeyInput = z.object({
  KeyId: keyId,
  ReplicaRegion: region,
  Policy: policy.optional(),
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
  Description: str(0, 8192).optional(),
  Tags: tags,
});
const UpdatePrimaryRegionInput = z.object({ KeyId: keyId, PrimaryRegion: region });

export const multiRegionOperations: Record<string, KmsOperation> = {
  ReplicateKey: operation({
    input: ReplicateKeyInput,
    // AWS: kms:ReplicateKey on the primary key, kms:CreateKey (and kms:TagResource for Tags) for the replica.
    resources: (i) => [
      key('kms:ReplicateKey', i.KeyId),
      anyResource('kms:CreateKey'),
      ...(i.Tags?.length ? [anyResource('kms:TagResource')] : []),
    ],
    async run(engine: KmsEngine, i, access) {
      if (i.Policy !== undefined) {
        validatePolicy(engine, i.Policy);
        const replicaArn = keyArn({ region: i.ReplicaRegion, accountId: engine.partition.accountId }, '*');
        refuseLockout(engine, access, replicaArn, i.Policy, i.BypassPolicyLockoutSafetyCheck);
      }
      const { replica, view } = await engine.replicateKey(i.KeyId, {
        region: i.ReplicaRegion,
        policy: i.Policy,
        description: i.Description,
        tags: i.Tags,
      });
      return {
        // The replica's metadata as its own region shows it.
        ReplicaKeyMetadata: keyMetadata(engine, replica, view, i.ReplicaRegion),
        ReplicaPolicy: replica.policy,
        ReplicaTags: replica.tags,
      };
    },
  }),

  // AWS also checks kms:UpdatePrimaryRegion on the replica in PrimaryRegion; Keysafe checks the primary's.
  UpdatePrimaryRegion: onKey('kms:UpdatePrimaryRegion', UpdatePrimaryRegionInput, (engine, i) =>
    engine.updatePrimaryRegion(i.KeyId, i.PrimaryRegion),
  ),
};
