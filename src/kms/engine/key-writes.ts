// Key writes: read-modify-write under the per-key lock with optimistic concurrency, and new material wrapped.
import { AppError } from '../../core/errors.js';
import { retryConflicts } from '../../core/keyed-lock.js';
import type { KeyRecord, KeyVersionRecord } from '../store.js';
import type { KmsContext } from './context.js';

/**
 * Runs `write` (a conditional store write) on the latest record under the key's lock, retried when
 * another writer got there first; remembers what was saved.
 */
export async function writeKey(
  ctx: KmsContext,
  ref: string,
  write: (current: KeyRecord) => Promise<KeyRecord | undefined>,
): Promise<KeyRecord> {
  const keyId = await ctx.keys.resolveKeyId(ref);
  const saved = await ctx.withKeyLock(keyId, () =>
    retryConflicts(async () => write(await ctx.keys.loadKey(keyId, true))),
  );
  if (!saved) throw new AppError('ConflictException', `${ctx.arnOf(keyId)} is being changed concurrently; try again.`);
  return ctx.keys.remember(saved);
}

/** Replaces the key's record with what `change` makes of the latest one. */
export function mutateKey(ctx: KmsContext, ref: string, change: (k: KeyRecord) => KeyRecord): Promise<KeyRecord> {
  return writeKey(ctx, ref, (current) => ctx.store.updateKey(change({ ...current, tags: [...current.tags] })));
}

/** Wraps new material under the root key, then zeroes it: only the wrapped copy lives on. */
export function wrapVersion(
  ctx: KmsContext,
  keyId: string,
  version: number,
  bytes: Buffer,
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND',
): KeyVersionRecord {
  const { rootKeyId, wrapped } = ctx.rootKeys.current.wrap(keyId, version, bytes);
  bytes.fill(0);
  const row: KeyVersionRecord = { keyId, version, rootKeyId, wrappedMaterial: wrapped, createdAt: ctx.clock.now() };
  if (rotationType) row.rotationType = rotationType;
  return row;
}
