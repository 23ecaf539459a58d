// Secrets Manager secret lifecycle operations: create, update, describe, delete, restore.
import { z } from 'zod';
import { operation } from '../../core/operation.js';
import { epochSeconds, str } from '../../core/wire.js';
import { checkDeletionOptions } from '../engine/lifecycle.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../labels.js';
import { portOf, replicaKeys, replicaRegions } from './replication.js';
import {
  arnAndName,
  arnNameAndVersion,
  describe,
  onSecret,
  onSecretId,
  readVersion,
  replicationStatus,
  SecretIdInput,
  type SecretsApiContext,
  type SecretsOperation,
  sealWith,
  secret,
  secretBinary,
  secretId,
  secretString,
  secretType,
  secretValueOf,
  tags,
  token,
} from './shapes.js';

const CreateSecretInput = z.object({
  Name: str(1, 512),
  ClientRequestToken: token,
  Description: str(0, 2048).optional(),
  KmsKeyId: str(0, 2048).optional(),
  SecretString: secretString,
  SecretBinary: secretBinary,
  Tags: tags.optional(),
  AddReplicaRegions: replicaRegions.optional(),
  ForceOverwriteReplicaSecret: z.boolean().optional(),
  Type: secretType,
});
const UpdateSecretInput = z.object({
  SecretId: secretId,
  ClientRequestToken: token,
  Description: str(0, 2048).optional(),
  KmsKeyId: str(0, 2048).optional(),
  SecretString: secretString,
  SecretBinary: secretBinary,
  Type: secretType,
});
const DeleteSecretInput = z.object({
  SecretId: secretId,
  RecoveryWindowInDays: z.number().int().optional(),
  ForceDeleteWithoutRecovery: z.boolean().optional(),
});

/** The versions a new KMS key re-encrypts (UpdateSecret with KmsKeyId and no value). */
const LABELLED = [AWSCURRENT, AWSPENDING, AWSPREVIOUS];

export const lifecycleOperations: Record<string, SecretsOperation> = {
  CreateSecret: operation({
    input: CreateSecretInput,
    resources: (i) => [
      secret('secretsmanager:CreateSecret', i.Name),
      ...(i.Tags?.length ? [secret('secretsmanager:TagResource', i.Name)] : []),
      ...(i.KmsKeyId ? [sealWith(i.Name, i.KmsKeyId)] : []),
      ...(i.AddReplicaRegions
        ? [secret('secretsmanager:ReplicateSecretToRegions', i.Name), ...replicaKeys(i.Name, i.AddReplicaRegions)]
        : []),
    ],
    async run(ctx: SecretsApiContext, i) {
      const { engine } = ctx;
      // The regions are checked before the secret exists: a refused region leaves nothing behind.
      if (i.AddReplicaRegions) portOf(ctx).check(i.AddReplicaRegions);
      const created = await engine.createSecret({
        name: i.Name,
        description: i.Description,
        kmsKeyId: i.KmsKeyId || undefined,
        tags: i.Tags,
        value: secretValueOf(i),
        token: i.ClientRequestToken,
      });
      if (!i.AddReplicaRegions) return arnNameAndVersion(created);
      const force = i.ForceOverwriteReplicaSecret ?? false;
      const { secret: primary } = await portOf(ctx).replicate(created.secret.arn, i.AddReplicaRegions, force);
      return { ...arnNameAndVersion(created), ReplicationStatus: replicationStatus(primary) };
    },
  }),

  UpdateSecret: operation({
    input: UpdateSecretInput,
    resources: (i) => {
      const resources = [secret('secretsmanager:UpdateSecret', i.SecretId)];
      const newKey = i.KmsKeyId || undefined;
      if (secretValueOf(i)) resources.push(sealWith(i.SecretId, newKey));
      else if (newKey) {
        // A new key without a value re-encrypts the labelled versions: they are read, then sealed anew.
        for (const stage of LABELLED) resources.push(...readVersion(i.SecretId, undefined, stage).slice(1));
        resources.push(sealWith(i.SecretId, newKey));
      }
      return resources;
    },
    async run({ engine }: SecretsApiContext, i) {
      const r = await engine.updateSecret(i.SecretId, {
        description: i.Description,
        kmsKeyId: i.KmsKeyId || undefined,
        value: secretValueOf(i),
        token: i.ClientRequestToken,
      });
      return arnNameAndVersion(r);
    },
  }),

  DescribeSecret: onSecret(
    'secretsmanager:DescribeSecret',
    SecretIdInput,
    ({ engine }, i) => engine.listVersions(i.SecretId),
    ({ secret: s, versions }) => describe(s, versions),
  ),

  DeleteSecret: operation({
    input: DeleteSecretInput,
    // Before the secret is looked up: AWS refuses a bad window even for a secret that does not exist.
    validate: (i) => checkDeletionOptions(i.RecoveryWindowInDays, i.ForceDeleteWithoutRecovery ?? false),
    resources: onSecretId('secretsmanager:DeleteSecret'),
    async run({ engine }: SecretsApiContext, i) {
      const r = await engine.deleteSecret(i.SecretId, i.RecoveryWindowInDays, i.ForceDeleteWithoutRecovery ?? false);
      return { ...arnAndName(r.secret), DeletionDate: epochSeconds(r.deletionDate) };
    },
  }),

  RestoreSecret: onSecret(
    'secretsmanager:RestoreSecret',
    SecretIdInput,
    ({ engine }, i) => engine.restoreSecret(i.SecretId),
    arnAndName,
  ),
};
