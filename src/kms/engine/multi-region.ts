// Multi-Region keys across the regions this server serves: where a key's records are, ReplicateKey, UpdatePrimaryRegion.
//
// Every regional record of a multi-Region key shares the key id, and so (by the store's design) its
// versions and material; each record keeps its own policy, description, tags, aliases and state.
// The record of region `multiRegion.primaryRegion` is the primary: the only one rotated or replicated.
import { keyArn } from '../../core/arn.js';
import { AppError } from '../../core/errors.js';
import { retryConflicts } from '../../core/keyed-lock.js';
import type { KeyRecord, KmsStore, Tag } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireEnabled } from './guards.js';
import { defaultKeyPolicy, mergeTags } from './tags-policy.js';

/** DescribeKey's MultiRegionConfiguration, as regions: the primary's and the replicas' (sorted). */
export interface MultiRegionView {
  primaryRegion: string;
  replicaRegions: string[];
}

export interface ReplicateKeyInput {
  region: string;
  policy?: string;
  description?: string;
  tags?: Tag[];
}

/** Whether the record is a multi-Region key's replica (in the region the context serves). */
export const isReplica = (ctx: KmsContext, k: KeyRecord): boolean =>
  k.multiRegion !== undefined && k.multiRegion.primaryRegion !== ctx.partition.region;

/** The regions holding a record of the key id, with the store view of each. */
export async function holders(ctx: KmsContext, keyId: string): Promise<Map<string, KmsStore>> {
  const found = new Map<string, KmsStore>();
  for (const region of await ctx.regions.list()) {
    let store: KmsStore;
    try {
      store = ctx.regions.store(region);
    } catch {
      continue; // a region with data no longer served (`regions:` narrowed)
    }
    if (await store.getKey(keyId)) found.set(region, store);
  }
  return found;
}

/** Drops other regions' cached records of the key (this process): a rotation or role change happened here. */
export async function forgetElsewhere(ctx: KmsContext, k: KeyRecord): Promise<void> {
  if (!k.multiRegion) return;
  for (const region of await ctx.regions.list())
    if (region !== ctx.partition.region) ctx.regions.forget(region, k.keyId);
}

/** Changes the key's record in `store` (another region's view) with the usual revision check. */
async function mutateIn(store: KmsStore, keyId: string, change: (k: KeyRecord) => KeyRecord): Promise<void> {
  const saved = await retryConflicts(async () => {
    const current = await store.getKey(keyId);
    return current && store.updateKey(change(current));
  });
  if (!saved) throw new AppError('ConflictException', `${keyId} is being changed concurrently; try again.`);
}

/** The multi-Region primary the request names, refused as AWS refuses a single-Region key or a replica. */
function requirePrimary(ctx: KmsContext, k: KeyRecord): NonNullable<KeyRecord['multiRegion']> {
  refuseInternal(ctx, k);
  if (!k.multiRegion) {
    throw new AppError('UnsupportedOperationException', `${ctx.arnOf(k.keyId)} is not a multi-Region key.`);
  }
  if (isReplica(ctx, k)) {
    throw new AppError(
      'UnsupportedOperationException',
      `${ctx.arnOf(k.keyId)} is not a multi-Region primary key. Its primary key is in ${k.multiRegion.primaryRegion}.`,
    );
  }
  return k.multiRegion;
}

/** The key's ARN in another region (same account): multi-Region keys share their key id. */
const arnIn = (ctx: KmsContext, region: string, keyId: string) =>
  keyArn({ region, accountId: ctx.partition.accountId }, keyId);

/** Where a multi-Region key's primary and replicas are (undefined for a single-Region key). */
async function multiRegionView(ctx: KmsContext, k: KeyRecord): Promise<MultiRegionView | undefined> {
  if (!k.multiRegion) return undefined;
  const { primaryRegion } = k.multiRegion;
  const regions = [...(await holders(ctx, k.keyId)).keys()];
  return { primaryRegion, replicaRegions: regions.filter((r) => r !== primaryRegion).sort() };
}

