// Secrets Manager value operations: get one or a batch, put a version, move a staging label, random passwords.
import { z } from 'zod';
import type { Access } from '../../core/access.js';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { epochSeconds, int, str } from '../../core/wire.js';
import type { SecretsEngine, SecretValue } from '../engine.js';
import { checkFilters } from '../list-filters.js';
import { generatePassword } from '../random-password.js';
import type { SecretRecord, SecretVersionRecord } from '../store.js';
import { filters, listMatching } from './list.js';
import {
  anyResource,
  arnAndName,
  paginate,
  readVersion,
  type SecretsApiContext,
  type SecretsOperation,
  sealWith,
  secret,
  secretBinary,
  secretId,
  secretString,
  secretValueOf,
  token,
} from './shapes.js';

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
  VersionStages: z.array(str(1, 256)).min(1).max(20).optional(),
  RotationToken: str(36, 256, '^[a-zA-Z0-9\\-]+$').optional(),
});
const UpdateSecretVersionStageInput = z.object({
  SecretId: secretId,
  VersionStage: str(1, 256),
  RemoveFromVersionId: str(32, 64).optional(),
  MoveToVersionId: str(32, 64).optional(),
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

const b64 = (b: Buffer) => b.toString('base64');

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

const EITHER_LIST_OR_FILTERS = "Either 'SecretIdList' or 'Filters' must be provided, but not both.";
const MAX_RESULTS_NEEDS_FILTERS =
  "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.";

/** AWS's refusals of BatchGetSecretValue's argument combinations (an empty Filters list counts as none). */
export function checkBatchArguments(i: { SecretIdList?: unknown[]; Filters?: unknown[]; MaxResults?: number }): void {
  const list = (i.SecretIdList?.length ?? 0) > 0;
  const filtered = (i.Filters?.length ?? 0) > 0;
  if (list && filtered) throw new AppError('InvalidParameterException', EITHER_LIST_OR_FILTERS);
  if (i.MaxResults !== undefined && !filtered)
    throw new AppError('InvalidParameterException', MAX_RESULTS_NEEDS_FILTERS);
  if (!list && !filtered) throw new AppError('InvalidParameterException', EITHER_LIST_OR_FILTERS);
}

/** BatchGetSecretValue's page of secret ids: the list given, or the readable secrets the filters match. */
async function batchPage(
  engine: SecretsEngine,
  access: Access,
  i: z.output<typeof BatchGetSecretValueInput>,
): Promise<{ page: string[]; NextToken?: string }> {
  checkBatchArguments(i);
  if (i.SecretIdList?.length) return { page: i.SecretIdList };
  // Only the secrets the caller may read are matched: a refused one is never named, and the
  // filters are no oracle on what others hold.
  const readable: string[] = [];
  for (const s of await listMatching(engine, i.Filters, false)) {
    if ((await access.refusalOf(readVersion(s.arn))) === undefined) readable.push(s.arn);
  }
  return paginate(readable, i.MaxResults ?? 20, i.NextToken);
}

export const valueOperations: Record<string, SecretsOperation> = {
  GetSecretValue: operation({
    input: GetSecretValueInput,
    resources: (i) => readVersion(i.SecretId, i.VersionId, i.VersionStage),
    run: async ({ engine }: SecretsApiContext, i, access) =>
      readValue(engine, access, i.SecretId, i.VersionId, i.VersionStage),
  }),

  BatchGetSecretValue: operation({
    input: BatchGetSecretValueInput,
    validate: (i) => {
      checkBatchArguments(i);
      checkFilters(i.Filters ?? []);
    },
    // With Filters it lists: ListSecrets too, as on AWS.
    resources: (i) => [
      anyResource('secretsmanager:BatchGetSecretValue'),
      ...(i.Filters ? [anyResource('secretsmanager:ListSecrets')] : []),
    ],
    async run({ engine }: SecretsApiContext, i, access) {
      const { page, NextToken } = await batchPage(engine, access, i);
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
      return arnAndName(s);
    },
  }),

  GetRandomPassword: operation({
    input: GetRandomPasswordInput,
    resources: () => [anyResource('secretsmanager:GetRandomPassword')],
    run: async (_ctx: SecretsApiContext, i) => ({ RandomPassword: generatePassword(i) }),
  }),
};
