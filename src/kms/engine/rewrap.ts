// Root-key rotation's half in the engine: every key version re-wrapped under the keyring's current root key.
import { AppError } from '../../core/errors.js';
import type { RootKey } from '../../crypto/index.js';
import type { KeyVersionRecord } from '../store.js';
import type { KmsContext } from './context.js';

/** Re-wraps one version; false when another replica re-wrapped it first. */
async function rewrapOne(ctx: KmsContext, row: KeyVersionRecord, target: RootKey): Promise<boolean> {
  const from = ctx.rootKeys.get(row.rootKeyId);
  if (!from) {
    throw new AppError('KMSInternalException', `key material is wrapped under unknown root key ${row.rootKeyId}`);
  }
  const bytes = from.unwrap(row.keyId, row.version, row.wrappedMaterial);
  const next = target.wrap(row.keyId, row.version, bytes);
  bytes.fill(0);
  return ctx.store.rewrapKeyVersion(row.keyId, row.version, row.rootKeyId, {
    rootKeyId: next.rootKeyId,
    wrappedMaterial: next.wrapped,
  });
}

/**
 * Re-wraps every key version under the keyring's current root key, in batches. Reads keep
 * working throughout: unwrapped material stays cached and the old root key stays in the
 * keyring until the caller retires it.
 */
export async function rewrapUnderCurrentRootKey(ctx: KmsContext, batch = 200): Promise<number> {
  const target = ctx.rootKeys.current;
  let count = 0;
  for (;;) {
    const rows = await ctx.store.versionsNotWrappedBy(target.id, batch);
    if (rows.length === 0) return count;
    let progressed = false;
    for (const row of rows) {
      if (await rewrapOne(ctx, row, target)) {
        count++;
        progressed = true;
      }
    }
    if (!progressed) return count;
  }
}
