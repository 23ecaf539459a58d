// Key agreement and usage: DeriveSharedSecret (ECDH with a KEY_AGREEMENT key), GetKeyLastUsage, noting each use.
import { parseKeyRef } from '../../core/arn.js';
import { AppError } from '../../core/errors.js';
import { type AsymmetricKey, PeerKeyError } from '../../crypto/index.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireAlgorithm, requireUsable } from './guards.js';

/** A successful cryptographic operation with the key `ref` (id or key ARN) names: noted, not written yet. */
export function noteKeyUse(ctx: KmsContext, ref: string, operation: string): void {
  const parsed = parseKeyRef(ctx.partition, ref);
  if (parsed.kind === 'key') ctx.usage.note(parsed.keyId, operation);
}

export function keyAgreementOperations(ctx: KmsContext) {
  return {
    async deriveSharedSecret(ref: string, algorithm: string, peerPublicKey: Uint8Array) {
      const key = await ctx.keys.getKey(ref);
      refuseInternal(ctx, key);
      requireUsable(ctx, key, 'KEY_AGREEMENT', 'DeriveSharedSecret');
      requireAlgorithm(key, algorithm);
      const asym = (await ctx.keys.material(key, key.currentVersion)) as AsymmetricKey;
      try {
        return { key, sharedSecret: asym.deriveSharedSecret(peerPublicKey) };
      } catch (e) {
        if (!(e instanceof PeerKeyError)) throw e;
        throw new AppError(
          'ValidationException',
          e.reason === 'malformed'
            ? 'PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of an elliptic curve public key.'
            : `The public key's curve does not match the KMS key's key spec ${key.keySpec}.`,
        );
      }
    },

    noteKeyUse: (ref: string, operation: string) => noteKeyUse(ctx, ref, operation),

    /** GetKeyLastUsage: the key, its last use (if any since tracking began) and when tracking began for it. */
    async keyLastUsage(ref: string) {
      const key = await ctx.keys.getKey(ref);
      const [lastUse, trackingStart] = await Promise.all([
        ctx.usage.lastUse(key.keyId),
        ctx.store.keyUsageTrackingStart(),
      ]);
      return { key, lastUse, trackingStartDate: Math.max(trackingStart, key.createdAt) };
    },

    /** Writes the noted uses now (at shutdown, and for tests). */
    flushKeyUsage: () => ctx.usage.flush(),
  };
}
