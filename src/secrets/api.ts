// The AWS Secrets Manager JSON operations: the groups in api/ merged into the one table the server dispatches on.
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { operation } from '../core/operation.js';
import { lifecycleOperations } from './api/lifecycle.js';
import { listOperations } from './api/list.js';
import { policyTagOperations } from './api/policies-tags.js';
import { rotationOperations } from './api/rotation.js';
import { anyResource, type SecretsOperation } from './api/shapes.js';
import { valueOperations } from './api/values.js';

export type { SecretsApiContext } from './api/shapes.js';

const unsupported = (action: string, what: string): SecretsOperation =>
  operation({
    input: z.object({}).loose(),
    resources: () => [anyResource(`secretsmanager:${action}`)],
    async run() {
      throw new AppError('UnsupportedOperationException', `${what} is not supported by Keysafe (single region).`);
    },
  });

export const secretsOperations: Record<string, SecretsOperation> = {
  ...lifecycleOperations,
  ...valueOperations,
  ...listOperations,
  ...rotationOperations,
  ...policyTagOperations,

  ReplicateSecretToRegions: unsupported('ReplicateSecretToRegions', 'Replication'),
  RemoveRegionsFromReplication: unsupported('RemoveRegionsFromReplication', 'Replication'),
  StopReplicationToReplica: unsupported('StopReplicationToReplica', 'Replication'),
};
