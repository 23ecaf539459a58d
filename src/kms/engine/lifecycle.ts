// A key's life: CreateKey, DescribeKey, ListKeys, description, enable/disable, scheduled deletion and its cancel.
import { AppError } from '../../core/errors.js';
import { newUuid, randomHex } from '../../crypto/index.js';
import type { Page } from '../../storage/index.js';
import { type KeySpec, type KeyUsage, SPEC_INFO } from '../key-specs.js';
import { generateMaterialInsecure } from '../material.js';
import type { KeyRecord, Tag } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireNotPendingDeletion, requireNotPendingImport } from './guards.js';
import { mutateKey, wrapVersion } from './key-writes.js';
import { hasReplicas, scheduled } from './replica-deletion.js';
import { defaultKeyPolicy, mergeTags } from './tags-policy.js';

export interface CreateKeyInput {
  description?: string;
  keyUsage?: KeyUsage;
  keySpec?: KeySpec;
  policy?: string;
  tags?: Tag[];
  /** EXTERNAL: a key without material, PendingImport until ImportKeyMaterial (src/kms/engine/import.ts). */
  origin?: 'AWS_KMS' | 'EXTERNAL';
  /** A multi-Region primary key (id `mrk-…`), replicable with ReplicateKey (src/kms/engine/multi-region.ts). */
  multiRegion?: boolean;
}

/** The key usage a CreateKey asks for, or the spec's default; refused when the spec cannot serve it. */
function usageFor(input: CreateKeyInput, keySpec: KeySpec): KeyUsage {
  const info = SPEC_INFO[keySpec];
  if (input.keyUsage === undefined && info.kind === 'hmac') {
    throw new AppError(
      'ValidationException',
      'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.',
    );
  }
  const keyUsage =
    input.keyUsage ?? (info.kind === 'asymmetric' && !info.usages.ENCRYPT_DECRYPT ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT');
  if (!info.usages[keyUsage]) {
    throw new AppError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}`);
  }
  return keyUsage;
}

/** Makes a key; Keysafe's own carry their purpose, which no API call can set or clear. */
export async function insertNewKey(
  ctx: KmsContext,
  input: CreateKeyInput,
  internalPurpose?: string,
): Promise<KeyRecord> {
  const keySpec = input.keySpec ?? 'SYMMETRIC_DEFAULT';
  const keyUsage = usageFor(input, keySpec);
  const tags = mergeTags([], input.tags ?? []);
  const keyId = input.multiRegion ? `mrk-${randomHex(16)}` : newUuid();
  const external = input.origin === 'EXTERNAL';
  const record: KeyRecord = {
    keyId,
    revision: 1,
    createdAt: ctx.clock.now(),
    description: input.description ?? '',
    keyUsage,
    keySpec,
    state: external ? 'PendingImport' : 'Enabled',
    currentVersion: 1,
    rotationEnabled: false,
    onDemandRotations: 0,
    policy: input.policy ?? defaultKeyPolicy(ctx.partition),
    tags,
  };
  if (internalPurpose !== undefined) record.internalPurpose = internalPurpose;
  if (external) record.origin = 'EXTERNAL';
  if (input.multiRegion) record.multiRegion = { primaryRegion: ctx.partition.region };
  await ctx.store.insertKey(
    record,
    external ? undefined : wrapVersion(ctx, keyId, 1, generateMaterialInsecure(keySpec)),
  );
  return ctx.keys.remember(record);
}

export function lifecycleOperations(ctx: KmsContext) {
  const { keys } = ctx;
  return {
    createKey: (input: CreateKeyInput): Promise<KeyRecord> => insertNewKey(ctx, input),

    describeKey: (ref: string) => keys.getKey(ref, true),

    /** The key behind a reference, from the cache: what authorization reads on every request. */
    cachedKey: (ref: string) => keys.getKey(ref),

    /** Drops what this replica cached about a key or alias another process changed. */
    invalidateKey: keys.forgetRecord,
    invalidateAlias: keys.forgetAlias,
    invalidateAll: keys.clear,

    listKeys: (limit: number, after?: string): Promise<Page<KeyRecord>> => ctx.store.listKeys(limit, after),

    updateKeyDescription: (ref: string, description: string) =>
      mutateKey(ctx, ref, (k) => {
        refuseInternal(ctx, k);
        requireNotPendingDeletion(ctx, k);
        return { ...k, description };
      }),

    enableKey: (ref: string) =>
      mutateKey(ctx, ref, (k) => {
        requireNotPendingDeletion(ctx, k);
        requireNotPendingImport(ctx, k);
        return { ...k, state: 'Enabled' };
      }),

    disableKey: (ref: string) =>
      mutateKey(ctx, ref, (k) => {
        requireNotPendingDeletion(ctx, k);
        requireNotPendingImport(ctx, k);
        return { ...k, state: 'Disabled' };
      }),

    /** A multi-Region primary with replicas waits for them (PendingReplicaDeletion, replica-deletion.ts). */
    scheduleKeyDeletion: async (ref: string, pendingWindowInDays: number) => {
      const replicas = await hasReplicas(ctx, await keys.getKey(ref, true));
      return mutateKey(ctx, ref, (k) => {
        refuseInternal(ctx, k);
        requireNotPendingDeletion(ctx, k);
        return scheduled(ctx, k, pendingWindowInDays, replicas);
      });
    },

    cancelKeyDeletion: (ref: string) =>
      mutateKey(ctx, ref, (k) => {
        refuseInternal(ctx, k);
        if (k.state !== 'PendingDeletion' && k.state !== 'PendingReplicaDeletion') {
          throw new AppError('KMSInvalidStateException', `${ctx.arnOf(k.keyId)} is not pending deletion.`);
        }
        const { deletionAt: _d, pendingWindowInDays: _p, ...rest } = k;
        // An EXTERNAL key whose material was deleted meanwhile awaits a re-import, as on AWS.
        const awaitsImport = k.origin === 'EXTERNAL' && !k.imported?.present;
        return { ...rest, state: awaitsImport ? 'PendingImport' : 'Disabled' };
      }),
  };
}
