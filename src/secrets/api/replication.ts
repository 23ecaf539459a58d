// Secrets Manager replication operations: ReplicateSecretToRegions, RemoveRegionsFromReplication,
// StopReplicationToReplica (the cross-region work is the server's, behind the context's ReplicationPort).
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { str } from '../../core/wire.js';
import type { ReplicationPort } from '../replication.js';
import { onSecretId, replicationStatus, type SecretsApiContext, type SecretsOperation, secretId } from './shapes.js';

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

/** The context's port; a context built without one (a single-engine test) cannot replicate. */
export function portOf(ctx: SecretsApiContext): ReplicationPort {
  if (!ctx.replication) throw new AppError('InternalServiceError', 'Replication is not available here.');
  return ctx.replication;
}

export const replicationOperations: Record<string, SecretsOperation> = {
  ReplicateSecretToRegions: operation({
    input: ReplicateInput,
    resources: onSecretId('secretsmanager:ReplicateSecretToRegions'),
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
