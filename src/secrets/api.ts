// The AWS Secrets Manager JSON operations: parse AWS-shaped input, call the engine, shape AWS output.
import { z } from 'zod';
import { compilePolicy, policyProblems as iamPolicyProblems } from '../auth/index.js';
import type { Access, ConditionKeys, ResourceRef } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { type Operation, operation } from '../core/operation.js';
import { blob, epochSeconds, int, str } from '../core/wire.js';
import type { SecretsEngine, SecretValue } from './engine.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from './labels.js';
import { generatePassword } from './random-password.js';
import { type Rotation, rotationPrincipalOf } from './rotation.js';
import type { SecretRecord, SecretVersionRecord } from './store.js';

export interface SecretsApiContext {
  engine: SecretsEngine;
  rotation: Rotation;
}

const secretId = str(1, 2048);
const token = str(32, 64).optional();
const tags = z.array(z.object({ Key: str(1, 128), Value: str(0, 256) }));
const secretString = z.string().optional();
const secretBinary = blob(1, 65_536).optional();
const stages = z.array(str(1, 256)).min(1).max(20).optional();
const rotationRules = z
  .object({
    AutomaticallyAfterDays: int(1, 1000).optional(),
    ScheduleExpression: str(1, 256).optional(),
    Duration: str(2, 3).optional(),
  })
  .optional();
const filters = z
  .array(
    z.object({
      Key: z.enum(['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all']),
      Values: z.array(str(1, 512)).min(1).max(10).optional(),
    }),
  )
  .max(10)
  .optional();

const secretValueOf = (i: { SecretString?: string; SecretBinary?: Buffer }): SecretValue | undefined => {
  if (i.SecretString === undefined && i.SecretBinary === undefined) return undefined;
  return {
    ...(i.SecretString !== undefined && { string: i.SecretString }),
    ...(i.SecretBinary && { binary: i.SecretBinary }),
  };
};

const b64 = (b: Buffer) => b.toString('base64');

/** The pagination token: base64url of the last item's sort position. */
const encodeToken = (n: number) => Buffer.from(String(n)).toString('base64url');
function decodeToken(t: string | undefined): number {
  if (t === undefined) return 0;
  const n = Number(Buffer.from(t, 'base64url').toString());
  if (!Number.isInteger(n) || n < 0 || encodeToken(n) !== t) {
    throw new AppError('InvalidNextTokenException', 'The NextToken value is invalid.');
  }
  return n;
}

function paginate<T>(items: T[], max: number, next: string | undefined): { page: T[]; NextToken?: string } {
  const start = decodeToken(next);
  const page = items.slice(start, start + max);
  return start + max < items.length ? { page, NextToken: encodeToken(start + max) } : { page };
}

function versionsToStages(versions: SecretVersionRecord[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of versions) if (v.stages.length > 0) out[v.versionId] = v.stages;
  return out;
}

/** DescribeSecret and ListSecrets entries; `KeysafeRotation` carries rotation progress and failures. */
function describe(s: SecretRecord, versions: SecretVersionRecord[]) {
  const r = s.rotation;
  return {
    ARN: s.arn,
    Name: s.name,
    ...(s.description !== undefined && { Description: s.description }),
    ...(s.kmsKeyId !== undefined && { KmsKeyId: s.kmsKeyId }),
    ...(r && { RotationEnabled: r.enabled }),
    ...(r?.lambdaArn && { RotationLambdaARN: r.lambdaArn }),
    ...(r?.rules && { RotationRules: r.rules }),
    ...(r?.lastRotatedAt !== undefined && { LastRotatedDate: epochSeconds(r.lastRotatedAt) }),
    ...(r?.enabled && r.nextRotationAt !== undefined && { NextRotationDate: epochSeconds(r.nextRotationAt) }),
    LastChangedDate: epochSeconds(s.lastChangedAt),
    ...(s.deletedAt !== undefined && { DeletedDate: epochSeconds(s.deletedAt) }),
    Tags: s.tags,
    VersionIdsToStages: versionsToStages(versions),
    CreatedDate: epochSeconds(s.createdAt),
    ...((r?.inProgress || r?.lastFailure) && {
      KeysafeRotation: {
        ...(r.inProgress && {
          InProgress: { VersionId: r.inProgress.token, Step: r.inProgress.step, Attempts: r.inProgress.attempts },
        }),
        ...(r.lastFailure && {
          LastFailure: {
            Step: r.lastFailure.step,
            Message: r.lastFailure.message,
            Date: epochSeconds(r.lastFailure.at),
          },
        }),
      },
    }),
  };
}

