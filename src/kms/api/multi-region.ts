// Multi-Region key operations: ReplicateKey and UpdatePrimaryRegion (CreateKey MultiRegion is in keys.ts).
import { z } from 'zod';
import type { LocalResourceRef, ResourceRef } from '../../core/access.js';
import { keyArn } from '../../core/arn.js';
import { operation } from '../../core/operation.js';
import { str } from '../../core/wire.js';
import type { KmsEngine } from '../engine.js';
import { refuseLockout } from './policy-lockout.js';
import { anyResource, type KmsOperation, key, keyId, keyMetadata, policy, tags, validatePolicy } from './shapes.js';

/** A resource of another region the server serves, decided there. */
const inRegion = (region: string, resource: LocalResourceRef): ResourceRef => ({ kind: 'in-region', region, resource });

/** The key a KeyId names, as named in `region`: multi-Region keys share their key id; an ARN gets that region. */
function sameKeyIn(ref: string, region: string): string {
  if (!ref.startsWith('arn:')) return ref;
  const parts = ref.split(':');
  parts[3] = region;
  return parts.join(':');
}

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
    // AWS: kms:ReplicateKey on the primary key, kms:CreateKey (and kms:TagResource for Tags) in the replica Region.
    resources: (i) => [
      key('kms:ReplicateKey', i.KeyId),
      inRegion(i.ReplicaRegion, anyResource('kms:CreateKey')),
      ...(i.Tags?.length ? [inRegion(i.ReplicaRegion, anyResource('kms:TagResource'))] : []),
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

  UpdatePrimaryRegion: operation({
    input: UpdatePrimaryRegionInput,
    // AWS: kms:UpdatePrimaryRegion on the current primary and on the replica in PrimaryRegion (its key policy).
    resources: (i) => [
      key('kms:UpdatePrimaryRegion', i.KeyId),
      inRegion(i.PrimaryRegion, key('kms:UpdatePrimaryRegion', sameKeyIn(i.KeyId, i.PrimaryRegion))),
    ],
    async run(engine: KmsEngine, i) {
      await engine.updatePrimaryRegion(i.KeyId, i.PrimaryRegion);
      return {};
    },
  }),
};
