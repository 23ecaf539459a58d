// Secrets Manager answers as AWS does, through the real server and the AWS SDK v3: filters per key, omitted
// Tags and VersionIdsToStages, LastAccessedDate, GetRandomPassword's IncludeSpace and AWS's exact error texts.
import { randomUUID } from 'node:crypto';
import {
  BatchGetSecretValueCommand,
  type BatchGetSecretValueRequest,
  CreateSecretCommand,
  type CreateSecretRequest,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  type ListSecretsRequest,
  PutSecretValueCommand,
  type SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

let server: TestServer;
let sm: SecretsManagerClient;

beforeAll(async () => {
  server = await startTestServer();
  sm = server.secretsClient();
});
afterAll(async () => {
  sm?.destroy();
  await server?.stop();
});

const uid = () => randomUUID().slice(0, 8);
const create = (input: CreateSecretRequest) => sm.send(new CreateSecretCommand(input));
const describeSecret = (SecretId: string) => sm.send(new DescribeSecretCommand({ SecretId }));

async function namesOf(input: ListSecretsRequest): Promise<string[]> {
  const out = await sm.send(new ListSecretsCommand({ MaxResults: 100, ...input }));
  return (out.SecretList ?? []).map((s) => s.Name!).sort();
}

describe('ListSecrets and BatchGetSecretValue filters', () => {
  const run = `f${uid()}`;
  const n = (s: string) => `${run}/${s}`;
  const byRun = { Key: 'name' as const, Values: [`${run}/`] };

  beforeAll(async () => {
    await create({
      Name: n('BillingDbPassword'),
      SecretString: 'a',
      Description: 'Primary database for the billing-service',
      Tags: [{ Key: 'Team', Value: 'Payments' }],
    });
    await create({ Name: n('cache/redisToken'), SecretString: 'b', Description: 'cache token' });
    await create({ Name: n('plain'), SecretString: 'c', Tags: [{ Key: 'team', Value: 'payments-ops' }] });
  });

  it('description and all: word by word, any case, every word a prefix of a word', async () => {
    expect(await namesOf({ Filters: [byRun, { Key: 'description', Values: ['BILLING serv'] }] })).toEqual([
      n('BillingDbPassword'),
    ]);
    expect(await namesOf({ Filters: [byRun, { Key: 'description', Values: ['base'] }] })).toEqual([]);
    expect(await namesOf({ Filters: [byRun, { Key: 'all', Values: ['redis'] }] })).toEqual([n('cache/redisToken')]);
    expect(await namesOf({ Filters: [byRun, { Key: 'all', Values: ['db pass'] }] })).toEqual([n('BillingDbPassword')]);
    expect(await namesOf({ Filters: [byRun, { Key: 'all', Values: ['payments'] }] })).toEqual([
      n('BillingDbPassword'),
      n('plain'),
    ]);
  });

  it('name, tag-key, tag-value and primary-region: prefix of the whole field, case-sensitive', async () => {
    expect(await namesOf({ Filters: [{ Key: 'name', Values: [`${run}/Billing`] }] })).toEqual([n('BillingDbPassword')]);
    expect(await namesOf({ Filters: [{ Key: 'name', Values: [`${run}/billing`] }] })).toEqual([]);
    expect(await namesOf({ Filters: [byRun, { Key: 'tag-key', Values: ['Te'] }] })).toEqual([n('BillingDbPassword')]);
    expect(await namesOf({ Filters: [byRun, { Key: 'tag-value', Values: ['payments'] }] })).toEqual([n('plain')]);
    expect(await namesOf({ Filters: [byRun, { Key: 'primary-region', Values: ['us-east'] }] })).toHaveLength(3);
    expect(await namesOf({ Filters: [byRun, { Key: 'primary-region', Values: ['eu-'] }] })).toEqual([]);
    expect(await namesOf({ Filters: [byRun, { Key: 'owning-service', Values: ['rds'] }] })).toEqual([]);
  });

  it('`!` negates; values of a filter OR, filters AND (two on one key too)', async () => {
    expect(await namesOf({ Filters: [byRun, { Key: 'tag-key', Values: ['!Team'] }] })).toEqual([
      n('cache/redisToken'),
      n('plain'),
    ]);
    expect(await namesOf({ Filters: [{ Key: 'name', Values: [`${run}/plain`, `${run}/cache`] }] })).toEqual([
      n('cache/redisToken'),
      n('plain'),
    ]);
    expect(
      await namesOf({
        Filters: [byRun, { Key: 'description', Values: ['cache'] }, { Key: 'description', Values: ['token'] }],
      }),
    ).toEqual([n('cache/redisToken')]);
    expect(
      await namesOf({
        Filters: [byRun, { Key: 'description', Values: ['cache'] }, { Key: 'description', Values: ['billing'] }],
      }),
    ).toEqual([]);
  });

  it('BatchGetSecretValue applies the same filters', async () => {
    const out = await sm.send(new BatchGetSecretValueCommand({ Filters: [byRun, { Key: 'all', Values: ['redis'] }] }));
    expect(out.SecretValues?.map((v) => [v.Name, v.SecretString])).toEqual([[n('cache/redisToken'), 'b']]);
  });

  it('a filter without Key or Values is InvalidParameterException with AWS text', async () => {
    const list = (Filters: ListSecretsRequest['Filters']) => failure(sm.send(new ListSecretsCommand({ Filters })));
    expect(await list([{ Values: ['x'] }])).toEqual({
      name: 'InvalidParameterException',
      status: 400,
      message: 'Invalid filter key',
    });
    expect(await list([byRun, { Key: 'tag-key' }])).toEqual({
      name: 'InvalidParameterException',
      status: 400,
      message: 'Invalid filter values for key: tag-key',
    });
    const batch = await failure(sm.send(new BatchGetSecretValueCommand({ Filters: [{ Key: 'name' }] })));
    expect(batch).toMatchObject({ name: 'InvalidParameterException', message: 'Invalid filter values for key: name' });
  });
});

describe('BatchGetSecretValue argument combinations', () => {
  const EITHER = "Either 'SecretIdList' or 'Filters' must be provided, but not both.";
  const MAX = "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.";
  const batch = (i: BatchGetSecretValueRequest) => failure(sm.send(new BatchGetSecretValueCommand(i)));
  const refused = (message: string) => ({ name: 'InvalidParameterException', status: 400, message });

  it('answers AWS texts for both, neither, and MaxResults without Filters', async () => {
    const Filters = [{ Key: 'name' as const, Values: ['x'] }];
    expect(await batch({ SecretIdList: ['a'], Filters })).toEqual(refused(EITHER));
    expect(await batch({})).toEqual(refused(EITHER));
    expect(await batch({ SecretIdList: ['a'], MaxResults: 5 })).toEqual(refused(MAX));
    expect(await batch({ MaxResults: 5 })).toEqual(refused(MAX));
    expect(await batch({ SecretIdList: ['a'], Filters, MaxResults: 5 })).toEqual(refused(EITHER));
  });
});

describe('DescribeSecret and ListSecrets leave out what has no value', () => {
  it('no Tags until tagged, Tags: [] once every tag was removed; no VersionIdsToStages without versions', async () => {
    const Name = `omit/${uid()}`;
    await create({ Name });
    const bare = await describeSecret(Name);
    expect(bare).not.toHaveProperty('Tags');
    expect(bare).not.toHaveProperty('VersionIdsToStages');
    expect(bare).not.toHaveProperty('LastAccessedDate');
    const [listed] = (await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [Name] }] })))
      .SecretList!;
    expect(listed).not.toHaveProperty('Tags');
    expect(listed).not.toHaveProperty('SecretVersionsToStages');

    await sm.send(new TagResourceCommand({ SecretId: Name, Tags: [{ Key: 'k', Value: 'v' }] }));
    expect((await describeSecret(Name)).Tags).toEqual([{ Key: 'k', Value: 'v' }]);
    await sm.send(new UntagResourceCommand({ SecretId: Name, TagKeys: ['k'] }));
    expect((await describeSecret(Name)).Tags).toEqual([]);

    const { VersionId } = await sm.send(new PutSecretValueCommand({ SecretId: Name, SecretString: 'v' }));
    expect((await describeSecret(Name)).VersionIdsToStages).toEqual({ [VersionId!]: ['AWSCURRENT'] });
  });
});

