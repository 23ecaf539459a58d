// The keysafe provider: its configuration (address, token) and its resources, data sources and
// ephemeral resources.
import { KeysafeClient } from './client.js';
import { DiagnosticError, type ProviderDefinition } from './definitions.js';
import { kmsAlias } from './resources/kms-alias.js';
import { kmsKey } from './resources/kms-key.js';
import { kmsPublicKey, secretMetadata, secretValue } from './resources/reads.js';
import { role } from './resources/role.js';
import { secret } from './resources/secret.js';
import { attr } from './schema.js';

export const DEFAULT_ADDRESS = 'http://127.0.0.1:8270';

export const keysafeProvider: ProviderDefinition = {
  schema: {
    version: 0,
    description: 'Keysafe: KMS keys, aliases, secrets and workload roles.',
    attributes: {
      address: attr.string(`Keysafe server URL; default env KEYSAFE_ADDR, else ${DEFAULT_ADDRESS}.`, {
        optional: true,
      }),
      token: attr.string('A Keysafe token (admin or session); default env KEYSAFE_TOKEN.', {
        optional: true,
        sensitive: true,
      }),
    },
  },
  validate(config) {
    const address = config.address;
    if (typeof address === 'string' && !/^https?:\/\/[^/]+/.test(address)) {
      return [
        {
          severity: 'error',
          summary: 'Invalid address',
          detail: `address must be an http(s) URL such as ${DEFAULT_ADDRESS}; got "${address}".`,
          path: ['address'],
        },
      ];
    }
    return [];
  },
  configure(config, env) {
    const address = (typeof config.address === 'string' && config.address) || env.KEYSAFE_ADDR || DEFAULT_ADDRESS;
    const token = (typeof config.token === 'string' && config.token) || env.KEYSAFE_TOKEN;
    if (!token) {
      throw new DiagnosticError([
        {
          severity: 'error',
          summary: 'Missing Keysafe token',
          detail: 'Set token in the provider block or the KEYSAFE_TOKEN environment variable.',
          path: ['token'],
        },
      ]);
    }
    return new KeysafeClient(address, token);
  },
  resources: [kmsKey, kmsAlias, secret, role],
  dataSources: [kmsPublicKey, secretMetadata],
  ephemeralResources: [secretValue],
};
