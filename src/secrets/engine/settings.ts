// A secret's settings: UpdateSecret (description, KMS key, optionally a new value), tags and the resource policy.
import type { SecretValue } from '../../core/secret-value.js';
import type { SecretRecord, SecretTag } from '../store.js';
import type { EngineParts } from './parts.js';
import { checkTagCount, checkTags, requireEncryptKey } from './validation.js';
import { planNewVersion, reencryptLabelled } from './versions.js';

export interface UpdateSecretInput {
  description?: string;
  kmsKeyId?: string;
  value?: SecretValue;
  token?: string;
}

export async function updateSecret(parts: EngineParts, secretId: string, input: UpdateSecretInput) {
  if (input.kmsKeyId !== undefined) await requireEncryptKey(parts.kms, input.kmsKeyId);
  let versionId: string | undefined;
  const secret = await parts.commits.change(secretId, async (s, stages) => {
    const extra: Partial<SecretRecord> = {
      ...(input.description !== undefined && { description: input.description }),
      ...(input.kmsKeyId !== undefined && { kmsKeyId: input.kmsKeyId }),
    };
    if (input.value) {
      // KmsKeyId applies to this new version too.
      const planned = await planNewVersion(
        parts,
        { ...s, ...extra },
        stages,
        { value: input.value, token: input.token },
        extra,
      );
      versionId = planned.versionId;
      return planned.change;
    }
    const updated = { ...s, ...extra };
    // A new key without a new value: AWS re-encrypts the labelled versions under it.
    const reencrypted = input.kmsKeyId === undefined ? [] : await reencryptLabelled(parts, updated, stages);
    return { secret: updated, reencrypted, events: [{ type: 'SecretUpdated' }] };
  });
  return { secret, versionId };
}

export async function tagResource({ commits }: EngineParts, secretId: string, tags: SecretTag[]) {
  checkTags(tags);
  return commits.change(secretId, async (s) => {
    const merged = new Map(s.tags.map((t) => [t.Key, t.Value]));
    for (const t of tags) merged.set(t.Key, t.Value);
    checkTagCount(merged.size);
    return {
      secret: {
        ...s,
        tags: [...merged].map(([Key, Value]) => ({ Key, Value })),
        ...(merged.size > 0 && { everTagged: true as const }),
      },
      events: [{ type: 'SecretUpdated' }],
    };
  });
}

export async function untagResource({ commits }: EngineParts, secretId: string, keys: string[]) {
  return commits.change(secretId, async (s) => ({
    secret: { ...s, tags: s.tags.filter((t) => !keys.includes(t.Key)) },
    events: [{ type: 'SecretUpdated' }],
  }));
}

export async function putResourcePolicy({ commits }: EngineParts, secretId: string, policy: string | undefined) {
  return commits.change(secretId, async (s) => {
    const { resourcePolicy: _, ...rest } = s;
    return {
      secret: policy === undefined ? rest : { ...rest, resourcePolicy: policy },
      events: [{ type: 'SecretUpdated' }],
    };
  });
}
