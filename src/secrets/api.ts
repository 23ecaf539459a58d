// The AWS Secrets Manager JSON operations: the groups in api/ merged into the one table the server dispatches on.
import { lifecycleOperations } from './api/lifecycle.js';
import { listOperations } from './api/list.js';
import { policyTagOperations } from './api/policies-tags.js';
import { replicationOperations } from './api/replication.js';
import { rotationOperations } from './api/rotation.js';
import type { SecretsOperation } from './api/shapes.js';
import { valueOperations } from './api/values.js';

export type { SecretsApiContext } from './api/shapes.js';

export const secretsOperations: Record<string, SecretsOperation> = {
  ...lifecycleOperations,
  ...valueOperations,
  ...listOperations,
  ...rotationOperations,
  ...policyTagOperations,
  ...replicationOperations,
};
