// Data sources (keysafe_kms_public_key, keysafe_secret_metadata) and the ephemeral keysafe_secret_value.
import type { DataSourceDefinition, EphemeralResourceDefinition } from '../definitions.js';
import { attr } from '../schema.js';
import { str } from './common.js';
import { describeSecret } from './secret.js';

export const kmsPublicKey: DataSourceDefinition = {
  typeName: 'keysafe_kms_public_key',
  schema: {
    version: 0,
    description: 'The public key of an asymmetric KMS key.',
    attributes: {
      key_id: attr.string('Key id, ARN or alias.', { required: true }),
      id: attr.string('The key id.', { computed: true }),
      arn: attr.string('The key ARN.', { computed: true }),
      public_key: attr.string('The public key, base64 DER (SubjectPublicKeyInfo).', { computed: true }),
      public_key_pem: attr.string('The public key, PEM.', { computed: true }),
      key_spec: attr.string('The key spec.', { computed: true }),
      key_usage: attr.string('The key usage.', { computed: true }),
    },
  },
  async read(client, config) {
    const r = await client.kms<{ KeyId: string; PublicKey: string; KeySpec: string; KeyUsage: string }>(
      'GetPublicKey',
      {
        KeyId: String(config.key_id),
      },
    );
    const lines = r.PublicKey.match(/.{1,64}/g) ?? [];
    return {
      key_id: config.key_id ?? null,
      id: r.KeyId.slice(r.KeyId.lastIndexOf('/') + 1),
      arn: r.KeyId,
      public_key: r.PublicKey,
      public_key_pem: `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`,
      key_spec: r.KeySpec,
      key_usage: r.KeyUsage,
    };
  },
};

export const secretMetadata: DataSourceDefinition = {
  typeName: 'keysafe_secret_metadata',
  schema: {
    version: 0,
    description: 'A secret’s metadata (never its value).',
    attributes: {
      secret_id: attr.string('Secret name or ARN.', { required: true }),
      id: attr.string('The secret ARN.', { computed: true }),
      arn: attr.string('The secret ARN.', { computed: true }),
      name: attr.string('The secret name.', { computed: true }),
      description: attr.string('Description.', { computed: true }),
      kms_key_id: attr.string('The KMS key that encrypts it.', { computed: true }),
      version_id: attr.string('The AWSCURRENT version id.', { computed: true }),
      tags: attr.stringMap('Tags.', { computed: true }),
    },
  },
  async read(client, config) {
    const d = await describeSecret(client, String(config.secret_id));
    if (!d) throw new Error(`No secret ${String(config.secret_id)}.`);
    const current = Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'));
    return {
      secret_id: config.secret_id ?? null,
      id: d.ARN,
      arn: d.ARN,
      name: d.Name,
      description: d.Description ?? null,
      kms_key_id: d.KmsKeyId ?? null,
      version_id: current?.[0] ?? null,
      tags: Object.fromEntries((d.Tags ?? []).map((t) => [t.Key, t.Value])),
    };
  },
};

export const secretValue: EphemeralResourceDefinition = {
  typeName: 'keysafe_secret_value',
  schema: {
    version: 0,
    description: 'A secret’s value, read at plan/apply time and never stored (Terraform ≥ 1.10).',
    attributes: {
      secret_id: attr.string('Secret name or ARN.', { required: true }),
      version_stage: attr.string('Version stage; default AWSCURRENT.', { optional: true }),
      version_id: attr.string('Version id; default the stage’s.', { optional: true, computed: true }),
      arn: attr.string('The secret ARN.', { computed: true }),
      secret_string: attr.string('The value.', { computed: true, sensitive: true }),
    },
  },
  async open(client, config) {
    const stage = str(config.version_stage);
    const version = str(config.version_id);
    const r = await client.sm<{ ARN: string; VersionId: string; SecretString?: string; SecretBinary?: string }>(
      'GetSecretValue',
      {
        SecretId: String(config.secret_id),
        ...(stage !== undefined && { VersionStage: stage }),
        ...(version !== undefined && { VersionId: version }),
      },
    );
    return {
      secret_id: config.secret_id ?? null,
      version_stage: config.version_stage ?? null,
      version_id: r.VersionId,
      arn: r.ARN,
      secret_string: r.SecretString ?? r.SecretBinary ?? null,
    };
  },
};
