// The AWS KMS JSON operations: the groups in api/ merged into the one table the server dispatches on.
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { operation } from '../core/operation.js';
import { aliasOperations } from './api/aliases.js';
import { encryptionOperations } from './api/encryption.js';
import { grantOperations } from './api/grants.js';
import { keyOperations } from './api/keys.js';
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

export const kmsOperations: Record<string, KmsOperation> = {
  ...keyOperations,
  ...aliasOperations,
  ...encryptionOperations,
  ...signingOperations,
  ...rotationOperations,
  ...policyTagOperations,
  ...grantOperations,

  ReplicateKey: unsupported('ReplicateKey', 'ReplicateKey (multi-Region keys)'),
  UpdatePrimaryRegion: unsupported('UpdatePrimaryRegion', 'UpdatePrimaryRegion (multi-Region keys)'),
  CreateCustomKeyStore: unsupported('CreateCustomKeyStore', 'Custom key stores'),
  ConnectCustomKeyStore: unsupported('ConnectCustomKeyStore', 'Custom key stores'),
  DisconnectCustomKeyStore: unsupported('DisconnectCustomKeyStore', 'Custom key stores'),
  DeleteCustomKeyStore: unsupported('DeleteCustomKeyStore', 'Custom key stores'),
  DescribeCustomKeyStores: unsupported('DescribeCustomKeyStores', 'Custom key stores'),
  UpdateCustomKeyStore: unsupported('UpdateCustomKeyStore', 'Custom key stores'),
  GetParametersForImport: unsupported('GetParametersForImport', 'Importing key material'),
  ImportKeyMaterial: unsupported('ImportKeyMaterial', 'Importing key material'),
  DeleteImportedKeyMaterial: unsupported('DeleteImportedKeyMaterial', 'Importing key material'),
  DeriveSharedSecret: unsupported('DeriveSharedSecret', 'DeriveSharedSecret (KEY_AGREEMENT keys)'),
  GetKeyLastUsage: unsupported('GetKeyLastUsage', 'GetKeyLastUsage'),
};