describe('LastAccessedDate', () => {
  it('is the UTC day of the last GetSecretValue or BatchGetSecretValue, in DescribeSecret and ListSecrets', async () => {
    const a = `accessed/${uid()}`;
    const b = `accessed/${uid()}`;
    await create({ Name: a, SecretString: 'x' });
    await create({ Name: b, SecretString: 'y' });
    const today = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
    await sm.send(new GetSecretValueCommand({ SecretId: a }));
    await sm.send(new BatchGetSecretValueCommand({ SecretIdList: [b] }));
    // Written just after the read answered.
    await until(async () => (await describeSecret(b)).LastAccessedDate !== undefined, 5000, 'LastAccessedDate');
    expect((await describeSecret(a)).LastAccessedDate).toEqual(today);
    expect((await describeSecret(b)).LastAccessedDate).toEqual(today);
    const listed = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [a] }] }));
    expect(listed.SecretList?.[0]?.LastAccessedDate).toEqual(today);
    // Describing is no access; the secret's revision-bearing dates are untouched.
    const described = await describeSecret(a);
    expect(described.LastChangedDate).toEqual(described.CreatedDate);
  });
});

describe('GetRandomPassword IncludeSpace', () => {
  it('allows spaces without requiring one', async () => {
    const passwords = await Promise.all(
      Array.from({ length: 20 }, () =>
        sm.send(new GetRandomPasswordCommand({ IncludeSpace: true, PasswordLength: 4 })).then((o) => o.RandomPassword!),
      ),
    );
    // Four required types fill all four characters: never room for a space, and never an error.
    for (const p of passwords) expect(p).toMatch(/^[^ ]{4}$/);
    const long = await sm.send(new GetRandomPasswordCommand({ IncludeSpace: true, PasswordLength: 4096 }));
    expect(long.RandomPassword).toContain(' ');
  });
});

