// KMS key agreement and usage operations: DeriveSharedSecret (ECDH) and GetKeyLastUsage.
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { blob, epochSeconds } from '../../core/wire.js';
import type { KmsEngine } from '../engine.js';
import { KEY_AGREEMENT_ALGORITHMS } from '../key-specs.js';
import { b64, dryRun, dryRunDone, grantTokens, type KmsOperation, key, keyId, onKey, recipient } from './shapes.js';

const DeriveSharedSecretInput = z.object({
  KeyId: keyId,
  KeyAgreementAlgorithm: z.enum(KEY_AGREEMENT_ALGORITHMS),
  PublicKey: blob(1, 8192),
  GrantTokens: grantTokens,
  DryRun: dryRun,
  Recipient: recipient,
});
const GetKeyLastUsageInput = z.object({ KeyId: keyId });

export const keyAgreementOperations: Record<string, KmsOperation> = {
  DeriveSharedSecret: operation({
    input: DeriveSharedSecretInput,
    resources: (i) => [key('kms:DeriveSharedSecret', i.KeyId)],
    async run(engine: KmsEngine, i) {
      if (i.Recipient !== undefined) {
        throw new AppError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported.');
      }
      const r = await engine.deriveSharedSecret(i.KeyId, i.KeyAgreementAlgorithm, i.PublicKey);
      try {
        dryRunDone(i.DryRun);
        return {
          KeyId: engine.arnOf(r.key.keyId),
          SharedSecret: b64(r.sharedSecret),
          KeyAgreementAlgorithm: i.KeyAgreementAlgorithm,
          KeyOrigin: 'AWS_KMS',
        };
      } finally {
        r.sharedSecret.fill(0);
      }
    },
  }),

  GetKeyLastUsage: onKey(
    'kms:GetKeyLastUsage',
    GetKeyLastUsageInput,
    // Alias names are refused as for every key-id-only operation (api/key-id-only.ts).
    (engine, i) => engine.keyLastUsage(i.KeyId),
    ({ key: k, lastUse, trackingStartDate }) => ({
      KeyId: k.keyId,
      // Empty when the key has not been used since tracking began, as AWS answers
      KeyLastUsage: lastUse ? { Operation: lastUse.operation, Timestamp: epochSeconds(lastUse.at) } : {},
      TrackingStartDate: epochSeconds(trackingStartDate),
      KeyCreationDate: epochSeconds(k.createdAt),
    }),
  ),
};
