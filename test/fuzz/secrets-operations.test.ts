// Every Secrets Manager operation over real HTTP with random and mutated inputs: never a 5xx, always a
// documented `__type`, a refused call changes nothing (ListSecrets, ListSecretVersionIds, the resource
// policy are as before), and no stored secret value appears in an error body, a log line or the audit log.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { secretsOperations } from '../../src/secrets/api.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  type Answer,
  awsCall,
  awsJson,
  expectWellFormed,
  fieldNamesIn,
  fuzzTimeout,
  httpRuns,
  type Json,
  type MutationSpace,
  mutatedInput,
  SECRETS_CODES,
} from './support.js';

let server: TestServer;
/** Every secret value the fixtures stored (and its base64 for binary ones). */
const canaries: string[] = [];

const FIXTURES = {
  'fuzz/canary': () => ({ SecretString: `CANARY-string-${randomUUID()}` }),
  'fuzz/canary-json': () => ({
    SecretString: JSON.stringify({ username: 'app', password: `CANARY-json-${randomUUID()}` }),
  }),
  'fuzz/canary-bin': () => ({ SecretBinary: Buffer.from(`CANARY-binary-${randomUUID()}`).toString('base64') }),
  'fuzz/victim': () => ({ SecretString: `CANARY-victim-${randomUUID()}` }),
} as const;
type FixtureName = keyof typeof FIXTURES;
const arns = {} as Record<FixtureName, string>;
let victimVersion = '';
let victimOldVersion = '';

const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::000000000000:root' },
      Action: 'secretsmanager:GetSecretValue',
      Resource: '*',
    },
  ],
});
const PUBLIC_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue', Resource: '*' }],
});

/** The region replicas are made in (the server's default region is us-east-1), and a key alias there. */
const REPLICA_REGION = 'eu-west-1';
const REPLICA_KEY_ALIAS = 'alias/fuzz-replica';
const call = (op: string, input: unknown) => awsJson(server, `secretsmanager.${op}`, input);
const callIn = (region: string, op: string, input: unknown) =>
  awsCall(server, `secretsmanager.${op}`, JSON.stringify(input), { 'x-keysafe-region': region });
async function ok(op: string, input: unknown, region?: string): Promise<Record<string, unknown>> {
  const a = await (region ? callIn(region, op, input) : call(op, input));
  expect(a.status, `${op}: ${a.text}`).toBe(200);
  return a.json!;
}

/** Creates a fixture with a fresh canary value (or puts it back after a forced delete). */
async function createFixture(name: FixtureName): Promise<void> {
  const value = FIXTURES[name]();
  canaries.push(...Object.values(value));
  if ('SecretString' in value && value.SecretString.startsWith('{')) {
    canaries.push(JSON.parse(value.SecretString).password);
  }
  arns[name] = (await ok('CreateSecret', { Name: name, ...value })).ARN as string;
}

/** More valid inputs for an operation, fuzzed as well: shapes the one above leaves out. */
const VARIANTS: [string, string, () => Record<string, Json>][] = [
  [
    'CreateSecret with AddReplicaRegions',
    'CreateSecret',
    () => ({
      Name: `fuzz/replicated-${randomUUID()}`,
      SecretString: 'created by the fuzzer, replicated',
      AddReplicaRegions: [{ Region: REPLICA_REGION, KmsKeyId: REPLICA_KEY_ALIAS }],
      ForceOverwriteReplicaSecret: false,
    }),
  ],
];

