// Secrets Manager rotation operations: start or configure a rotation, cancel one.
import { z } from 'zod';
import { operation } from '../../core/operation.js';
import { int, str } from '../../core/wire.js';
import { rotationPrincipalOf } from '../rotation.js';
import {
  arnNameAndVersion,
  onSecret,
  onSecretId,
  SecretIdInput,
  type SecretsApiContext,
  type SecretsOperation,
  secretId,
  token,
} from './shapes.js';

const RotateSecretInput = z.object({
  SecretId: secretId,
  ClientRequestToken: token,
  RotationLambdaARN: str(0, 2048).optional(),
  RotationRules: z
    .object({
      AutomaticallyAfterDays: int(1, 1000).optional(),
      ScheduleExpression: str(1, 256, '[0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+').optional(),
      Duration: str(2, 3, '[0-9]+h').optional(),
    })
    .optional(),
  // Managed external secrets: bounds checked, otherwise not used by Keysafe.
  ExternalSecretRotationMetadata: z.array(z.object({ Key: str(1, 256), Value: str(1, 2048) })).optional(),
  ExternalSecretRotationRoleArn: str(20, 2048).optional(),
  RotateImmediately: z.boolean().optional(),
});

export const rotationOperations: Record<string, SecretsOperation> = {
  RotateSecret: operation({
    input: RotateSecretInput,
    resources: onSecretId('secretsmanager:RotateSecret'),
    async run({ rotation }: SecretsApiContext, i, access) {
      const r = await rotation.rotateSecret(i.SecretId, {
        token: i.ClientRequestToken,
        lambdaArn: i.RotationLambdaARN || undefined,
        rules: i.RotationRules,
        rotateImmediately: i.RotateImmediately,
        // The rotation acts as its caller from now on, never with the server's rights.
        principal: rotationPrincipalOf(access.identity),
      });
      return arnNameAndVersion(r);
    },
  }),

  CancelRotateSecret: onSecret(
    'secretsmanager:CancelRotateSecret',
    SecretIdInput,
    ({ rotation }, i) => rotation.cancelRotateSecret(i.SecretId),
    arnNameAndVersion,
  ),
};
