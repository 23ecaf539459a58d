// Secrets Manager replication operations: ReplicateSecretToRegions, RemoveRegionsFromReplication,
// StopReplicationToReplica (the cross-region work is the server's, behind the context's ReplicationPort).
import { z } from 'zod';
import type { ResourceRef } from '../../core/access.js';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { str } from '../../core/wire.js';
import { namesDefaultKey } from '../envelope.js';
import type { ReplicationPort } from '../replication.js';
import {
  onSecretId,
  readVersion,
  replicationStatus,
  type SecretsApiContext,
  type SecretsOperation,
  sealWith,
  secret,
  secretId,
} from './shapes.js';

/** The model's RegionType. */
const region = str(1, 128, '^([a-z]+-)+\\d+$');

export const replicaRegions = z
  .array(z.object({ Region: region.optional(), KmsKeyId: str(0, 2048).optional() }))
  .min(1);

const ReplicateInput = z.object({
  SecretId: secretId,
  AddReplicaRegions: replicaRegions,
  ForceOverwriteReplicaSecret: z.boolean().optional(),
});
const RemoveInput = z.object({ SecretId: secretId, RemoveReplicaRegions: z.array(region).min(1) });
const StopInput = z.object({ SecretId: secretId });

/**
 * What replicating a secret reads and writes besides the secret itself, checked as AWS checks it: each
 * replica's customer-managed key (kms:GenerateDataKey, in the replica's region, by that key's policy and
 * grants); the region's managed default key needs no permission, as aws/secretsmanager.
 */
export function replicaKeys(id: string, regions: z.output<typeof replicaRegions>): ResourceRef[] {
  return regions.flatMap((r) =>
    r.Region !== undefined && r.KmsKeyId && !namesDefaultKey(r.KmsKeyId)
      ? [{ kind: 'in-region' as const, region: r.Region, resource: sealWith(id, r.KmsKeyId) }]
      : [],
  );
}

/** The context's port; a context built without one (a single-engine test) cannot replicate. */
export function portOf(ctx: SecretsApiContext): ReplicationPort {
  if (!ctx.replication) throw new AppError('InternalServiceError', 'Replication is not available here.');
  return ctx.replication;
}

export const replicationOperations: Record<string, SecretsOperation> = {
  ReplicateSecretToRegions: operation({
    input: ReplicateInput,
    // The primary's value is read (kms:Decrypt on its customer key) and sealed under each replica's key.
    resources: (i) => [
      secret('secretsmanager:ReplicateSecretToRegions', i.SecretId),
      ...readVersion(i.SecretId).slice(1),
      ...replicaKeys(i.SecretId, i.AddReplicaRegions),
    ],
    async run(ctx: SecretsApiContext, i) {
      const { secret } = await portOf(ctx).replicate(
        i.SecretId,
        i.AddReplicaRegions,
        i.ForceOverwriteReplicaSecret ?? false,
      );
      return { ARN: secret.arn, ReplicationStatus: replicationStatus(secret) };
    },
  }),

  RemoveRegionsFromReplication: operation({
    input: RemoveInput,
    resources: onSecretId('secretsmanager:RemoveRegionsFromReplication'),
    async run(ctx: SecretsApiContext, i) {
      const { secret } = await portOf(ctx).remove(i.SecretId, i.RemoveReplicaRegions);
      return { ARN: secret.arn, ReplicationStatus: replicationStatus(secret) };
    },
  }),

  StopReplicationToReplica: operation({
    input: StopInput,
    resources: onSecretId('secretsmanager:StopReplicationToReplica'),
    async run(ctx: SecretsApiContext, i) {
      return { ARN: (await portOf(ctx).stop(i.SecretId)).arn };
    },
  }),
};
