// keysafe_kms_key: a KMS key. Destroy schedules its deletion (it is pending deletion for the window).
import { KEY_SPECS, KEY_USAGES } from '../../../kms/key-specs.js';
import { isNotFound, type KeysafeClient } from '../client.js';
import { type CtyObject, UNKNOWN } from '../cty.js';
import type { ResourceDefinition } from '../definitions.js';
import { attr } from '../schema.js';
import {
  bool,
  jsonDiagnostic,
  num,
  oneOfDiagnostic,
  rangeDiagnostic,
  sameJsonOr,
  str,
  strMap,
  tagChanges,
  tagsState,
} from './common.js';

interface KeyMetadata {
  KeyId: string;
  Arn: string;
  Description?: string;
  KeyUsage: string;
  KeySpec?: string;
  KeyState: string;
}

/** The key as the server has it now, or null when gone (or pending deletion: for Terraform it is gone). */
export async function readKey(client: KeysafeClient, keyId: string, prior: CtyObject): Promise<CtyObject | null> {
  let meta: KeyMetadata;
  try {
    meta = (await client.kms<{ KeyMetadata: KeyMetadata }>('DescribeKey', { KeyId: keyId })).KeyMetadata;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
  if (meta.KeyState === 'PendingDeletion' || meta.KeyState === 'PendingReplicaDeletion') return null;
  const spec = meta.KeySpec ?? 'SYMMETRIC_DEFAULT';
  let rotation: { KeyRotationEnabled?: boolean; RotationPeriodInDays?: number } = {};
  if (spec === 'SYMMETRIC_DEFAULT') {
    rotation = await client.kms('GetKeyRotationStatus', { KeyId: meta.KeyId });
  }
  const { Policy } = await client.kms<{ Policy: string }>('GetKeyPolicy', { KeyId: meta.KeyId, PolicyName: 'default' });
  const { Tags } = await client.kms<{ Tags?: { TagKey: string; TagValue: string }[] }>('ListResourceTags', {
    KeyId: meta.KeyId,
  });
  return {
    id: meta.KeyId,
    arn: meta.Arn,
    description: meta.Description ?? '',
    key_usage: meta.KeyUsage,
    key_spec: spec,
    enable_key_rotation: rotation.KeyRotationEnabled === true,
    rotation_period_in_days: rotation.KeyRotationEnabled ? (rotation.RotationPeriodInDays ?? null) : null,
    deletion_window_in_days: prior.deletion_window_in_days ?? null,
    policy: sameJsonOr(prior.policy, Policy),
    tags: tagsState(Object.fromEntries((Tags ?? []).map((t) => [t.TagKey, t.TagValue])), prior.tags),
  };
}

async function applyRotation(client: KeysafeClient, keyId: string, planned: CtyObject): Promise<void> {
  if (bool(planned.enable_key_rotation)) {
    const period = num(planned.rotation_period_in_days);
    await client.kms('EnableKeyRotation', {
      KeyId: keyId,
      ...(period !== undefined && { RotationPeriodInDays: period }),
    });
  } else {
    await client.kms('DisableKeyRotation', { KeyId: keyId });
  }
}

export const kmsKey: ResourceDefinition = {
  typeName: 'keysafe_kms_key',
  schema: {
    version: 0,
    description: 'A Keysafe KMS key. Destroying it schedules its deletion after deletion_window_in_days.',
    attributes: {
      id: attr.string('The key id.', { computed: true }),
      arn: attr.string('The key ARN.', { computed: true }),
      description: attr.string('Description of the key.', { optional: true, computed: true, default: '' }),
      key_usage: attr.string('ENCRYPT_DECRYPT (default), SIGN_VERIFY or GENERATE_VERIFY_MAC.', {
        optional: true,
        computed: true,
        forceNew: true,
        default: 'ENCRYPT_DECRYPT',
      }),
      key_spec: attr.string('SYMMETRIC_DEFAULT (default), an RSA_*, ECC_* or HMAC_* spec.', {
        optional: true,
        computed: true,
        forceNew: true,
        default: 'SYMMETRIC_DEFAULT',
      }),
      enable_key_rotation: attr.bool('Rotate the key material automatically (symmetric keys).', {
        optional: true,
        computed: true,
        default: false,
      }),
      rotation_period_in_days: attr.number('Days between automatic rotations (90–2560; server default 365).', {
        optional: true,
        computed: true,
      }),
      deletion_window_in_days: attr.number('Days (7–30) a destroyed key stays pending deletion; default 30.', {
        optional: true,
      }),
      policy: attr.string('The key policy, IAM JSON. Default: the server’s default key policy.', {
        optional: true,
        computed: true,
      }),
      tags: attr.stringMap('Tags.', { optional: true }),
    },
  },
  validate: (config) => [
    ...oneOfDiagnostic(config, 'key_usage', KEY_USAGES),
    ...oneOfDiagnostic(config, 'key_spec', KEY_SPECS),
    ...rangeDiagnostic(config, 'rotation_period_in_days', 90, 2560),
    ...rangeDiagnostic(config, 'deletion_window_in_days', 7, 30),
    ...jsonDiagnostic(config, 'policy'),
  ],
  modifyPlan({ prior, planned, config }) {
    if (!prior) {
      if (!bool(planned.enable_key_rotation) && config.rotation_period_in_days === null) {
        planned.rotation_period_in_days = null;
      }
      return;
    }
    // Turning rotation on without a period: the server picks it.
    if (prior.enable_key_rotation !== planned.enable_key_rotation && config.rotation_period_in_days === null) {
      planned.rotation_period_in_days = planned.enable_key_rotation ? UNKNOWN : null;
    }
  },
  async create(client, planned) {
    const tags = strMap(planned.tags);
    const policy = str(planned.policy);
    const { KeyMetadata } = await client.kms<{ KeyMetadata: KeyMetadata }>('CreateKey', {
      Description: str(planned.description) ?? '',
      KeyUsage: str(planned.key_usage),
      KeySpec: str(planned.key_spec),
      ...(policy !== undefined && { Policy: policy }),
      ...(tags && { Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) }),
    });
    if (bool(planned.enable_key_rotation)) await applyRotation(client, KeyMetadata.KeyId, planned);
    const state = await readKey(client, KeyMetadata.KeyId, planned);
    if (!state) throw new Error(`key ${KeyMetadata.KeyId} vanished right after it was created`);
    return state;
  },
  read: (client, state) => readKey(client, String(state.id), state),
  async update(client, prior, planned) {
    const keyId = String(prior.id);
    if (planned.description !== prior.description) {
      await client.kms('UpdateKeyDescription', { KeyId: keyId, Description: str(planned.description) ?? '' });
    }
    if (
      planned.enable_key_rotation !== prior.enable_key_rotation ||
      (planned.enable_key_rotation && num(planned.rotation_period_in_days) !== num(prior.rotation_period_in_days))
    ) {
      await applyRotation(client, keyId, planned);
    }
    const policy = str(planned.policy);
    if (policy !== undefined && policy !== prior.policy) {
      await client.kms('PutKeyPolicy', { KeyId: keyId, PolicyName: 'default', Policy: policy });
    }
    const { set, removed } = tagChanges(prior.tags, planned.tags);
    if (set.length > 0) {
      await client.kms('TagResource', { KeyId: keyId, Tags: set.map(([TagKey, TagValue]) => ({ TagKey, TagValue })) });
    }
    if (removed.length > 0) await client.kms('UntagResource', { KeyId: keyId, TagKeys: removed });
    const state = await readKey(client, keyId, planned);
    if (!state) throw new Error(`key ${keyId} is gone`);
    return state;
  },
  async delete(client, prior) {
    const window = num(prior.deletion_window_in_days);
    try {
      await client.kms('ScheduleKeyDeletion', {
        KeyId: String(prior.id),
        ...(window !== undefined && { PendingWindowInDays: window }),
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
};
