// keysafe_kms_alias: a friendly name (alias/…) pointing at a KMS key; retargeting is in place.
import type { KeysafeClient } from '../client.js';
import type { CtyObject } from '../cty.js';
import type { ResourceDefinition } from '../definitions.js';
import { attr } from '../schema.js';
import { listAliases, str } from './common.js';

async function readAlias(client: KeysafeClient, name: string, prior: CtyObject): Promise<CtyObject | null> {
  const found = (await listAliases(client)).find((a) => a.AliasName === name);
  if (!found?.TargetKeyId) return null;
  // Keep the configured form (id or ARN) when it names the same key.
  const priorTarget = str(prior.target_key_id);
  const sameKey =
    priorTarget !== undefined && (priorTarget === found.TargetKeyId || priorTarget.endsWith(`/${found.TargetKeyId}`));
  return {
    id: found.AliasName,
    name: found.AliasName,
    arn: found.AliasArn,
    target_key_id: sameKey ? priorTarget : found.TargetKeyId,
  };
}

export const kmsAlias: ResourceDefinition = {
  typeName: 'keysafe_kms_alias',
  schema: {
    version: 0,
    description: 'An alias (alias/NAME) of a Keysafe KMS key.',
    attributes: {
      id: attr.string('The alias name.', { computed: true }),
      name: attr.string('The alias, starting with alias/ (not alias/aws/ or alias/keysafe/, which are reserved).', {
        required: true,
        forceNew: true,
      }),
      target_key_id: attr.string('Key id or ARN the alias points at.', { required: true }),
      arn: attr.string('The alias ARN.', { computed: true }),
    },
  },
  validate(config) {
    const name = str(config.name);
    // alias/aws/ and alias/keysafe/ are reserved (the server refuses them too): said at plan time.
    if (
      name === undefined ||
      (/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(name) && !/^alias\/(aws|keysafe)(\/|$)/.test(name))
    )
      return [];
    return [
      {
        severity: 'error',
        summary: 'Invalid name',
        detail: `An alias name starts with "alias/" (not "alias/aws/" or "alias/keysafe/") followed by letters, digits, /, _ or -; got "${name}".`,
        path: ['name'],
      },
    ];
  },
  async create(client, planned) {
    const name = String(planned.name);
    await client.kms('CreateAlias', { AliasName: name, TargetKeyId: String(planned.target_key_id) });
    const state = await readAlias(client, name, planned);
    if (!state) throw new Error(`alias ${name} vanished right after it was created`);
    return state;
  },
  read: (client, state) => readAlias(client, String(state.name ?? state.id), state),
  async update(client, prior, planned) {
    const name = String(prior.name);
    if (planned.target_key_id !== prior.target_key_id) {
      await client.kms('UpdateAlias', { AliasName: name, TargetKeyId: String(planned.target_key_id) });
    }
    const state = await readAlias(client, name, planned);
    if (!state) throw new Error(`alias ${name} is gone`);
    return state;
  },
  async delete(client, prior) {
    await client.kms('DeleteAlias', { AliasName: String(prior.name) }).catch((e: unknown) => {
      if (!(e instanceof Error && e.message.startsWith('NotFoundException'))) throw e;
    });
  },
  importState: (id) => ({ id, name: id }),
};