function valueOutput(secret: SecretRecord, version: SecretVersionRecord, value: SecretValue) {
  return {
    ARN: secret.arn,
    Name: secret.name,
    VersionId: version.versionId,
    ...(value.string !== undefined && { SecretString: value.string }),
    ...(value.binary && { SecretBinary: b64(value.binary) }),
    VersionStages: version.stages,
    CreatedDate: epochSeconds(version.createdAt),
  };
}

/** AWS filter semantics: prefix match, `!` negates, values of one filter OR, filters AND. */
function matches(s: SecretRecord, filter: { Key: string; Values?: string[] }): boolean {
  const fields = (key: string): string[] => {
    switch (key) {
      case 'name':
        return [s.name];
      case 'description':
        return [s.description ?? ''];
      case 'tag-key':
        return s.tags.map((t) => t.Key);
      case 'tag-value':
        return s.tags.map((t) => t.Value);
      case 'all':
        return [s.name, s.description ?? '', ...s.tags.flatMap((t) => [t.Key, t.Value])];
      default:
        return [];
    }
  };
  const candidates = fields(filter.Key).map((f) => f.toLowerCase());
  const values = filter.Values ?? [];
  const positive = values.filter((v) => !v.startsWith('!'));
  const negative = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1).toLowerCase());
  if (negative.some((n) => candidates.some((c) => c.startsWith(n)))) return false;
  return positive.length === 0 || positive.some((p) => candidates.some((c) => c.startsWith(p.toLowerCase())));
}

async function listMatching(engine: SecretsEngine, f: z.infer<typeof filters>, includeDeleted: boolean) {
  const all = await engine.listAll();
  return all.filter((s) => (includeDeleted || s.deletedAt === undefined) && (f ?? []).every((x) => matches(s, x)));
}

// Input schemas, built once: zod compiles each schema on first use, so building them per request is slow.
const SecretIdInput = z.object({ SecretId: secretId });
const CreateSecretInput = z.object({
  Name: str(1, 512),
  ClientRequestToken: token,
  Description: str(0, 2048).optional(),
  KmsKeyId: str(0, 2048).optional(),
  SecretString: secretString,
  SecretBinary: secretBinary,
  Tags: tags.optional(),
  AddReplicaRegions: z.array(z.unknown()).optional(),
  ForceOverwriteReplicaSecret: z.boolean().optional(),
});
const GetSecretValueInput = z.object({
  SecretId: secretId,
  VersionId: str(32, 64).optional(),
  VersionStage: str(1, 256).optional(),
});
const BatchGetSecretValueInput = z.object({
  SecretIdList: z.array(secretId).min(1).max(20).optional(),
  Filters: filters,
  MaxResults: int(1, 20).optional(),
  NextToken: str(1, 4096).optional(),
});
const PutSecretValueInput = z.object({
  SecretId: secretId,
  ClientRequestToken: token,
  SecretString: secretString,
  SecretBinary: secretBinary,
  VersionStages: stages,
  RotationToken: str(36, 256).optional(),
});
const UpdateSecretInput = z.object({
  SecretId: secretId,
  ClientRequestToken: token,
  Description: str(0, 2048).optional(),
  KmsKeyId: str(0, 2048).optional(),
  SecretString: secretString,
  SecretBinary: secretBinary,
});
const ListSecretsInput = z.object({
  IncludePlannedDeletion: z.boolean().optional(),
  MaxResults: int(1, 100).optional(),
  NextToken: str(1, 4096).optional(),
  Filters: filters,
  SortOrder: z.enum(['asc', 'desc']).optional(),
  SortBy: z.enum(['created-date', 'last-accessed-date', 'last-changed-date', 'name']).optional(),
});
const ListSecretVersionIdsInput = z.object({
  SecretId: secretId,
  MaxResults: int(1, 100).optional(),
  NextToken: str(1, 4096).optional(),
  IncludeDeprecated: z.boolean().optional(),
});
const UpdateSecretVersionStageInput = z.object({
  SecretId: secretId,
  VersionStage: str(1, 256),
  RemoveFromVersionId: str(32, 64).optional(),
  MoveToVersionId: str(32, 64).optional(),
});
const DeleteSecretInput = z.object({
  SecretId: secretId,
  RecoveryWindowInDays: z.number().int().optional(),
  ForceDeleteWithoutRecovery: z.boolean().optional(),
});
const RotateSecretInput = z.object({
  SecretId: secretId,
  ClientRequestToken: token,
  RotationLambdaARN: str(0, 2048).optional(),
  RotationRules: rotationRules,
  RotateImmediately: z.boolean().optional(),
});
const GetRandomPasswordInput = z.object({
  PasswordLength: int(1, 4096).optional(),
  ExcludeCharacters: str(0, 4096).optional(),
  ExcludeNumbers: z.boolean().optional(),
  ExcludePunctuation: z.boolean().optional(),
  ExcludeUppercase: z.boolean().optional(),
  ExcludeLowercase: z.boolean().optional(),
  IncludeSpace: z.boolean().optional(),
  RequireEachIncludedType: z.boolean().optional(),
});
const TagResourceInput = z.object({ SecretId: secretId, Tags: tags });
const UntagResourceInput = z.object({ SecretId: secretId, TagKeys: z.array(str(1, 128)) });
const PutResourcePolicyInput = z.object({
  SecretId: secretId,
  ResourcePolicy: str(1, 20_480),
  BlockPublicPolicy: z.boolean().optional(),
});
const ValidateResourcePolicyInput = z.object({ SecretId: secretId.optional(), ResourcePolicy: str(1, 20_480) });

