// What only the server itself calls, never the API: Keysafe's own keys and aliases, and using them.
import { DAY_MS } from '../../core/clock.js';
import type { EncryptionContext } from '../../crypto/index.js';
import type { Logger } from '../../observability/logger.js';
import type { InternalKeyRecord } from '../store.js';
import { pointAlias } from './aliases.js';
import type { KmsContext } from './context.js';
import { dataKeyWith } from './data-keys.js';
import { decryptWith } from './encryption.js';
import { noteKeyUse } from './key-agreement.js';
import { mutateKey } from './key-writes.js';
import { type CreateKeyInput, insertNewKey } from './lifecycle.js';
import { macWith } from './signing.js';

/** The API layer reaches the engine's other methods, which refuse Keysafe's own keys. */
export function internalOperations(ctx: KmsContext, logger: Logger | undefined) {
  const { store } = ctx;
  const noted = async <R extends { keyId: string }>(result: Promise<R>, operation: string): Promise<R> => {
    const r = await result;
    noteKeyUse(ctx, r.keyId, operation);
    return r;
  };
  return {
    logger,
    now: () => ctx.clock.now(),
    createKey: (input: CreateKeyInput, internalPurpose?: string) => insertNewKey(ctx, input, internalPurpose),
    // Uses on the server's behalf count as the key's use (as Secrets Manager's Decrypt calls do in AWS)
    generateMac: (ref: string, message: Uint8Array, algorithm: string) =>
      noted(macWith(ctx, ref, message, algorithm, true), 'GenerateMac'),
    generateDataKey: (ref: string, numberOfBytes: number, context?: EncryptionContext) =>
      noted(dataKeyWith(ctx, ref, numberOfBytes, context, true), 'GenerateDataKey'),
    /** Decrypts what the server sealed, under its own key or a customer's. */
    decrypt: (blob: Uint8Array, context?: EncryptionContext) =>
      noted(decryptWith(ctx, blob, context, undefined, undefined, true), 'Decrypt'),
    getInternalKey: (purpose: string) => store.getInternalKey(purpose),
    recordInternalKey: (record: InternalKeyRecord) => store.recordInternalKey(record),
    getAlias: (name: string) => store.getAlias(name),
    /** Marks a key as Keysafe's own (its purpose) with the given key policy. */
    claimKey: (keyId: string, purpose: string, policy: string) =>
      mutateKey(ctx, keyId, (k) => ({ ...k, internalPurpose: purpose, policy })),
    /** Retires a key made for a purpose another replica recorded first. */
    retireKey: (keyId: string) =>
      mutateKey(ctx, keyId, (k) => {
        const { internalPurpose: _i, ...rest } = k;
        return { ...rest, state: 'PendingDeletion', pendingWindowInDays: 7, deletionAt: ctx.clock.now() + 7 * DAY_MS };
      }),
    /** Points one of Keysafe's reserved aliases at its key (creating it), for display. */
    pointAlias: (name: string, keyId: string) => pointAlias(ctx, name, keyId),
  };
}