/** A valid input per operation; every operation in src/secrets/api.ts must have one (checked below). */
const VALID: Record<string, () => Record<string, Json>> = {
  CreateSecret: () => ({
    Name: `fuzz/new-${randomUUID()}`,
    SecretString: 'created by the fuzzer',
    Description: 'd',
    Tags: [{ Key: 'k', Value: 'v' }],
  }),
  GetSecretValue: () => ({ SecretId: 'fuzz/canary', VersionStage: 'AWSCURRENT' }),
  BatchGetSecretValue: () => ({ SecretIdList: ['fuzz/canary', 'fuzz/canary-bin', 'fuzz/missing'] }),
  PutSecretValue: () => ({ SecretId: 'fuzz/victim', SecretString: 'put by the fuzzer', VersionStages: ['AWSCURRENT'] }),
  UpdateSecret: () => ({ SecretId: 'fuzz/victim', Description: 'updated by the fuzzer' }),
  DescribeSecret: () => ({ SecretId: 'fuzz/canary-json' }),
  ListSecrets: () => ({ MaxResults: 3, Filters: [{ Key: 'name', Values: ['fuzz/'] }], SortOrder: 'desc' }),
  ListSecretVersionIds: () => ({ SecretId: 'fuzz/victim', IncludeDeprecated: true, MaxResults: 2 }),
  UpdateSecretVersionStage: () => ({ SecretId: 'fuzz/victim', VersionStage: 'FUZZ', MoveToVersionId: victimVersion }),
  DeleteSecret: () => ({ SecretId: 'fuzz/victim', RecoveryWindowInDays: 7 }),
  RestoreSecret: () => ({ SecretId: 'fuzz/victim' }),
  RotateSecret: () => ({
    SecretId: 'fuzz/canary-json',
    RotationLambdaARN: 'keysafe:rotation:random-password?length=20',
    RotationRules: { AutomaticallyAfterDays: 30 },
    RotateImmediately: false,
  }),
  CancelRotateSecret: () => ({ SecretId: 'fuzz/canary-json' }),
  GetRandomPassword: () => ({ PasswordLength: 24, ExcludeCharacters: 'abc', RequireEachIncludedType: true }),
  TagResource: () => ({ SecretId: 'fuzz/victim', Tags: [{ Key: 'team', Value: 'fuzz' }] }),
  UntagResource: () => ({ SecretId: 'fuzz/victim', TagKeys: ['team'] }),
  GetResourcePolicy: () => ({ SecretId: 'fuzz/victim' }),
  PutResourcePolicy: () => ({ SecretId: 'fuzz/victim', ResourcePolicy: POLICY, BlockPublicPolicy: true }),
  DeleteResourcePolicy: () => ({ SecretId: 'fuzz/victim' }),
  ValidateResourcePolicy: () => ({ SecretId: 'fuzz/victim', ResourcePolicy: POLICY }),
  ReplicateSecretToRegions: () => ({ SecretId: 'fuzz/victim', AddReplicaRegions: [{ Region: 'eu-west-1' }] }),
  RemoveRegionsFromReplication: () => ({ SecretId: 'fuzz/victim', RemoveReplicaRegions: ['eu-west-1'] }),
  StopReplicationToReplica: () => ({ SecretId: 'fuzz/victim' }),
};

const READ_ONLY = new Set([
  'GetSecretValue',
  'BatchGetSecretValue',
  'DescribeSecret',
  'ListSecrets',
  'ListSecretVersionIds',
  'GetRandomPassword',
  'GetResourcePolicy',
  'ValidateResourcePolicy',
]);

/** ListSecrets in a region, every page, deleted ones too. */
async function listAll(region?: string): Promise<unknown[]> {
  const secrets: unknown[] = [];
  let NextToken: string | undefined;
  do {
    const input = { IncludePlannedDeletion: true, MaxResults: 100, ...(NextToken && { NextToken }) };
    const page = await ok('ListSecrets', input, region);
    secrets.push(...(page.SecretList as unknown[]));
    NextToken = page.NextToken as string | undefined;
  } while (NextToken);
  return secrets;
}

/**
 * ListSecrets in both regions (a refused call leaves no replica behind either) plus the named secret's
 * versions and resource policy.
 */
