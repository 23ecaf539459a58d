// Key rotation: automatic rotation settings, on-demand rotation and its limit, rotation status and history.
import { DAY_MS } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { SPEC_INFO } from '../key-specs.js';
import { generateMaterialInsecure } from '../material.js';
import type { KeyRecord, KeyVersionRecord } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireEnabled, requireNotPendingDeletion } from './guards.js';
import { mutateKey, wrapVersion, writeKey } from './key-writes.js';
import { forgetElsewhere, isReplica } from './multi-region.js';

export const MAX_ON_DEMAND_ROTATIONS = 25;
export const DEFAULT_ROTATION_DAYS = 365;

export interface RotationStatus {
  enabled: boolean;
  periodInDays?: number;
  nextRotationAt?: number;
}

function requireRotatable(ctx: KmsContext, k: KeyRecord): void {
  // Rotation is a shared property of a multi-Region key, set and done on its primary only.
  if (isReplica(ctx, k)) {
    throw new AppError(
      'UnsupportedOperationException',
      `${ctx.arnOf(k.keyId)} is a multi-Region replica key. Manage its rotation on its primary key in ${k.multiRegion?.primaryRegion}.`,
    );
  }
  // AWS rotates imported material only on demand, once new material is imported: Keysafe keeps one.
  if (k.origin === 'EXTERNAL') {
    throw new AppError(
      'UnsupportedOperationException',
      `${ctx.arnOf(k.keyId)} origin is EXTERNAL which is not valid for this operation.`,
    );
  }
  requireEnabled(ctx, k);
  if (SPEC_INFO[k.keySpec].kind !== 'symmetric') {
    throw new AppError('UnsupportedOperationException', `${ctx.arnOf(k.keyId)} does not support automatic rotation.`);
  }
}

/** Gives the key a new current version; older versions stay, so what they sealed still opens. */
async function rotateNow(ctx: KmsContext, keyId: string): Promise<KeyRecord> {
  const rotated = await writeKey(ctx, keyId, (current) => {
    const version = current.currentVersion + 1;
    const next: KeyRecord = { ...current, currentVersion: version, onDemandRotations: current.onDemandRotations + 1 };
    const bytes = generateMaterialInsecure(current.keySpec);
    return ctx.store.addKeyVersion(next, wrapVersion(ctx, current.keyId, version, bytes, 'ON_DEMAND'));
  });
  // Replicas derive their current version from the shared versions; their cached records must not lag.
  await forgetElsewhere(ctx, rotated);
  return rotated;
}

/** A replica reports its primary's automatic rotation (a shared property); its own record does not carry it. */
async function rotationSource(ctx: KmsContext, key: KeyRecord): Promise<KeyRecord> {
  if (!key.multiRegion || !isReplica(ctx, key)) return key;
  try {
    return (await ctx.regions.store(key.multiRegion.primaryRegion).getKey(key.keyId)) ?? key;
  } catch {
    return key; // the primary's region is no longer served
  }
}

export function rotationOperations(ctx: KmsContext) {
  const { keys, clock } = ctx;
  return {
    enableKeyRotation: (ref: string, periodInDays = DEFAULT_ROTATION_DAYS) =>
      mutateKey(ctx, ref, (k) => {
        refuseInternal(ctx, k);
        requireRotatable(ctx, k);
        return {
          ...k,
          rotationEnabled: true,
          rotationPeriodInDays: periodInDays,
          nextRotationAt: clock.now() + periodInDays * DAY_MS,
        };
      }),

    disableKeyRotation: (ref: string) =>
      mutateKey(ctx, ref, (k) => {
        refuseInternal(ctx, k);
        requireRotatable(ctx, k);
        const { nextRotationAt: _n, rotationPeriodInDays: _p, ...rest } = k;
        return { ...rest, rotationEnabled: false };
      }),

    async getKeyRotationStatus(ref: string): Promise<{ key: KeyRecord; status: RotationStatus }> {
      const key = await keys.getKey(ref, true);
      requireNotPendingDeletion(ctx, key);
      const source = await rotationSource(ctx, key);
      const status: RotationStatus = { enabled: source.rotationEnabled };
      if (source.rotationEnabled) {
        status.periodInDays = source.rotationPeriodInDays ?? DEFAULT_ROTATION_DAYS;
        if (source.nextRotationAt !== undefined) status.nextRotationAt = source.nextRotationAt;
      }
      return { key, status };
    },

    async rotateKeyOnDemand(ref: string): Promise<KeyRecord> {
      const key = await keys.getKey(ref, true);
      refuseInternal(ctx, key);
      requireRotatable(ctx, key);
      if (key.onDemandRotations >= MAX_ON_DEMAND_ROTATIONS) {
        throw new AppError(
          'LimitExceededException',
          `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${ctx.arnOf(key.keyId)}`,
        );
      }
      return rotateNow(ctx, key.keyId);
    },

    async listKeyRotations(ref: string): Promise<{ key: KeyRecord; rotations: KeyVersionRecord[] }> {
      const key = await keys.getKey(ref, true);
      if (SPEC_INFO[key.keySpec].kind !== 'symmetric') {
        throw new AppError('UnsupportedOperationException', `${ctx.arnOf(key.keyId)} does not support rotation.`);
      }
      const rotations = (await ctx.store.listKeyVersions(key.keyId)).filter((v) => v.rotationType !== undefined);
      return { key, rotations };
    },
  };
}
