// A key's tags and key policy: TagResource, UntagResource, ListResourceTags, GetKeyPolicy, PutKeyPolicy.
import type { Partition } from '../../core/arn.js';
import { AppError } from '../../core/errors.js';
import type { Tag } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireNotPendingDeletion } from './guards.js';
import { mutateKey } from './key-writes.js';

const MAX_TAGS = 50;

/** Adds or replaces tags: aws: keys are reserved, a key may not repeat, at most MAX_TAGS in all. */
export function mergeTags(existing: readonly Tag[], added: readonly Tag[]): Tag[] {
  const seen = new Set<string>();
  for (const t of added) {
    if (t.TagKey.startsWith('aws:')) throw new AppError('TagException', 'Tags beginning with aws: are reserved');
    if (seen.has(t.TagKey)) throw new AppError('TagException', 'Duplicate tag keys');
    seen.add(t.TagKey);
  }
  const merged = new Map(existing.map((t) => [t.TagKey, t.TagValue]));
  for (const t of added) merged.set(t.TagKey, t.TagValue);
  if (merged.size > MAX_TAGS) throw new AppError('TagException', 'Too many tags');
  return [...merged].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}

/** AWS's default key policy: the account root may do everything (enforced by the access-control issue). */
export function defaultKeyPolicy(p: Partition): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${p.accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}

export function tagPolicyOperations(ctx: KmsContext) {
  return {
    tagResource: (ref: string, tags: Tag[]) =>
      mutateKey(ctx, ref, (k) => {
        refuseInternal(ctx, k);
        requireNotPendingDeletion(ctx, k);
        return { ...k, tags: mergeTags(k.tags, tags) };
      }),

    untagResource: (ref: string, tagKeys: string[]) =>
      mutateKey(ctx, ref, (k) => {
        refuseInternal(ctx, k);
        requireNotPendingDeletion(ctx, k);
        return { ...k, tags: k.tags.filter((t) => !tagKeys.includes(t.TagKey)) };
      }),

    async listResourceTags(ref: string): Promise<Tag[]> {
      return (await ctx.keys.getKey(ref, true)).tags;
    },

    async getKeyPolicy(ref: string): Promise<string> {
      return (await ctx.keys.getKey(ref, true)).policy;
    },

    putKeyPolicy: (ref: string, policy: string) =>
      mutateKey(ctx, ref, (k) => {
        refuseInternal(ctx, k);
        requireNotPendingDeletion(ctx, k);
        return { ...k, policy };
      }),
  };
}
