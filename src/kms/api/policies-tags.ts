// KMS tag and key policy operations: tag, untag, list tags; get, put and list the (one, default) key policy.
import { z } from 'zod';
import { parseKeyRef } from '../../core/arn.js';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { int, str } from '../../core/wire.js';
import type { KmsEngine } from '../engine.js';
import { refuseLockout } from './policy-lockout.js';
import {
  type KmsOperation,
  keyId,
  limit,
  marker,
  onKey,
  onKeyId,
  paginate,
  policy,
  policyName,
  validatePolicy,
} from './shapes.js';

const TagResourceInput = z.object({
  KeyId: keyId,
  Tags: z.array(z.object({ TagKey: str(1, 128), TagValue: str(0, 256) })),
});
const UntagResourceInput = z.object({ KeyId: keyId, TagKeys: z.array(str(1, 128)) });
const ListResourceTagsInput = z.object({ KeyId: keyId, Limit: int(1, 50).optional(), Marker: marker });
const GetKeyPolicyInput = z.object({ KeyId: keyId, PolicyName: policyName.optional() });
const PutKeyPolicyInput = z.object({
  KeyId: keyId,
  PolicyName: policyName.optional(),
  Policy: policy,
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
});
const ListKeyPoliciesInput = z.object({ KeyId: keyId, Limit: limit, Marker: marker });

function requireDefaultPolicyName(name: string | undefined): void {
  if (name !== undefined && name !== 'default') {
    throw new AppError(
      'NotFoundException',
      `No such policy exists: ${name.slice(0, 128)}. Only 'default' is supported.`,
    );
  }
}

export const policyTagOperations: Record<string, KmsOperation> = {
  TagResource: onKey('kms:TagResource', TagResourceInput, (engine, i) => engine.tagResource(i.KeyId, i.Tags)),
  UntagResource: onKey('kms:UntagResource', UntagResourceInput, (engine, i) =>
    engine.untagResource(i.KeyId, i.TagKeys),
  ),
  ListResourceTags: onKey(
    'kms:ListResourceTags',
    ListResourceTagsInput,
    (engine, i) => engine.listResourceTags(i.KeyId),
    (all, _engine, i) => paginate(all, i.Limit ?? 50, i.Marker, 'Tags'),
  ),

  GetKeyPolicy: operation({
    input: GetKeyPolicyInput,
    resources: onKeyId('kms:GetKeyPolicy'),
    async run(engine: KmsEngine, i) {
      requireDefaultPolicyName(i.PolicyName);
      return { Policy: await engine.getKeyPolicy(i.KeyId), PolicyName: 'default' };
    },
  }),

  PutKeyPolicy: operation({
    input: PutKeyPolicyInput,
    resources: onKeyId('kms:PutKeyPolicy'),
    async run(engine: KmsEngine, i, access) {
      requireDefaultPolicyName(i.PolicyName);
      validatePolicy(engine, i.Policy);
      const ref = parseKeyRef(engine.partition, i.KeyId);
      if (ref.kind === 'key') {
        refuseLockout(engine, access, engine.arnOf(ref.keyId), i.Policy, i.BypassPolicyLockoutSafetyCheck);
      }
      await engine.putKeyPolicy(i.KeyId, i.Policy);
      return {};
    },
  }),

  ListKeyPolicies: onKey(
    'kms:ListKeyPolicies',
    ListKeyPoliciesInput,
    (engine, i) => engine.describeKey(i.KeyId),
    () => ({ PolicyNames: ['default'], Truncated: false }),
  ),
};