async function snapshot(input: Json): Promise<unknown> {
  const bodyOf = (a: Answer) => ({ status: a.status, json: a.json });
  const state: Record<string, unknown> = { secrets: await listAll(), replicas: await listAll(REPLICA_REGION) };
  const o = input && typeof input === 'object' && !Array.isArray(input) ? input : {};
  const ref = [o.SecretId, o.Name].find((v) => typeof v === 'string') as string | undefined;
  if (ref) {
    state.versions = bodyOf(await call('ListSecretVersionIds', { SecretId: ref, IncludeDeprecated: true }));
    state.policy = bodyOf(await call('GetResourcePolicy', { SecretId: ref }));
  }
  return state;
}

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The oracle for BlockPublicPolicy, from IAM's grammar: an Allow to "*" or to a list holding "*". */
function allowsAnyone(document: unknown): boolean {
  if (typeof document !== 'string') return false;
  const statements = [JSON.parse(document).Statement].flat() as Record<string, unknown>[];
  return statements.some((s) => {
    if (s?.Effect !== 'Allow') return false;
    const p = s.Principal as { AWS?: unknown } | string | undefined;
    return p === '*' || (typeof p === 'object' && [p.AWS].flat().includes('*'));
  });
}

/** Puts deleted fixtures back so later runs still reach them. */
async function heal(): Promise<void> {
  for (const name of Object.keys(FIXTURES) as FixtureName[]) {
    const restored = await call('RestoreSecret', { SecretId: name });
    if (restored.json?.__type === 'ResourceNotFoundException') await createFixture(name);
  }
}

