// The AWS Secrets Manager JSON operations: parse AWS-shaped input, call the engine, shape AWS output.
import { z } from 'zod';
import { compilePolicy, policyProblems as iamPolicyProblems } from '../auth/index.js';
import type { Access, AccessCheck } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { blob, epochSeconds, int, parseInput, str } from '../core/wire.js';
import type { SecretRecord, SecretVersionRecord } from '../storage/index.js';
import type { SecretsEngine, SecretValue } from './engine.js';
import { generatePassword } from './random-password.js';
import { type Rotation, rotationPrincipalOf } from './rotation.js';

export interface SecretsApiContext {
  engine: SecretsEngine;
  rotation: Rotation;
}

type Handler = (ctx: SecretsApiContext, input: unknown, access: Access) => Promise<object>;

/**
 * The check for `action` on the secret `secretId` names, with its resource policy. A name that
 * matches no secret is checked against the ARN it would have (no random suffix), so a caller
 * without access learns nothing about what exists.
 */
async function secretCheck(
  engine: SecretsEngine,
  action: string,
  secretId: string,
  context?: Record<string, string>,
): Promise<AccessCheck> {
  let secret: SecretRecord | undefined;
  try {
    secret = await engine.cachedSecret(secretId);
  } catch (e) {
    if (!(e instanceof AppError && e.code === 'ResourceNotFoundException')) throw e;
  }
  const check: AccessCheck = { action, resource: secret ? secret.arn : engine.arnForMissing(secretId) };
  if (secret?.resourcePolicy !== undefined) check.resourcePolicy = { document: secret.resourcePolicy, kind: 'secret' };
  if (context) check.context = context;
  return check;
}