type SecretsOperation = Operation<SecretsApiContext>;

/** The versions a new KMS key re-encrypts (UpdateSecret with KmsKeyId and no value). */
const LABELLED = [AWSCURRENT, AWSPENDING, AWSPREVIOUS];

const anyResource = (action: string): ResourceRef => ({ kind: 'any', action });
const secret = (action: string, id: string, context?: ConditionKeys): ResourceRef =>
  context ? { kind: 'secret', action, secret: id, context } : { kind: 'secret', action, secret: id };
/** The common shape: one action on the request's SecretId. */
const onSecretId =
  (action: string) =>
  (i: { SecretId: string }): ResourceRef[] => [secret(action, i.SecretId)];

/** Reading a version: GetSecretValue on the secret, and kms:Decrypt on a customer-managed key of the version. */
function readVersion(id: string, versionId?: string, versionStage?: string): ResourceRef[] {
  const context: Record<string, string> = {};
  if (versionId !== undefined) context['secretsmanager:versionid'] = versionId;
  const stage = versionStage ?? (versionId === undefined ? AWSCURRENT : undefined);
  if (stage !== undefined) context['secretsmanager:versionstage'] = stage;
  return [
    secret('secretsmanager:GetSecretValue', id, context),
    { kind: 'secret-key', action: 'kms:Decrypt', secret: id, version: { versionId, versionStage: stage } },
  ];
}

/** Sealing a new version: kms:GenerateDataKey on the customer-managed key it will be sealed with. */
const sealWith = (id: string, key?: string): ResourceRef => ({
  kind: 'secret-key',
  action: 'kms:GenerateDataKey',
  secret: id,
  ...(key !== undefined && { key }),
});

/**
 * A version's value and its output. The key the value was read under is checked again: the declared
 * check saw the version the label named then, and a label moved since may name one sealed under a
 * customer-managed key the caller may not use.
 */
async function readValue(engine: SecretsEngine, access: Access, id: string, versionId?: string, stage?: string) {
  const { secret: s, version, value } = await engine.getSecretValue(id, versionId, stage);
  if (version.kmsKeyArn !== undefined && version.kmsKeyArn !== (await engine.defaultKey())) {
    await access.authorize([{ kind: 'secret-key', action: 'kms:Decrypt', secret: s.arn, key: version.kmsKeyArn }]);
  }
  return valueOutput(s, version, value);
}

const unsupported = (action: string, what: string): SecretsOperation =>
  operation({
    input: z.object({}).loose(),
    resources: () => [anyResource(`secretsmanager:${action}`)],
    async run() {
      throw new AppError('UnsupportedOperationException', `${what} is not supported by Keysafe (single region).`);
    },
  });