describe('AWS texts', () => {
  it('RecoveryWindowInDays out of range, alone or with ForceDeleteWithoutRecovery; and with a forced delete', async () => {
    const Name = `del/${uid()}`;
    await create({ Name, SecretString: 'x' });
    const RANGE = 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).';
    const del = (i: { RecoveryWindowInDays?: number; ForceDeleteWithoutRecovery?: boolean }, SecretId = Name) =>
      failure(sm.send(new DeleteSecretCommand({ SecretId, ...i })));
    for (const days of [6, 31, 0]) {
      expect(await del({ RecoveryWindowInDays: days })).toEqual({
        name: 'InvalidParameterException',
        status: 400,
        message: RANGE,
      });
    }
    expect(await del({ RecoveryWindowInDays: 3, ForceDeleteWithoutRecovery: true })).toMatchObject({ message: RANGE });
    expect(await del({ RecoveryWindowInDays: 5 }, `missing/${uid()}`)).toMatchObject({ message: RANGE });
    expect(await del({ RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })).toEqual({
      name: 'InvalidParameterException',
      status: 400,
      message: "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    });
    expect((await describeSecret(Name)).DeletedDate).toBeUndefined();
  });

  it('a ClientRequestToken reused with another value', async () => {
    const Name = `token/${uid()}`;
    const ClientRequestToken = randomUUID();
    const { ARN } = await create({ Name, SecretString: 'one', ClientRequestToken });
    expect(await failure(create({ Name, SecretString: 'two', ClientRequestToken }))).toEqual({
      name: 'ResourceExistsException',
      status: 400,
      message: `You can't use ClientRequestToken ${ClientRequestToken} because that value is already in use for a version of secret ${ARN}.`,
    });
    const MODIFY = {
      name: 'ResourceExistsException',
      status: 400,
      message: "You can't modify an existing version, you can only create a new version.",
    };
    const put = () => sm.send(new PutSecretValueCommand({ SecretId: Name, SecretString: 'two', ClientRequestToken }));
    expect(await failure(put())).toEqual(MODIFY);
    const update = sm.send(new UpdateSecretCommand({ SecretId: Name, SecretString: 'two', ClientRequestToken }));
    expect(await failure(update)).toEqual(MODIFY);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: Name }))).SecretString).toBe('one');
  });
});