async function authorizeSecret(
  engine: SecretsEngine,
  access: Access,
  action: string,
  secretId: string,
  context?: Record<string, string>,
): Promise<void> {
  access.require(await secretCheck(engine, action, secretId, context));
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

const unsupported =
  (what: string): Handler =>
  async () => {
    throw new AppError('UnsupportedOperationException', `${what} is not supported by Keysafe (single region).`);
  };

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

export const secretsOperations: Record<string, Handler> = {
  async CreateSecret({ engine }, raw, access) {
    const i = parseInput(CreateSecretInput, raw);
    if (i.AddReplicaRegions?.length)
      throw new AppError('UnsupportedOperationException', 'Replica regions are not supported by Keysafe.');
    access.require({ action: 'secretsmanager:CreateSecret', resource: engine.arnForMissing(i.Name) });
    const { secret, versionId } = await engine.createSecret({
      name: i.Name,
      description: i.Description,
      kmsKeyId: i.KmsKeyId || undefined,
      tags: i.Tags,
      value: secretValueOf(i),
      token: i.ClientRequestToken,
    });
    return { ARN: secret.arn, Name: secret.name, ...(versionId && { VersionId: versionId }) };
  },

  async GetSecretValue({ engine }, raw, access) {
    const i = parseInput(GetSecretValueInput, raw);
    const context: Record<string, string> = {};
    if (i.VersionId !== undefined) context['secretsmanager:versionid'] = i.VersionId;
    const stage = i.VersionStage ?? (i.VersionId === undefined ? 'AWSCURRENT' : undefined);
    if (stage !== undefined) context['secretsmanager:versionstage'] = stage;
    await authorizeSecret(engine, access, 'secretsmanager:GetSecretValue', i.SecretId, context);
    const { secret, version, value } = await engine.getSecretValue(i.SecretId, i.VersionId, i.VersionStage);
    return valueOutput(secret, version, value);
  },

  async BatchGetSecretValue({ engine }, raw, access) {
    const i = parseInput(BatchGetSecretValueInput, raw);
    if ((i.SecretIdList === undefined) === (i.Filters === undefined)) {
      throw new AppError('InvalidParameterException', 'Give either SecretIdList or Filters, not both.');
    }
    if (i.SecretIdList && i.MaxResults !== undefined) {
      throw new AppError('InvalidParameterException', 'MaxResults is only allowed with Filters.');
    }
    access.require({ action: 'secretsmanager:BatchGetSecretValue', resource: '*' });
    const ids = i.SecretIdList ?? (await listMatching(engine, i.Filters, false)).map((s) => s.arn);
    const { page, NextToken } = i.SecretIdList
      ? { page: ids, NextToken: undefined }
      : paginate(ids, i.MaxResults ?? 20, i.NextToken);
    const SecretValues: object[] = [];
    const Errors: object[] = [];
    for (const id of page) {
      try {
        const check = await secretCheck(engine, 'secretsmanager:GetSecretValue', id, {
          'secretsmanager:versionstage': 'AWSCURRENT',
        });
        const refused = access.refusal(check);
        if (refused) {
          Errors.push({ SecretId: id, ErrorCode: refused.code, Message: refused.message });
          continue;
        }
        const { secret, version, value } = await engine.getSecretValue(id);
        SecretValues.push(valueOutput(secret, version, value));
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        Errors.push({ SecretId: id, ErrorCode: e.code, Message: e.message });
      }
    }
    return { SecretValues, Errors, ...(NextToken && { NextToken }) };
  },

  async PutSecretValue({ engine }, raw, access) {
    const i = parseInput(PutSecretValueInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:PutSecretValue', i.SecretId);
    const value = secretValueOf(i);
    if (!value)
      throw new AppError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
    const r = await engine.putSecretValue(i.SecretId, { value, token: i.ClientRequestToken, stages: i.VersionStages });
    return { ARN: r.secret.arn, Name: r.secret.name, VersionId: r.versionId, VersionStages: r.stages };
  },

  async UpdateSecret({ engine }, raw, access) {
    const i = parseInput(UpdateSecretInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:UpdateSecret', i.SecretId);
    const r = await engine.updateSecret(i.SecretId, {
      description: i.Description,
      kmsKeyId: i.KmsKeyId || undefined,
      value: secretValueOf(i),
      token: i.ClientRequestToken,
    });
    return { ARN: r.secret.arn, Name: r.secret.name, ...(r.versionId && { VersionId: r.versionId }) };
  },

  async DescribeSecret({ engine }, raw, access) {
    const i = parseInput(SecretIdInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:DescribeSecret', i.SecretId);
    const { secret, versions } = await engine.listVersions(i.SecretId);
    return describe(secret, versions);
  },

  async ListSecrets({ engine }, raw, access) {
    const i = parseInput(ListSecretsInput, raw);
    access.require({ action: 'secretsmanager:ListSecrets', resource: '*' });
    const found = await listMatching(engine, i.Filters, i.IncludePlannedDeletion ?? false);
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

  async ListSecretVersionIds({ engine }, raw, access) {
    const i = parseInput(ListSecretVersionIdsInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:ListSecretVersionIds', i.SecretId);
    const { secret, versions } = await engine.listVersions(i.SecretId);
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
      ARN: secret.arn,
      Name: secret.name,
      ...(NextToken && { NextToken }),
    };
  },

  async UpdateSecretVersionStage({ engine }, raw, access) {
    const i = parseInput(UpdateSecretVersionStageInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:UpdateSecretVersionStage', i.SecretId, {
      'secretsmanager:versionstage': i.VersionStage,
    });
    const s = await engine.updateSecretVersionStage(
      i.SecretId,
      i.VersionStage,
      i.MoveToVersionId,
      i.RemoveFromVersionId,
    );
    return { ARN: s.arn, Name: s.name };
  },

  async DeleteSecret({ engine }, raw, access) {
    const i = parseInput(DeleteSecretInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:DeleteSecret', i.SecretId);
    const r = await engine.deleteSecret(i.SecretId, i.RecoveryWindowInDays, i.ForceDeleteWithoutRecovery ?? false);
    return { ARN: r.secret.arn, Name: r.secret.name, DeletionDate: epochSeconds(r.deletionDate) };
  },

  async RestoreSecret({ engine }, raw, access) {
    const { SecretId } = parseInput(SecretIdInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:RestoreSecret', SecretId);
    const s = await engine.restoreSecret(SecretId);
    return { ARN: s.arn, Name: s.name };
  },

  async RotateSecret({ engine, rotation }, raw, access) {
    const i = parseInput(RotateSecretInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:RotateSecret', i.SecretId);
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

  async CancelRotateSecret({ engine, rotation }, raw, access) {
    const { SecretId } = parseInput(SecretIdInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:CancelRotateSecret', SecretId);
    const r = await rotation.cancelRotateSecret(SecretId);
    return { ARN: r.secret.arn, Name: r.secret.name, ...(r.versionId && { VersionId: r.versionId }) };
  },

  async GetRandomPassword(_ctx, raw, access) {
    const i = parseInput(GetRandomPasswordInput, raw);
    access.require({ action: 'secretsmanager:GetRandomPassword', resource: '*' });
    return { RandomPassword: generatePassword(i) };
  },

  async TagResource({ engine }, raw, access) {
    const i = parseInput(TagResourceInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:TagResource', i.SecretId);
    await engine.tagResource(i.SecretId, i.Tags);
    return {};
  },

  async UntagResource({ engine }, raw, access) {
    const i = parseInput(UntagResourceInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:UntagResource', i.SecretId);
    await engine.untagResource(i.SecretId, i.TagKeys);
    return {};
  },

  async GetResourcePolicy({ engine }, raw, access) {
    const { SecretId } = parseInput(SecretIdInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:GetResourcePolicy', SecretId);
    const s = await engine.find(SecretId);
    return { ARN: s.arn, Name: s.name, ...(s.resourcePolicy !== undefined && { ResourcePolicy: s.resourcePolicy }) };
  },

  async PutResourcePolicy({ engine }, raw, access) {
    const i = parseInput(PutResourcePolicyInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:PutResourcePolicy', i.SecretId);
    const problems = policyProblems(engine, i.ResourcePolicy);
    if (problems.length) throw new AppError('MalformedPolicyDocumentException', problems.join(' '));
    if (i.BlockPublicPolicy && isPublic(engine, i.ResourcePolicy)) {
      throw new AppError('PublicPolicyException', 'The resource policy grants access to everyone (Principal "*").');
    }
    const s = await engine.putResourcePolicy(i.SecretId, i.ResourcePolicy);
    return { ARN: s.arn, Name: s.name };
  },

  async DeleteResourcePolicy({ engine }, raw, access) {
    const { SecretId } = parseInput(SecretIdInput, raw);
    await authorizeSecret(engine, access, 'secretsmanager:DeleteResourcePolicy', SecretId);
    const s = await engine.putResourcePolicy(SecretId, undefined);
    return { ARN: s.arn, Name: s.name };
  },

  async ValidateResourcePolicy({ engine }, raw, access) {
    const i = parseInput(ValidateResourcePolicyInput, raw);
    if (i.SecretId !== undefined) {
      await authorizeSecret(engine, access, 'secretsmanager:ValidateResourcePolicy', i.SecretId);
      await engine.find(i.SecretId);
    } else {
      access.require({ action: 'secretsmanager:ValidateResourcePolicy', resource: '*' });
    }
    const problems = policyProblems(engine, i.ResourcePolicy);
    return {
      PolicyValidationPassed: problems.length === 0,
      ValidationErrors: problems.map((ErrorMessage) => ({ CheckName: 'SYNTAX_CHECK', ErrorMessage })),
    };
  },

  ReplicateSecretToRegions: unsupported('Replication'),
  RemoveRegionsFromReplication: unsupported('Replication'),
  StopReplicationToReplica: unsupported('Replication'),
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
