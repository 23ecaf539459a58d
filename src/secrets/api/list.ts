// Secrets Manager listing: ListSecrets and ListSecretVersionIds, and AWS's filters (BatchGetSecretValue uses them too).
import { z } from 'zod';
import { operation } from '../../core/operation.js';
import { epochSeconds, int, str } from '../../core/wire.js';
import type { SecretsEngine } from '../engine.js';
import { checkFilters, FILTER_KEYS, type FilterSubject, filtersMatch } from '../list-filters.js';
import { primaryRegionOf, regionOfArn } from '../replication.js';
import type { SecretRecord } from '../store.js';
import {
  anyResource,
  describe,
  onSecretId,
  paginate,
  type SecretsApiContext,
  type SecretsOperation,
  secretId,
} from './shapes.js';

export const filters = z
  .array(
    z.object({
      // Both optional in the model: AWS answers a missing one InvalidParameterException (checkFilters).
      Key: z.enum(FILTER_KEYS).optional(),
      Values: z
        .array(str(undefined, 512, '^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$'))
        .min(1)
        .max(10)
        .optional(),
    }),
  )
  .max(10)
  .optional();

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

/** What the filters read of a secret: its replication primary's region, or its own (from its ARN). */
const subjectOf = (s: SecretRecord): FilterSubject => ({
  name: s.name,
  description: s.description,
  tags: s.tags,
  primaryRegion: primaryRegionOf(s) ?? regionOfArn(s.arn),
});

/** The secrets the filters match (checked first: a filter without Key or Values is refused). */
export async function listMatching(engine: SecretsEngine, f: z.infer<typeof filters>, includeDeleted: boolean) {
  const complete = checkFilters(f ?? []);
  const all = await engine.listAll();
  return all.filter((s) => (includeDeleted || s.deletedAt === undefined) && filtersMatch(complete, subjectOf(s)));
}

export const listOperations: Record<string, SecretsOperation> = {
  ListSecrets: operation({
    input: ListSecretsInput,
    validate: (i) => checkFilters(i.Filters ?? []),
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
        i.SortBy === 'name'
          ? s.name
          : i.SortBy === 'last-changed-date'
            ? s.lastChangedAt
            : i.SortBy === 'last-accessed-date'
              ? (s.lastAccessedAt ?? 0)
              : s.createdAt;
      const dir = i.SortOrder === 'desc' ? -1 : 1;
      found.sort((a, b) => (key(a) < key(b) ? -dir : key(a) > key(b) ? dir : a.name < b.name ? -1 : 1));
      const { page, NextToken } = paginate(found, i.MaxResults ?? 100, i.NextToken);
      const SecretList = [];
      for (const s of page) {
        const { VersionIdsToStages, ...entry } = describe(s, (await engine.listVersions(s.arn)).versions);
        SecretList.push({ ...entry, ...(VersionIdsToStages && { SecretVersionsToStages: VersionIdsToStages }) });
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
};