function space(): MutationSpace {
  const fixtureArns = Object.values(arns);
  return {
    fields: fieldNamesIn('src/secrets/api.ts', 'src/secrets/api'),
    blobFields: ['SecretBinary'],
    refFields: ['SecretId', 'Name', 'VersionId', 'MoveToVersionId', 'RemoveFromVersionId', 'ClientRequestToken'],
    refs: [
      ...Object.keys(FIXTURES),
      ...fixtureArns,
      ...fixtureArns.map((a) => a.slice(0, -7)), // a partial ARN, without the random suffix
      fixtureArns[0]!.replace(':us-east-1:', ':eu-west-1:'),
      victimVersion,
      victimOldVersion,
      randomUUID(),
      'fuzz/missing',
      'fuzz/',
      'fuzz',
      'FUZZ/CANARY',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:fuzz/canary-',
      'keysafe/internal',
    ],
    alternatives: {
      VersionStage: ['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING', 'FUZZ', 'x'.repeat(257)],
      VersionStages: [['AWSPENDING'], ['AWSPREVIOUS'], ['A', 'A'], [], Array.from({ length: 21 }, (_, i) => `S${i}`)],
      VersionId: [victimVersion, victimOldVersion, randomUUID()],
      RemoveFromVersionId: [victimVersion, victimOldVersion],
      MoveToVersionId: [victimVersion, victimOldVersion],
      ClientRequestToken: [victimVersion, victimOldVersion, randomUUID(), 'x'.repeat(31), 'x'.repeat(65)],
      RecoveryWindowInDays: [0, 6, 7, 30, 31, -1, 2 ** 40],
      ForceDeleteWithoutRecovery: [true, false],
      SecretString: ['', 'v', 'x'.repeat(65_537), '\u00e9'.repeat(32_769)],
      SecretBinary: ['', 'AA==', Buffer.alloc(65_537).toString('base64')],
      KmsKeyId: ['', 'alias/aws/secretsmanager', 'alias/missing', randomUUID(), 'alias/keysafe/sessions'],
      MaxResults: [0, 1, 20, 21, 100, 101],
      NextToken: ['MQ', 'MTAw', 'LTE', 'eA', 'MWUz', 'MC41', 'OTAwNzE5OTI1NDc0MDk5Mg'],
      Filters: [
        [],
        [{ Key: 'all' }],
        [{ Key: 'tag-key', Values: ['!k'] }],
        [{ Key: 'description', Values: ['!', '!!'] }],
        [{ Key: 'primary-region', Values: ['us-east-1'] }],
        Array.from({ length: 11 }, () => ({ Key: 'name', Values: ['a'] })),
      ],
      SortBy: ['created-date', 'last-accessed-date', 'last-changed-date', 'name'],
      SortOrder: ['asc', 'desc'],
      IncludePlannedDeletion: [true],
      SecretIdList: [
        Object.keys(FIXTURES),
        [],
        Array.from({ length: 21 }, (_, i) => `s${i}`),
        ['fuzz/canary', 'fuzz/canary'],
      ],
      RotationLambdaARN: [
        '',
        'keysafe:rotation:random-password',
        'keysafe:rotation:random-password?length=0',
        'keysafe:rotation:random-password?length=4097&exclude-characters=abcdefghijklmnopqrstuvwxyz',
        'keysafe:rotation:webhook:http://127.0.0.1:1/rotate',
        'keysafe:rotation:postgres:single-user',
        'keysafe:rotation:nope',
        'arn:aws:lambda:us-east-1:000000000000:function:rotate',
      ],
      RotationRules: [
        {},
        { AutomaticallyAfterDays: 0 },
        { AutomaticallyAfterDays: 1001 },
        { ScheduleExpression: 'rate(4 hours)' },
        { ScheduleExpression: 'rate(0 days)' },
        { ScheduleExpression: 'cron(0 16 1,15 * ? *)' },
        { ScheduleExpression: 'cron(* * * * * *)', Duration: '2h' },
        { ScheduleExpression: 'cron(0 0 1 1 ? 1970)' },
        { ScheduleExpression: 'cron(60 25 32 13 ? 99999)' },
        { ScheduleExpression: 'rate(99999999999 days)' },
        { AutomaticallyAfterDays: 1, ScheduleExpression: 'rate(1 days)' },
        { Duration: '25h' },
        { Duration: '0h' },
      ],
      RotateImmediately: [true, false],
      PasswordLength: [1, 2, 3, 4, 4096, 4097, 0],
      ExcludeCharacters: [
        'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
        'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
        '\ud800',
      ],
      ExcludeNumbers: [true],
      ExcludePunctuation: [true],
      ExcludeUppercase: [true],
      ExcludeLowercase: [true],
      IncludeSpace: [true],
      RequireEachIncludedType: [true, false],
      Tags: [
        [],
        [{ Key: 'aws:x', Value: 'v' }],
        [
          { Key: 'a', Value: '1' },
          { Key: 'a', Value: '2' },
        ],
        Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: '' })),
      ],
      TagKeys: [[], ['aws:x'], ['team', 'team']],
      ResourcePolicy: [
        POLICY,
        PUBLIC_POLICY,
        '{}',
        'null',
        '[]',
        '"x"',
        '{"Statement":null}',
        '{"Statement":[null,1,"x"]}',
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*"}}',
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*",1]},"Action":"*","Resource":"*"}]}',
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"*","Resource":"*"}]}',
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:root","*"]},"Action":"*","Resource":"*"}]}',
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*","Service":"x"},"Action":"*","Resource":"*"}}',
        '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"x"},"NotAction":"*","NotResource":"*"}]}',
      ],
      BlockPublicPolicy: [true, false],
      AddReplicaRegions: [
        [],
        [{ Region: REPLICA_REGION }],
        [{ Region: 'us-east-1' }],
        [{ Region: REPLICA_REGION }, { Region: REPLICA_REGION }],
        [{ Region: 'Moon-1' }],
        [{ Region: REPLICA_REGION, KmsKeyId: 'alias/missing' }],
        [{ KmsKeyId: 'alias/keysafe/secretsmanager' }],
        Array.from({ length: 40 }, (_, i) => ({ Region: `eu-west-${i}` })),
      ],
      ForceOverwriteReplicaSecret: [true, false],
    },
  };
}