export const secretsOperations: Record<string, SecretsOperation> = {
  CreateSecret: operation({
    input: CreateSecretInput,
    resources: (i) => [
      secret('secretsmanager:CreateSecret', i.Name),
      ...(i.Tags?.length ? [secret('secretsmanager:TagResource', i.Name)] : []),
      ...(i.KmsKeyId ? [sealWith(i.Name, i.KmsKeyId)] : []),
    ],
    async run({ engine }: SecretsApiContext, i) {
      if (i.AddReplicaRegions?.length)
        throw new AppError('UnsupportedOperationException', 'Replica regions are not supported by Keysafe.');
      const { secret: s, versionId } = await engine.createSecret({
        name: i.Name,
        description: i.Description,
        kmsKeyId: i.KmsKeyId || undefined,
        tags: i.Tags,
        value: secretValueOf(i),
        token: i.ClientRequestToken,
      });
      return { ARN: s.arn, Name: s.name, ...(versionId && { VersionId: versionId }) };
    },
  }),

  GetSecretValue: operation({
    input: GetSecretValueInput,
    resources: (i) => readVersion(i.SecretId, i.VersionId, i.VersionStage),
    run: async ({ engine }: SecretsApiContext, i, access) =>
      readValue(engine, access, i.SecretId, i.VersionId, i.VersionStage),
  }),

  BatchGetSecretValue: operation({
    input: BatchGetSecretValueInput,
    // With Filters it lists: ListSecrets too, as on AWS.
    resources: (i) => [
      anyResource('secretsmanager:BatchGetSecretValue'),
      ...(i.Filters ? [anyResource('secretsmanager:ListSecrets')] : []),
    ],
    async run({ engine }: SecretsApiContext, i, access) {
      if ((i.SecretIdList === undefined) === (i.Filters === undefined)) {
        throw new AppError('InvalidParameterException', 'Give either SecretIdList or Filters, not both.');
      }
      if (i.SecretIdList && i.MaxResults !== undefined) {
        throw new AppError('InvalidParameterException', 'MaxResults is only allowed with Filters.');
      }
      let page: string[];
      let NextToken: string | undefined;
      if (i.SecretIdList) {
        page = i.SecretIdList;
      } else {
        // Only the secrets the caller may read are matched: a refused one is never named, and the
        // filters are no oracle on what others hold.
        const readable: string[] = [];
        for (const s of await listMatching(engine, i.Filters, false)) {
          if ((await access.refusalOf(readVersion(s.arn))) === undefined) readable.push(s.arn);
        }
        ({ page, NextToken } = paginate(readable, i.MaxResults ?? 20, i.NextToken));
      }
      const SecretValues: object[] = [];
      const Errors: object[] = [];
      for (const id of page) {
        try {
          const refused = await access.refusalOf(readVersion(id));
          if (refused) {
            Errors.push({ SecretId: id, ErrorCode: refused.code, Message: refused.message });
            continue;
          }
          SecretValues.push(await readValue(engine, access, id));
        } catch (e) {
          if (!(e instanceof AppError)) throw e;
          Errors.push({ SecretId: id, ErrorCode: e.code, Message: e.message });
        }
      }
      return { SecretValues, Errors, ...(NextToken && { NextToken }) };
    },
  }),

  PutSecretValue: operation({
    input: PutSecretValueInput,
    resources: (i) => [secret('secretsmanager:PutSecretValue', i.SecretId), sealWith(i.SecretId)],
    async run({ engine }: SecretsApiContext, i) {
      const value = secretValueOf(i);
      if (!value)
        throw new AppError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
      const r = await engine.putSecretValue(i.SecretId, {
        value,
        token: i.ClientRequestToken,
        stages: i.VersionStages,
      });
      return { ARN: r.secret.arn, Name: r.secret.name, VersionId: r.versionId, VersionStages: r.stages };
    },
  }),

  UpdateSecret: operation({
    input: UpdateSecretInput,
    resources: (i) => {
      const resources = [secret('secretsmanager:UpdateSecret', i.SecretId)];
      const newKey = i.KmsKeyId || undefined;
      if (secretValueOf(i)) resources.push(sealWith(i.SecretId, newKey));
      else if (newKey) {
        // A new key without a value re-encrypts the labelled versions: they are read, then sealed anew.
        for (const stage of LABELLED) resources.push(...readVersion(i.SecretId, undefined, stage).slice(1));
        resources.push(sealWith(i.SecretId, newKey));
      }
      return resources;
    },
    async run({ engine }: SecretsApiContext, i) {
      const r = await engine.updateSecret(i.SecretId, {
        description: i.Description,
        kmsKeyId: i.KmsKeyId || undefined,
        value: secretValueOf(i),
        token: i.ClientRequestToken,
      });
      return { ARN: r.secret.arn, Name: r.secret.name, ...(r.versionId && { VersionId: r.versionId }) };
    },
  }),

  DescribeSecret: operation({
    input: SecretIdInput,
    resources: onSecretId('secretsmanager:DescribeSecret'),
    async run({ engine }: SecretsApiContext, i) {
      const { secret: s, versions } = await engine.listVersions(i.SecretId);
      return describe(s, versions);
    },
  }),

  ListSecrets: operation({
    input: ListSecretsInput,
    resources: () => [anyResource('secretsmanager:ListSecrets')],
    async run({ engine }: SecretsApiContext, i, access) {
      // Only the secrets the caller may describe: a tenant lists its own, never another's (a Keysafe
      // choice; AWS lists a whole account), and the filters are no oracle.
      const found: SecretRecord[] = [];
      for (const s of await listMatching(engine, i.Filters, i.IncludePlannedDeletion ?? false)) {
        const check = { kind: 'secret', action: 'secretsmanager:DescribeSecret', secret: s.arn } as const;
        if ((await access.refusalOf([check])) === undefined) found.push(s);
      }
      const key = (s: SecretRecord): string | number =>
        i.SortBy === 'name' ? s.name : i.SortBy === 'last-changed-date' ? s.lastChangedAt : s.createdAt;
      const dir = i.SortOrder === 'desc' ? -1 : 1;
      found.sort((a, b) => (key(a) < key(b) ? -dir : key(a) > key(b) ? dir : a.name < b.name ? -1 : 1));
      const { page, NextToken } = paginate(found, i.MaxResults ?? 100, i.NextToken);
      const SecretList = [];
      for (const s of page) {
        const { VersionIdsToStages, ...entry } = describe(s, (await engine.listVersions(s.arn)).versions);
        SecretList.push({ ...entry, SecretVersionsToStages: VersionIdsToStages });
      }
      return { SecretList, ...(NextToken && { NextToken }) };
    },
  }),

  ListSecretVersionIds: operation({
    input: ListSecretVersionIdsInput,
    resources: onSecretId('secretsmanager:ListSecretVersionIds'),
    async run({ engine }: SecretsApiContext, i) {
      const { secret: s, versions } = await engine.listVersions(i.SecretId);
      const shown = i.IncludeDeprecated ? versions : versions.filter((v) => v.stages.length > 0);
      const defaultKey = shown.length > 0 ? await engine.defaultKey() : undefined;
      const { page, NextToken } = paginate(shown, i.MaxResults ?? 100, i.NextToken);
      return {
        Versions: page.map((v) => ({
          VersionId: v.versionId,
          VersionStages: v.stages,
          CreatedDate: epochSeconds(v.createdAt),
          KmsKeyIds: [v.kmsKeyArn === undefined || v.kmsKeyArn === defaultKey ? 'DefaultEncryptionKey' : v.kmsKeyArn],
        })),
        ARN: s.arn,
        Name: s.name,
        ...(NextToken && { NextToken }),
      };
    },
  }),

  UpdateSecretVersionStage: operation({
    input: UpdateSecretVersionStageInput,
    resources: (i) => [
      secret('secretsmanager:UpdateSecretVersionStage', i.SecretId, { 'secretsmanager:versionstage': i.VersionStage }),
    ],
    async run({ engine }: SecretsApiContext, i) {
      const s = await engine.updateSecretVersionStage(
        i.SecretId,
        i.VersionStage,
        i.MoveToVersionId,
        i.RemoveFromVersionId,
      );
      return { ARN: s.arn, Name: s.name };
    },
  }),

  DeleteSecret: operation({
    input: DeleteSecretInput,
    resources: onSecretId('secretsmanager:DeleteSecret'),
    async run({ engine }: SecretsApiContext, i) {
      const r = await engine.deleteSecret(i.SecretId, i.RecoveryWindowInDays, i.ForceDeleteWithoutRecovery ?? false);
      return { ARN: r.secret.arn, Name: r.secret.name, DeletionDate: epochSeconds(r.deletionDate) };
    },
  }),

  RestoreSecret: operation({
    input: SecretIdInput,
    resources: onSecretId('secretsmanager:RestoreSecret'),
    async run({ engine }: SecretsApiContext, i) {
      const s = await engine.restoreSecret(i.SecretId);
      return { ARN: s.arn, Name: s.name };
    },
  }),

  RotateSecret: operation({
    input: RotateSecretInput,
    resources: onSecretId('secretsmanager:RotateSecret'),
    async run({ rotation }: SecretsApiContext, i, access) {
      const r = await rotation.rotateSecret(i.SecretId, {
        token: i.ClientRequestToken,
        lambdaArn: i.RotationLambdaARN || undefined,
        rules: i.RotationRules,
        rotateImmediately: i.RotateImmediately,
        // The rotation acts as its caller from now on, never with the server's rights.
        principal: rotationPrincipalOf(access.identity),
      });
      return { ARN: r.secret.arn, Name: r.secret.name, ...(r.versionId && { VersionId: r.versionId }) };
    },
  }),

  CancelRotateSecret: operation({
    input: SecretIdInput,
    resources: onSecretId('secretsmanager:CancelRotateSecret'),
    async run({ rotation }: SecretsApiContext, i) {
      const r = await rotation.cancelRotateSecret(i.SecretId);
      return { ARN: r.secret.arn, Name: r.secret.name, ...(r.versionId && { VersionId: r.versionId }) };
    },
  }),

  GetRandomPassword: operation({
    input: GetRandomPasswordInput,
    resources: () => [anyResource('secretsmanager:GetRandomPassword')],
    run: async (_ctx: SecretsApiContext, i) => ({ RandomPassword: generatePassword(i) }),
  }),

  TagResource: operation({
    input: TagResourceInput,
    resources: onSecretId('secretsmanager:TagResource'),
    async run({ engine }: SecretsApiContext, i) {
      await engine.tagResource(i.SecretId, i.Tags);
      return {};
    },
  }),

  UntagResource: operation({
    input: UntagResourceInput,
    resources: onSecretId('secretsmanager:UntagResource'),
    async run({ engine }: SecretsApiContext, i) {
      await engine.untagResource(i.SecretId, i.TagKeys);
      return {};
    },
  }),

  GetResourcePolicy: operation({
    input: SecretIdInput,
    resources: onSecretId('secretsmanager:GetResourcePolicy'),
    async run({ engine }: SecretsApiContext, i) {
      const s = await engine.find(i.SecretId);
      return { ARN: s.arn, Name: s.name, ...(s.resourcePolicy !== undefined && { ResourcePolicy: s.resourcePolicy }) };
    },
  }),

  PutResourcePolicy: operation({
    input: PutResourcePolicyInput,
    resources: onSecretId('secretsmanager:PutResourcePolicy'),
    async run({ engine }: SecretsApiContext, i) {
      const problems = policyProblems(engine, i.ResourcePolicy);
      if (problems.length) throw new AppError('MalformedPolicyDocumentException', problems.join(' '));
      if (i.BlockPublicPolicy && isPublic(engine, i.ResourcePolicy)) {
        throw new AppError('PublicPolicyException', 'The resource policy grants access to everyone (Principal "*").');
      }
      const s = await engine.putResourcePolicy(i.SecretId, i.ResourcePolicy);
      return { ARN: s.arn, Name: s.name };
    },
  }),

  DeleteResourcePolicy: operation({
    input: SecretIdInput,
    resources: onSecretId('secretsmanager:DeleteResourcePolicy'),
    async run({ engine }: SecretsApiContext, i) {
      const s = await engine.putResourcePolicy(i.SecretId, undefined);
      return { ARN: s.arn, Name: s.name };
    },
  }),

  ValidateResourcePolicy: operation({
    input: ValidateResourcePolicyInput,
    resources: (i) => [
      i.SecretId === undefined
        ? anyResource('secretsmanager:ValidateResourcePolicy')
        : secret('secretsmanager:ValidateResourcePolicy', i.SecretId),
    ],
    async run({ engine }: SecretsApiContext, i) {
      if (i.SecretId !== undefined) await engine.find(i.SecretId);
      const problems = policyProblems(engine, i.ResourcePolicy);
      return {
        PolicyValidationPassed: problems.length === 0,
        ValidationErrors: problems.map((ErrorMessage) => ({ CheckName: 'SYNTAX_CHECK', ErrorMessage })),
      };
    },
  }),

  ReplicateSecretToRegions: unsupported('ReplicateSecretToRegions', 'Replication'),
  RemoveRegionsFromReplication: unsupported('RemoveRegionsFromReplication', 'Replication'),
  StopReplicationToReplica: unsupported('StopReplicationToReplica', 'Replication'),
};

/** The resource policy's problems under Keysafe's IAM grammar (auth/policy.ts); empty when valid. */
function policyProblems(engine: SecretsEngine, document: string): string[] {
  return iamPolicyProblems(document, 'resource', engine.partition.accountId);
}

/** True when an Allow statement's principal matches any caller: "*", {"AWS": "*"} or {"AWS": [..., "*"]}. */
function isPublic(engine: SecretsEngine, document: string): boolean {
  return compilePolicy(document, 'resource', engine.partition.accountId).statements.some(
    (s) => s.allow && s.principal === 'any',
  );
}
