// PendingReplicaDeletion: a multi-Region primary scheduled for deletion waits until its replicas are deleted.
//
// As on AWS, the primary's waiting period (PendingWindowInDays) starts when its last replica is
// deleted, not when scheduled. The replica's deletion moves the primary on at once (settleAfterReplica);
// the due jobs of the primary's region also look again at the earliest time the last replica can be
// gone (settlePrimary), so a primary whose replicas another process deleted, or which crashed between
// the two writes, still moves on.
import { DAY_MS } from '../../core/clock.js';
import { retryConflicts } from '../../core/keyed-lock.js';
import type { KeyRecord, KmsStore } from '../store.js';
import type { KmsContext } from './context.js';
import { holders, isReplica } from './multi-region.js';

/** AWS's shortest waiting period: a replica not yet scheduled for deletion is here at least that long. */
const MIN_WINDOW_DAYS = 7;

/** Whether `k` is a multi-Region primary with replica records in other regions. */
export async function hasReplicas(ctx: KmsContext, k: KeyRecord): Promise<boolean> {
  if (!k.multiRegion || isReplica(ctx, k)) return false;
  return [...(await holders(ctx, k.keyId)).keys()].some((r) => r !== ctx.partition.region);
}

/**
 * The record ScheduleKeyDeletion writes: PendingDeletion from now, or for a primary with replicas
 * PendingReplicaDeletion, looked at by the next due-jobs run (deletionAt: now).
 */
export function scheduled(ctx: KmsContext, k: KeyRecord, days: number, replicas: boolean): KeyRecord {
  const now = ctx.clock.now();
  return replicas
    ? { ...k, state: 'PendingReplicaDeletion', pendingWindowInDays: days, deletionAt: now }
    : { ...k, state: 'PendingDeletion', pendingWindowInDays: days, deletionAt: now + days * DAY_MS };
}

/**
 * The primary's next state: PendingDeletion from now when no replica is left, else the earliest time the
 * last replica can be gone (a PendingDeletion replica's DeletionDate; another at least the shortest window).
 */
async function nextState(ctx: KmsContext, primaryRegion: string, k: KeyRecord): Promise<KeyRecord> {
  const now = ctx.clock.now();
  let earliest: number | undefined;
  for (const [region, store] of await holders(ctx, k.keyId)) {
    if (region === primaryRegion) continue;
    const replica = await store.getKey(k.keyId);
    if (!replica) continue;
    const gone =
      replica.state === 'PendingDeletion' && replica.deletionAt !== undefined
        ? replica.deletionAt
        : now + MIN_WINDOW_DAYS * DAY_MS;
    earliest = Math.max(earliest ?? gone, gone);
  }
  if (earliest === undefined) {
    return { ...k, state: 'PendingDeletion', deletionAt: now + (k.pendingWindowInDays ?? 30) * DAY_MS };
  }
  return { ...k, deletionAt: earliest };
}

/**
 * Moves the PendingReplicaDeletion primary in `store` (region `primaryRegion`) on, conditional on its
 * revision. True when it became PendingDeletion.
 */
async function settle(ctx: KmsContext, primaryRegion: string, store: KmsStore, keyId: string): Promise<boolean> {
  const saved = await retryConflicts(async () => {
    const k = await store.getKey(keyId);
    if (k?.state !== 'PendingReplicaDeletion') return { moved: false };
    const next = await nextState(ctx, primaryRegion, k);
    if (next.state === k.state && next.deletionAt === k.deletionAt) return { moved: false };
    const written = await store.updateKey(next);
    return written && { moved: written.state === 'PendingDeletion' };
  });
  ctx.regions.forget(primaryRegion, keyId);
  if (primaryRegion === ctx.partition.region) ctx.keys.forget(keyId);
  return saved?.moved === true;
}

/** Due jobs: a PendingReplicaDeletion primary of this region whose look-again time came. */
export const settlePrimary = (ctx: KmsContext, k: KeyRecord): Promise<boolean> =>
  settle(ctx, ctx.partition.region, ctx.store, k.keyId);

/** After a replica of this region was deleted: its primary, if waiting for it, may start its waiting period. */
export async function settleAfterReplica(ctx: KmsContext, replica: KeyRecord): Promise<void> {
  const primaryRegion = replica.multiRegion?.primaryRegion;
  if (primaryRegion === undefined || primaryRegion === ctx.partition.region) return;
  let store: KmsStore;
  try {
    store = ctx.regions.store(primaryRegion);
  } catch {
    return; // the primary's region is no longer served: nothing of it to move here
  }
  await settle(ctx, primaryRegion, store, replica.keyId);
}