describe('Secrets Manager operations under fuzzing (real HTTP)', { timeout: fuzzTimeout() }, () => {
  beforeAll(async () => {
    server = await startTestServer({ clock: new ManualClock(Date.now()) });
    for (const name of Object.keys(FIXTURES) as FixtureName[]) await createFixture(name);
    const kms = (op: string, input: unknown) =>
      awsCall(server, `TrentService.${op}`, JSON.stringify(input), { 'x-keysafe-region': REPLICA_REGION });
    const key = (await kms('CreateKey', {})).json?.KeyMetadata as { KeyId: string };
    expect((await kms('CreateAlias', { AliasName: REPLICA_KEY_ALIAS, TargetKeyId: key.KeyId })).status).toBe(200);
    victimOldVersion = (await ok('GetSecretValue', { SecretId: 'fuzz/victim' })).VersionId as string;
    const second = `CANARY-victim-2-${randomUUID()}`;
    canaries.push(second);
    victimVersion = (await ok('PutSecretValue', { SecretId: 'fuzz/victim', SecretString: second })).VersionId as string;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('has a fuzz input for every operation src/secrets/api.ts defines', () => {
    expect(Object.keys(VALID).sort()).toEqual(Object.keys(secretsOperations).sort());
  });

  it('answers each variant’s valid input (CreateSecret with AddReplicaRegions makes an InSync replica)', async () => {
    for (const [, op, valid] of VARIANTS) await ok(op, valid());
    const made = await ok('CreateSecret', VARIANTS[0]![2]());
    expect(made.ReplicationStatus).toEqual([{ Region: REPLICA_REGION, KmsKeyId: REPLICA_KEY_ALIAS, Status: 'InSync' }]);
    await ok('GetSecretValue', { SecretId: made.Name }, REPLICA_REGION);
  });

  const cases: [string, string, () => Record<string, Json>][] = [
    ...Object.keys(secretsOperations).map((op): [string, string, () => Record<string, Json>] => [op, op, VALID[op]!]),
    ...VARIANTS,
  ];
  it.each(cases)(
    '%s answers mutated input with a documented error, never 5xx, a stored value or a partial write',
    async (_label, op, valid) => {
      const mutating = !READ_ONLY.has(op);
      await fc.assert(
        fc.asyncProperty(mutatedInput(valid(), space()), async (input) => {
          const before = mutating ? await snapshot(input) : undefined;
          const a = await call(op, input);
          await server.rotation.idle();
          // A primary's commit syncs its replicas after the answer: let it land before comparing.
          await server.replicasSettled();
          expectWellFormed(a, SECRETS_CODES, op);
          if (a.status === 200) {
            if (op === 'PutResourcePolicy' && isObject(input) && input.BlockPublicPolicy === true) {
              const stored = await ok('GetResourcePolicy', { SecretId: input.SecretId });
              expect(allowsAnyone(stored.ResourcePolicy), 'BlockPublicPolicy stored a public policy').toBe(false);
            }
            if (mutating) await heal();
            return;
          }
          for (const c of canaries) expect(a.text, `${op} error body`).not.toContain(c);
          if (mutating) expect(await snapshot(input), `${op} refused but changed state`).toEqual(before);
        }),
        { numRuns: httpRuns(8) },
      );
    },
  );

  it('no log line or audit record carries a stored secret value', () => {
    expect(canaries.length).toBeGreaterThan(4);
    for (const line of server.logs) for (const c of canaries) expect(line).not.toContain(c);
    for (const f of readdirSync(server.auditDir)) {
      const path = join(server.auditDir, f);
      if (!statSync(path).isFile()) continue;
      const text = readFileSync(path, 'utf8');
      for (const c of canaries) expect(text, f).not.toContain(c);
    }
  });
});
