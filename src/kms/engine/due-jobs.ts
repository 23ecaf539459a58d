// The work that falls due with time: automatic rotations, deletions whose waiting period ended, imported material that expired.
import { DAY_MS } from '../../core/clock.js';
import { generateMaterialInsecure } from '../material.js';
import { type KeyRecord, materialExpiresAt } from '../store.js';
import type { KmsContext } from './context.js';
import { expireMaterial } from './import.js';
import { wrapVersion } from './key-writes.js';
import { forgetElsewhere } from './multi-region.js';
import { settleAfterReplica, settlePrimary } from './replica-deletion.js';
import { DEFAULT_ROTATION_DAYS } from './rotation.js';

/** Deletes the key and its grants if its revision still matches: false when another replica changed or deleted it first. */
async function deleteDue(ctx: KmsContext, key: KeyRecord): Promise<boolean> {
  if (!(await ctx.store.deleteKey(key.keyId, key.revision))) return false;
  ctx.keys.forget(key.keyId);
  // A grant names its key by ARN, not by a foreign key: its grants go once the key is gone.
  await ctx.store.deleteGrantsOfKey(ctx.arnOf(key.keyId));
  // A replica: its primary may have been waiting for it (PendingReplicaDeletion).
  await settleAfterReplica(ctx, key);
  return true;
}

/** Adds the next version and the next due time, if the revision still matches (else another replica did). */
async function rotateDue(ctx: KmsContext, key: KeyRecord, now: number): Promise<boolean> {
  const version = key.currentVersion + 1;
  const next: KeyRecord = {
    ...key,
    currentVersion: version,
    nextRotationAt: now + (key.rotationPeriodInDays ?? DEFAULT_ROTATION_DAYS) * DAY_MS,
  };
  const bytes = generateMaterialInsecure(key.keySpec);
  const saved = await ctx.store.addKeyVersion(next, wrapVersion(ctx, key.keyId, version, bytes, 'AUTOMATIC'));
  if (!saved) return false;
  ctx.keys.remember(saved);
  await forgetElsewhere(ctx, saved);
  return true;
}

/**
 * Runs the work that is due: automatic rotations, deletions whose window ended, expired imported material. Safe to
 * call from several replicas at once: each change is conditional on the revision read, so
 * exactly one caller performs it and the others see a conflict and skip.
 */
export async function runDueJobs(
  ctx: KmsContext,
  limit = 100,
): Promise<{ rotated: number; deleted: number; materialsExpired: number }> {
  const now = ctx.clock.now();
  let rotated = 0;
  let deleted = 0;
  let materialsExpired = 0;
  for (const key of await ctx.store.dueKeys(now, limit)) {
    const expires = materialExpiresAt(key);
    // Expired material goes first; a deletion also due is done on the next run, from the new revision.
    if (expires !== undefined && expires <= now) {
      if (await expireMaterial(ctx, key)) materialsExpired++;
    } else if (key.state === 'PendingDeletion' && key.deletionAt !== undefined && key.deletionAt <= now) {
      if (await deleteDue(ctx, key)) deleted++;
    } else if (key.state === 'PendingReplicaDeletion' && key.deletionAt !== undefined && key.deletionAt <= now) {
      await settlePrimary(ctx, key); // its deletion, when due, is a later run's
    } else if (key.state === 'Enabled' && key.nextRotationAt !== undefined && key.nextRotationAt <= now) {
      if (await rotateDue(ctx, key, now)) rotated++;
    }
  }
  return { rotated, deleted, materialsExpired };
}
