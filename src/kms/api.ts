// The AWS KMS JSON operations: the groups in api/ merged into the one table the server dispatches on.
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { operation } from '../core/operation.js';
import { aliasOperations } from './api/aliases.js';
import { encryptionOperations } from './api/encryption.js';
import { grantOperations } from './api/grants.js';
import { importOperations } from './api/import.js';
import { keyAgreementOperations } from './api/key-agreement.js';
import { refusingAliasKeyIds } from './api/key-id-only.js';
import { keyOperations } from './api/keys.js';
import { multiRegionOperations } from './api/multi-region.js';
import { policyTagOperations } from './api/policies-tags.js';
import { rotationOperations } from './api/rotation.js';
import { anyResource, type KmsOperation } from './api/shapes.js';
import { signingOperations } from './api/signing.js';

export { keyMetadata } from './api/shapes.js';

const unsupported = (action: string, what: string): KmsOperation =>
  operation({
    input: z.object({}).loose(),
    resources: () => [anyResource(`kms:${action}`)],
    async run() {
      throw new AppError('UnsupportedOperationException', `${what} is not supported by Keysafe.`);
    },
  });

// Operations taking only a key id or key ARN refuse aliases (api/key-id-only.ts).
export const kmsOperations: Record<string, KmsOperation> = refusingAliasKeyIds({
  ...keyOperations,
  ...aliasOperations,
  ...encryptionOperations,
  ...signingOperations,
  ...keyAgreementOperations,
  ...rotationOperations,
  ...policyTagOperations,
  ...grantOperations,
  ...importOperations,
  ...multiRegionOperations,

  CreateCustomKeyStore: unsupported('CreateCustomKeyStore', 'Custom key stores'),
  ConnectCustomKeyStore: unsupported('ConnectCustomKeyStore', 'Custom key stores'),
  DisconnectCustomKeyStore: unsupported('DisconnectCustomKeyStore', 'Custom key stores'),
  DeleteCustomKeyStore: unsupported('DeleteCustomKeyStore', 'Custom key stores'),
  DescribeCustomKeyStores: unsupported('DescribeCustomKeyStores', 'Custom key stores'),
  UpdateCustomKeyStore: unsupported('UpdateCustomKeyStore', 'Custom key stores'),
});

/** AWS's KeyLastUsageTrackingOperation: the operations GetKeyLastUsage reports. */
export const USAGE_TRACKED_OPERATIONS = [
  'Decrypt',
  'DeriveSharedSecret',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'ReEncrypt',
  'Sign',
  'Verify',
  'VerifyMac',
] as const;

/**
 * Notes the key(s) a tracked operation used once it answered (a DryRun or a failed Verify answers an
 * error: not a use). Its answer names them: KeyId, and ReEncrypt's SourceKeyId too.
 */
function noteUse(name: string, op: KmsOperation): KmsOperation {
  return {
    ...op,
    async run(engine, input, access) {
      const answer: { KeyId?: unknown; SourceKeyId?: unknown } = await op.run(engine, input, access);
      for (const ref of [answer.KeyId, answer.SourceKeyId]) {
        if (typeof ref === 'string') engine.noteKeyUse(ref, name);
      }
      return answer;
    },
  };
}

for (const name of USAGE_TRACKED_OPERATIONS) kmsOperations[name] = noteUse(name, kmsOperations[name]!);
