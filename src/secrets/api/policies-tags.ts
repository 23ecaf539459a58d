// Secrets Manager tag and resource policy operations: tag, untag; get, put, delete and validate the policy.
import { z } from 'zod';
import { compilePolicy, policyProblems as iamPolicyProblems } from '../../auth/index.js';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { str } from '../../core/wire.js';
import type { SecretsEngine } from '../engine.js';
import {
  anyResource,
  arnAndName,
  onSecret,
  onSecretId,
  SecretIdInput,
  type SecretsApiContext,
  type SecretsOperation,
  secret,
  secretId,
  tags,
} from './shapes.js';

const TagResourceInput = z.object({ SecretId: secretId, Tags: tags });
const UntagResourceInput = z.object({ SecretId: secretId, TagKeys: z.array(str(1, 128)) });
const PutResourcePolicyInput = z.object({
  SecretId: secretId,
  ResourcePolicy: str(1, 20_480),
  BlockPublicPolicy: z.boolean().optional(),
});
const ValidateResourcePolicyInput = z.object({ SecretId: secretId.optional(), ResourcePolicy: str(1, 20_480) });

/** The resource policy's problems under Keysafe's IAM grammar (auth/policy.ts); empty when valid. */
function policyProblems(engine: SecretsEngine, document: string): string[] {
  return iamPolicyProblems(document, 'resource', engine.partition.accountId);
}

/** True when an Allow statement's principal matches any caller: "*", {"AWS": "*"} or {"AWS": [..., "*"]}. */
function isPublic(engine: SecretsEngine, document: string): boolean {
  return compilePolicy(document, 'resource', engine.partition.accountId).statements.some(
    (s) => s.allow && s.principal === 'any',
  );
}

export const policyTagOperations: Record<string, SecretsOperation> = {
  TagResource: onSecret('secretsmanager:TagResource', TagResourceInput, ({ engine }, i) =>
    engine.tagResource(i.SecretId, i.Tags),
  ),
  UntagResource: onSecret('secretsmanager:UntagResource', UntagResourceInput, ({ engine }, i) =>
    engine.untagResource(i.SecretId, i.TagKeys),
  ),

  GetResourcePolicy: onSecret(
    'secretsmanager:GetResourcePolicy',
    SecretIdInput,
    ({ engine }, i) => engine.find(i.SecretId),
    (s) => ({ ...arnAndName(s), ...(s.resourcePolicy !== undefined && { ResourcePolicy: s.resourcePolicy }) }),
  ),

  PutResourcePolicy: operation({
    input: PutResourcePolicyInput,
    resources: onSecretId('secretsmanager:PutResourcePolicy'),
    async run({ engine }: SecretsApiContext, i) {
      const problems = policyProblems(engine, i.ResourcePolicy);
      if (problems.length) throw new AppError('MalformedPolicyDocumentException', problems.join(' '));
      if (i.BlockPublicPolicy && isPublic(engine, i.ResourcePolicy)) {
        throw new AppError('PublicPolicyException', 'The resource policy grants access to everyone (Principal "*").');
      }
      return arnAndName(await engine.putResourcePolicy(i.SecretId, i.ResourcePolicy));
    },
  }),

  DeleteResourcePolicy: onSecret(
    'secretsmanager:DeleteResourcePolicy',
    SecretIdInput,
    ({ engine }, i) => engine.putResourcePolicy(i.SecretId, undefined),
    arnAndName,
  ),

  ValidateResourcePolicy: operation({
    input: ValidateResourcePolicyInput,
    resources: (i) => [
      i.SecretId === undefined
        ? anyResource('secretsmanager:ValidateResourcePolicy')
        : secret('secretsmanager:ValidateResourcePolicy', i.SecretId),
    ],
    async run({ engine }: SecretsApiContext, i) {
      if (i.SecretId !== undefined) await engine.find(i.SecretId);
      const problems = policyProblems(engine, i.ResourcePolicy);
      return {
        PolicyValidationPassed: problems.length === 0,
        ValidationErrors: problems.map((ErrorMessage) => ({ CheckName: 'SYNTAX_CHECK', ErrorMessage })),
      };
    },
  }),
};