/** The new replica's record: the primary's key properties, the request's own policy, description and tags. */
function replicaRecord(ctx: KmsContext, key: KeyRecord, input: ReplicateKeyInput, primaryRegion: string): KeyRecord {
  return {
    keyId: key.keyId,
    revision: 1,
    createdAt: ctx.clock.now(),
    description: input.description ?? '',
    keyUsage: key.keyUsage,
    keySpec: key.keySpec,
    state: 'Enabled',
    currentVersion: key.currentVersion,
    // Automatic rotation is shared: the primary rotates (its due time), the replicas follow.
    rotationEnabled: key.rotationEnabled,
    ...(key.rotationPeriodInDays !== undefined && { rotationPeriodInDays: key.rotationPeriodInDays }),
    onDemandRotations: 0,
    policy: input.policy ?? defaultKeyPolicy({ region: input.region, accountId: ctx.partition.accountId }),
    tags: mergeTags([], input.tags ?? []),
    multiRegion: { primaryRegion },
  };
}

/** ReplicateKey: a replica record in `input.region` sharing the key id, versions and material. */
async function replicateKey(
  ctx: KmsContext,
  ref: string,
  input: ReplicateKeyInput,
): Promise<{ replica: KeyRecord; view: MultiRegionView }> {
  const key = await ctx.keys.getKey(ref, true);
  refuseInternal(ctx, key);
  requireEnabled(ctx, key);
  const { primaryRegion } = requirePrimary(ctx, key);
  const replicaArn = arnIn(ctx, input.region, key.keyId);
  if (input.region === ctx.partition.region) {
    throw new AppError('AlreadyExistsException', `${replicaArn} already exists.`);
  }
  const target = ctx.regions.store(input.region);
  if (await target.getKey(key.keyId)) throw new AppError('AlreadyExistsException', `${replicaArn} already exists.`);
  const replica = replicaRecord(ctx, key, input, primaryRegion);
  // No version: the replica shares the primary's (versions are keyed by key id alone).
  await target.insertKey(replica);
  ctx.regions.forget(input.region, key.keyId);
  const v = await multiRegionView(ctx, key);
  return { replica, view: v ?? { primaryRegion, replicaRegions: [input.region] } };
}

/**
 * UpdatePrimaryRegion: the replica in `region` becomes the primary, this one a replica. Each
 * region's record is its own row, so the records change one after the other: the replicas, the
 * new primary, and this (the old primary) last, so that a call interrupted half-way can be made
 * again on the old primary and completes.
 */
async function updatePrimaryRegion(ctx: KmsContext, ref: string, region: string): Promise<void> {
  const key = await ctx.keys.getKey(ref, true);
  refuseInternal(ctx, key);
  requireEnabled(ctx, key);
  requirePrimary(ctx, key);
  const all = await holders(ctx, key.keyId);
  const target = all.get(region);
  if (region === ctx.partition.region) return; // already the primary: nothing changes
  const targetRecord = target && (await target.getKey(key.keyId));
  if (!target || !targetRecord) {
    throw new AppError('NotFoundException', `Key '${arnIn(ctx, region, key.keyId)}' does not exist`);
  }
  if (targetRecord.state === 'PendingDeletion') {
    throw new AppError('KMSInvalidStateException', `${arnIn(ctx, region, key.keyId)} is pending deletion.`);
  }
  const schedule = key.nextRotationAt === undefined ? {} : { nextRotationAt: key.nextRotationAt };
  for (const [r, store] of all) {
    if (r === ctx.partition.region || r === region) continue;
    await mutateIn(store, key.keyId, (k) => ({ ...k, multiRegion: { primaryRegion: region } }));
  }
  // The rotation schedule moves with the primary role: only the primary is rotated.
  await mutateIn(target, key.keyId, (k) => ({ ...k, ...schedule, multiRegion: { primaryRegion: region } }));
  await mutateIn(ctx.store, key.keyId, ({ nextRotationAt: _n, ...k }) => ({
    ...k,
    multiRegion: { primaryRegion: region },
  }));
  ctx.keys.forgetRecord(key.keyId);
  await forgetElsewhere(ctx, key);
}

export function multiRegionOperations(ctx: KmsContext) {
  return {
    /** Where a multi-Region key's primary and replicas are (undefined for a single-Region key). */
    multiRegionView: (k: KeyRecord): Promise<MultiRegionView | undefined> => multiRegionView(ctx, k),

    /** ReplicateKey: a replica record in `input.region` sharing the key id, versions and material. */
    replicateKey: (ref: string, input: ReplicateKeyInput): Promise<{ replica: KeyRecord; view: MultiRegionView }> =>
      replicateKey(ctx, ref, input),

    /** UpdatePrimaryRegion: the replica in `region` becomes the primary (see the function above). */
    updatePrimaryRegion: (ref: string, region: string): Promise<void> => updatePrimaryRegion(ctx, ref, region),
  };
}
