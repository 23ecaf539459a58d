// Drives a running server through every Secrets Manager operation with the real AWS SDK for JavaScript v3.
import { randomUUID } from 'node:crypto';
import {
  BatchGetSecretValueCommand,
  CancelRotateSecretCommand,
  CreateSecretCommand,
  type CreateSecretRequest,
  DeleteResourcePolicyCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  type GetRandomPasswordRequest,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  type ListSecretsRequest,
  ListSecretVersionIdsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  StopReplicationToReplicaCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
  ValidateResourcePolicyCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretsOperations } from '../../src/secrets/api.js';
import { failure as sdkFailure } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from '../support/wait.js';

let server: TestServer;
let sm: SecretsManagerClient;

const DAY_MS = 86_400_000;
const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** Operations the suite sent (from the SDK command names), checked against `secretsOperations` at the end. */
const called = new Set<string>();
/** Every refused call's AWS error name and HTTP status, checked at the end. */
const refusals: { name: string; status: number | undefined }[] = [];

/** Runs a command that must fail and returns the AWS error name, HTTP status and message (kept in `refusals`). */
async function failure(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  const refused = await sdkFailure(p);
  refusals.push({ name: refused.name, status: refused.status });
  return refused;
}

const uid = () => randomUUID().slice(0, 8);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const arnPattern = (name: string) =>
  new RegExp(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:${escapeRe(name)}-[A-Za-z0-9]{6}$`);
const kmsArn = (keyId: string) => `arn:aws:kms:us-east-1:000000000000:key/${keyId}`;

async function create(input: Partial<CreateSecretRequest> & { Name?: string } = {}) {
  const out = await sm.send(new CreateSecretCommand({ Name: `sdk/${uid()}`, ...input }));
  return { ARN: out.ARN!, Name: out.Name!, VersionId: out.VersionId };
}

async function put(SecretId: string, SecretString: string, VersionStages?: string[], ClientRequestToken?: string) {
  return sm.send(new PutSecretValueCommand({ SecretId, SecretString, VersionStages, ClientRequestToken }));
}

async function get(SecretId: string, sel: { VersionStage?: string; VersionId?: string } = {}) {
  return sm.send(new GetSecretValueCommand({ SecretId, ...sel }));
}

const sorted = (m: Record<string, string[]>) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, [...v].sort()]));

/** VersionIdsToStages from DescribeSecret, labels sorted. */
async function stagesOf(SecretId: string): Promise<Record<string, string[]>> {
  return sorted((await sm.send(new DescribeSecretCommand({ SecretId }))).VersionIdsToStages ?? {});
}

/** ListSecretVersionIds as versionId → sorted labels (walks every page). */
async function versionsOf(SecretId: string, IncludeDeprecated?: boolean): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  let NextToken: string | undefined;
  do {
    const page = await sm.send(new ListSecretVersionIdsCommand({ SecretId, IncludeDeprecated, NextToken }));
    for (const v of page.Versions ?? []) out[v.VersionId!] = [...(v.VersionStages ?? [])].sort();
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

/** Every secret ListSecrets returns for the request, walking NextToken. */
async function listAll(input: ListSecretsRequest) {
  const out = [];
  let NextToken: string | undefined;
  do {
    const page = await sm.send(new ListSecretsCommand({ ...input, NextToken }));
    out.push(...(page.SecretList ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

const namesOf = async (input: ListSecretsRequest) => (await listAll(input)).map((s) => s.Name!);

/** Waits until the secret's rotation finished: the runner is idle and no version holds AWSPENDING (max 5 s). */
async function waitForRotation(SecretId: string): Promise<Record<string, string[]>> {
  await server.rotation.idle();
  const deadline = Date.now() + 5_000;
  for (;;) {
    const stages = await stagesOf(SecretId);
    if (!Object.values(stages).some((labels) => labels.includes('AWSPENDING'))) return stages;
    if (Date.now() > deadline) throw new Error(`rotation of ${SecretId} did not finish: ${JSON.stringify(stages)}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  server = await startTestServer();
  sm = server.secretsClient();
  sm.middlewareStack.add(
    (next, context) => (args) => {
      called.add(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'recordOperation' },
  );
});
afterAll(async () => {
  sm?.destroy();
  await server?.stop();
});

describe('CreateSecret and secret identifiers', () => {
  it('creates a string secret with an AWS-shaped ARN and finds it by name, full ARN and partial ARN', async () => {
    const name = `app/${uid()}/db_creds+x=y.z@w`;
    const created = await create({ Name: name, SecretString: 's3cr3t' });
    expect(created.Name).toBe(name);
    expect(created.ARN).toMatch(arnPattern(name));
    expect(created.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    const partialArn = created.ARN.slice(0, -7);
    expect(partialArn).toBe(`arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`);
    for (const id of [name, created.ARN, partialArn]) {
      const v = await get(id);
      expect(v).toMatchObject({
        ARN: created.ARN,
        Name: name,
        SecretString: 's3cr3t',
        VersionId: created.VersionId,
        VersionStages: ['AWSCURRENT'],
      });
      expect(v.SecretBinary).toBeUndefined();
      expect(v.CreatedDate).toBeInstanceOf(Date);
    }
    const wrongSuffix = `${partialArn}-ZZZZZZ`;
    for (const id of [`${name}-nope`, wrongSuffix]) {
      expect(await failure(get(id))).toEqual({ name: 'ResourceNotFoundException', status: 400, message: NOT_FOUND });
    }
  });

  it('stores a binary secret and returns the same bytes and no SecretString', async () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255, 10, 13, 0]);
    const { ARN } = await create({ SecretBinary: bytes });
    const v = await get(ARN);
    expect(v.SecretString).toBeUndefined();
    expect(Buffer.from(v.SecretBinary!).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps the description and tags given at creation, and uses the default key unless told otherwise', async () => {
    const tags = [
      { Key: 'team', Value: 'payments' },
      { Key: 'env', Value: '' },
    ];
    const { ARN } = await create({ SecretString: 'x', Description: 'the payments API key', Tags: tags });
    const d = await sm.send(new DescribeSecretCommand({ SecretId: ARN }));
    expect(d.Description).toBe('the payments API key');
    expect(d.Tags).toEqual(expect.arrayContaining(tags));
    expect(d.Tags).toHaveLength(2);
    expect(d.KmsKeyId).toBeUndefined();
    const list = await sm.send(new ListSecretVersionIdsCommand({ SecretId: ARN }));
    expect(list.Versions?.[0]?.KmsKeyIds).toEqual(['DefaultEncryptionKey']);
  });

  it('encrypts under a customer KMS key given as KmsKeyId', async () => {
    const key = await server.kms.createKey({});
    const { ARN } = await create({ SecretString: 'under my key', KmsKeyId: key.keyId });
    const d = await sm.send(new DescribeSecretCommand({ SecretId: ARN }));
    expect([key.keyId, kmsArn(key.keyId)]).toContain(d.KmsKeyId);
    const list = await sm.send(new ListSecretVersionIdsCommand({ SecretId: ARN }));
    expect(list.Versions?.[0]?.KmsKeyIds).not.toEqual(['DefaultEncryptionKey']);
    expect((await get(ARN)).SecretString).toBe('under my key');
  });

  it('refuses a second secret with the same name with ResourceExistsException', async () => {
    const { Name } = await create({ SecretString: 'one' });
    expect(await failure(create({ Name, SecretString: 'two' }))).toEqual({
      name: 'ResourceExistsException',
      status: 400,
      message: `The operation failed because the secret ${Name} already exists.`,
    });
    expect((await get(Name)).SecretString).toBe('one');
  });

  it('refuses a name outside the allowed characters with ValidationException', async () => {
    for (const Name of ['has space', 'semi;colon', 'star*']) {
      expect(await failure(create({ Name, SecretString: 'x' }))).toEqual({
        name: 'ValidationException',
        status: 400,
        message:
          'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      });
    }
  });

  it('treats a retried CreateSecret with the same ClientRequestToken and value as the same request', async () => {
    const Name = `retry/${uid()}`;
    const ClientRequestToken = randomUUID();
    const first = await create({ Name, SecretString: 'v', ClientRequestToken });
    const again = await create({ Name, SecretString: 'v', ClientRequestToken });
    expect(first.VersionId).toBe(ClientRequestToken);
    expect(again).toEqual(first);
    expect(Object.keys(await versionsOf(Name, true))).toEqual([ClientRequestToken]);
    const other = await failure(create({ Name, SecretString: 'different', ClientRequestToken }));
    expect(other).toMatchObject({ name: 'ResourceExistsException', status: 400 });
  });

  it('creates a secret without a value; its first PutSecretValue gets AWSCURRENT even with other stages', async () => {
    const { ARN, VersionId } = await create({ Description: 'no value yet' });
    expect(VersionId).toBeUndefined();
    expect(await stagesOf(ARN)).toEqual({});
    expect(await failure(get(ARN))).toMatchObject({ name: 'ResourceNotFoundException', status: 400 });
    const first = await put(ARN, 'first', ['CUSTOM']);
    expect([...(first.VersionStages ?? [])].sort()).toEqual(['AWSCURRENT', 'CUSTOM']);
    expect((await get(ARN)).SecretString).toBe('first');
  });

  it('refuses both SecretString and SecretBinary with InvalidParameterException', async () => {
    const both = await failure(create({ SecretString: 'a', SecretBinary: new Uint8Array([1]) }));
    expect(both).toMatchObject({ name: 'InvalidParameterException', status: 400 });
  });
});

describe('GetSecretValue and BatchGetSecretValue', () => {
  it('reads by VersionStage, by VersionId, and by both when they agree', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'one' });
    const { VersionId: v2 } = await put(ARN, 'two');
    expect(await get(ARN, { VersionStage: 'AWSPREVIOUS' })).toMatchObject({
      VersionId: v1,
      SecretString: 'one',
      VersionStages: ['AWSPREVIOUS'],
    });
    expect(await get(ARN, { VersionId: v2! })).toMatchObject({ SecretString: 'two', VersionStages: ['AWSCURRENT'] });
    expect((await get(ARN, { VersionId: v1!, VersionStage: 'AWSPREVIOUS' })).SecretString).toBe('one');
  });

  it('refuses a VersionId and VersionStage that disagree with InvalidRequestException', async () => {
    const { ARN, VersionId } = await create({ SecretString: 'one' });
    await put(ARN, 'two');
    expect(await failure(get(ARN, { VersionId: VersionId!, VersionStage: 'AWSCURRENT' }))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
      message: 'You provided a VersionStage that is not associated to the provided VersionId.',
    });
  });

  it("answers an unknown staging label or VersionId with ResourceNotFoundException and AWS's message", async () => {
    const { ARN } = await create({ SecretString: 'only one version' });
    expect(await failure(get(ARN, { VersionStage: 'AWSPREVIOUS' }))).toEqual({
      name: 'ResourceNotFoundException',
      status: 400,
      message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
    });
    const unknownId = await failure(get(ARN, { VersionId: randomUUID() }));
    expect(unknownId).toMatchObject({ name: 'ResourceNotFoundException', status: 400 });
  });

  it('BatchGetSecretValue by SecretIdList returns the values and lists a missing id under Errors', async () => {
    const a = await create({ SecretString: 'A' });
    const b = await create({ SecretBinary: new Uint8Array([7, 8]) });
    const missing = `missing/${uid()}`;
    const out = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: [a.Name, b.ARN, missing] }));
    const byName = new Map((out.SecretValues ?? []).map((v) => [v.Name, v]));
    expect(out.SecretValues).toHaveLength(2);
    expect(byName.get(a.Name)).toMatchObject({ ARN: a.ARN, SecretString: 'A', VersionStages: ['AWSCURRENT'] });
    expect(Buffer.from(byName.get(b.Name)!.SecretBinary!)).toEqual(Buffer.from([7, 8]));
    expect(out.Errors).toEqual([{ SecretId: missing, ErrorCode: 'ResourceNotFoundException', Message: NOT_FOUND }]);
  });

  it('BatchGetSecretValue by Filters pages with MaxResults and NextToken', async () => {
    const prefix = `batch-${uid()}/`;
    for (const n of ['a', 'b', 'c']) await create({ Name: `${prefix}${n}`, SecretString: `value-${n}` });
    const Filters = [{ Key: 'name' as const, Values: [prefix] }];
    const first = await sm.send(new BatchGetSecretValueCommand({ Filters, MaxResults: 2 }));
    expect(first.SecretValues).toHaveLength(2);
    expect(first.NextToken).toBeTruthy();
    const second = await sm.send(
      new BatchGetSecretValueCommand({ Filters, MaxResults: 2, NextToken: first.NextToken }),
    );
    expect(second.SecretValues).toHaveLength(1);
    expect(second.NextToken).toBeUndefined();
    const all = [...first.SecretValues!, ...second.SecretValues!];
    expect(all.map((v) => `${v.Name}=${v.SecretString}`).sort()).toEqual([
      `${prefix}a=value-a`,
      `${prefix}b=value-b`,
      `${prefix}c=value-c`,
    ]);
    expect([...(first.Errors ?? []), ...(second.Errors ?? [])]).toEqual([]);
  });

  it('BatchGetSecretValue refuses SecretIdList together with Filters', async () => {
    const { Name } = await create({ SecretString: 'x' });
    const both = await failure(
      sm.send(new BatchGetSecretValueCommand({ SecretIdList: [Name], Filters: [{ Key: 'name', Values: [Name] }] })),
    );
    expect(both).toMatchObject({ name: 'InvalidParameterException', status: 400 });
  });
});

describe('PutSecretValue and staging labels', () => {
  it('moves AWSCURRENT to each new version and AWSPREVIOUS to the old one; the oldest is left with no labels', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'v1' });
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSCURRENT'] });
    const p2 = await put(ARN, 'v2');
    expect(p2.VersionStages).toEqual(['AWSCURRENT']);
    const v2 = p2.VersionId!;
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    const v3 = (await put(ARN, 'v3')).VersionId!;
    expect(await versionsOf(ARN)).toEqual({ [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
    expect(await versionsOf(ARN, true)).toEqual({ [v1!]: [], [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
    expect(await stagesOf(ARN)).toEqual({ [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
    expect((await get(ARN, { VersionId: v1! })).SecretString).toBe('v1');
  });

  it('a put with VersionStages [CUSTOM] moves only CUSTOM and leaves AWSCURRENT where it was', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'current' });
    const c1 = await put(ARN, 'custom-1', ['CUSTOM']);
    expect(c1.VersionStages).toEqual(['CUSTOM']);
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSCURRENT'], [c1.VersionId!]: ['CUSTOM'] });
    const c2 = await put(ARN, 'custom-2', ['CUSTOM']);
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSCURRENT'], [c2.VersionId!]: ['CUSTOM'] });
    expect((await get(ARN)).SecretString).toBe('current');
    expect((await get(ARN, { VersionStage: 'CUSTOM' })).SecretString).toBe('custom-2');
  });

  it('a put with VersionStages [AWSPENDING] stages a value while GetSecretValue still returns AWSCURRENT', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'live' });
    const pending = await put(ARN, 'next', ['AWSPENDING']);
    expect(pending.VersionStages).toEqual(['AWSPENDING']);
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSCURRENT'], [pending.VersionId!]: ['AWSPENDING'] });
    expect((await get(ARN)).SecretString).toBe('live');
    expect((await get(ARN, { VersionStage: 'AWSPENDING' })).SecretString).toBe('next');
  });

  it('a repeated ClientRequestToken with the same value returns the same VersionId and adds no version', async () => {
    const { ARN } = await create({ SecretString: 'v1' });
    const token = randomUUID();
    const first = await put(ARN, 'v2', undefined, token);
    const again = await put(ARN, 'v2', undefined, token);
    expect(first.VersionId).toBe(token);
    expect(again.VersionId).toBe(token);
    expect(again.VersionStages).toEqual(['AWSCURRENT']);
    expect(Object.keys(await versionsOf(ARN, true))).toHaveLength(2);
  });

  it('a repeated ClientRequestToken with another value is ResourceExistsException', async () => {
    const { ARN } = await create({ SecretString: 'v1' });
    const token = randomUUID();
    await put(ARN, 'v2', undefined, token);
    const clash = await failure(put(ARN, 'something else', undefined, token));
    expect(clash).toMatchObject({ name: 'ResourceExistsException', status: 400 });
    expect(clash.message).toBe("You can't modify an existing version, you can only create a new version.");
    expect((await get(ARN)).SecretString).toBe('v2');
    expect(Object.keys(await versionsOf(ARN, true))).toHaveLength(2);
  });

  it('accepts a value of exactly 65,536 bytes and refuses 65,537 bytes', async () => {
    const { ARN } = await create({ SecretString: 'small' });
    await put(ARN, 'a'.repeat(65_536));
    expect((await get(ARN)).SecretString).toHaveLength(65_536);
    // Two-byte UTF-8 characters: the limit counts bytes, not characters.
    await put(ARN, 'é'.repeat(32_768));
    expect((await get(ARN)).SecretString).toBe('é'.repeat(32_768));

    // More than 65,536 characters breaks the model's length constraint (ValidationException, the value not
    // shown: SecretString is sensitive); within it but over 65,536 UTF-8 bytes, the engine's byte check
    // answers InvalidParameterException.
    const overModel =
      "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536";
    const tooBig = await failure(put(ARN, 'a'.repeat(65_537)));
    expect(tooBig).toMatchObject({ name: 'ValidationException', status: 400, message: overModel });
    const tooBigUtf8 = await failure(put(ARN, `${'é'.repeat(32_768)}a`));
    expect(tooBigUtf8).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    const tooBigCreate = await failure(create({ SecretString: 'a'.repeat(65_537) }));
    expect(tooBigCreate).toMatchObject({ name: 'ValidationException', status: 400, message: overModel });

    await sm.send(new PutSecretValueCommand({ SecretId: ARN, SecretBinary: new Uint8Array(65_536).fill(1) }));
    expect((await get(ARN)).SecretBinary).toHaveLength(65_536);
    const binary = await failure(
      sm.send(new PutSecretValueCommand({ SecretId: ARN, SecretBinary: new Uint8Array(65_537).fill(1) })),
    );
    expect(['InvalidParameterException', 'ValidationException']).toContain(binary.name);
    expect(binary).toMatchObject({ name: 'ValidationException', status: 400 });
    expect((await get(ARN)).SecretBinary).toHaveLength(65_536);
  });
});

describe('UpdateSecret', () => {
  it('changing only the description creates no new version', async () => {
    const { ARN, VersionId } = await create({ SecretString: 'v', Description: 'old' });
    const out = await sm.send(new UpdateSecretCommand({ SecretId: ARN, Description: 'new words' }));
    expect(out.ARN).toBe(ARN);
    expect(out.VersionId).toBeUndefined();
    const d = await sm.send(new DescribeSecretCommand({ SecretId: ARN }));
    expect(d.Description).toBe('new words');
    expect(await versionsOf(ARN, true)).toEqual({ [VersionId!]: ['AWSCURRENT'] });
  });

  it('a new value becomes AWSCURRENT and the old one AWSPREVIOUS', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'old value' });
    const out = await sm.send(new UpdateSecretCommand({ SecretId: ARN, SecretString: 'new value' }));
    expect(out.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSPREVIOUS'], [out.VersionId!]: ['AWSCURRENT'] });
    expect((await get(ARN)).SecretString).toBe('new value');
  });

  it('a new KmsKeyId encrypts the next value under that key', async () => {
    const key = await server.kms.createKey({});
    const { ARN } = await create({ SecretString: 'under the default key' });
    const out = await sm.send(
      new UpdateSecretCommand({ SecretId: ARN, KmsKeyId: kmsArn(key.keyId), SecretString: 'under my key' }),
    );
    expect(out.VersionId).toBeDefined();
    const d = await sm.send(new DescribeSecretCommand({ SecretId: ARN }));
    expect([key.keyId, kmsArn(key.keyId)]).toContain(d.KmsKeyId);
    expect((await get(ARN)).SecretString).toBe('under my key');
    await server.kms.disableKey(key.keyId);
    try {
      expect(await failure(get(ARN))).toMatchObject({ name: 'DecryptionFailure', status: 400 });
    } finally {
      await server.kms.enableKey(key.keyId);
    }
    expect((await get(ARN)).SecretString).toBe('under my key');
  });

  // AWS re-encrypts AWSCURRENT, AWSPENDING and AWSPREVIOUS under a new KmsKeyId (UpdateSecret docs).
  it('a new KmsKeyId alone re-encrypts the labelled versions under that key', async () => {
    const key = await server.kms.createKey({});
    const { ARN } = await create({ SecretString: 'under the default key' });
    const out = await sm.send(new UpdateSecretCommand({ SecretId: ARN, KmsKeyId: key.keyId }));
    expect(out.VersionId).toBeUndefined();
    expect((await get(ARN)).SecretString).toBe('under the default key');
    await server.kms.disableKey(key.keyId);
    try {
      expect(await failure(get(ARN))).toMatchObject({ name: 'DecryptionFailure', status: 400 });
    } finally {
      await server.kms.enableKey(key.keyId);
    }
  });
});

describe('UpdateSecretVersionStage', () => {
  /** §3.2 rule 5: V0 [AWSCURRENT], V1 [AWSPENDING], then AWSCURRENT moves V0 → V1. */
  async function currentOntoPending() {
    const { ARN, VersionId } = await create({ SecretString: 'v0' });
    const v0 = VersionId!;
    const v1 = (await put(ARN, 'v1', ['AWSPENDING'])).VersionId!;
    expect(await versionsOf(ARN)).toEqual({ [v0]: ['AWSCURRENT'], [v1]: ['AWSPENDING'] });
    const moved = await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: ARN,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: v1,
        RemoveFromVersionId: v0,
      }),
    );
    expect(moved).toMatchObject({ ARN });
    return { ARN, v0, v1 };
  }

  it('moving AWSCURRENT onto the AWSPENDING version gives the old one AWSPREVIOUS and keeps AWSPENDING', async () => {
    const { ARN, v0, v1 } = await currentOntoPending();
    expect(await versionsOf(ARN)).toEqual({ [v0]: ['AWSPREVIOUS'], [v1]: ['AWSCURRENT', 'AWSPENDING'] });
    expect((await get(ARN)).SecretString).toBe('v1');
  });

  // LocalStack's AWS-recorded snapshot of test_update_secret_version_stages_current_pending.
  it('a plain put after that gives V2 AWSCURRENT, V1 only AWSPREVIOUS (AWSPENDING gone), V0 nothing', async () => {
    const { ARN, v0, v1 } = await currentOntoPending();
    const v2 = (await put(ARN, 'v2')).VersionId!;
    expect(await versionsOf(ARN, true)).toEqual({ [v0]: [], [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
  });

  it('refuses to move a label held by another version without RemoveFromVersionId (InvalidParameterException)', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'v1' });
    const v2 = (await put(ARN, 'v2', ['STAGED'])).VersionId!;
    const refused = await failure(
      sm.send(new UpdateSecretVersionStageCommand({ SecretId: ARN, VersionStage: 'AWSCURRENT', MoveToVersionId: v2 })),
    );
    expect(refused).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(refused.message).toContain(v1);
    expect(refused.message).toContain('so you must explicitly reference that version in RemoveFromVersionId');
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSCURRENT'], [v2]: ['STAGED'] });
  });

  // AWS's text, as quoted by terraform-provider-aws #19943.
  it('words the missing RemoveFromVersionId refusal as AWS does', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'v1' });
    const v2 = (await put(ARN, 'v2', ['STAGED'])).VersionId!;
    const refused = await failure(
      sm.send(new UpdateSecretVersionStageCommand({ SecretId: ARN, VersionStage: 'AWSCURRENT', MoveToVersionId: v2 })),
    );
    expect(refused.message).toBe(
      `The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version ${v1}, so you must explicitly reference that version in RemoveFromVersionId.`,
    );
  });

  it('refuses a RemoveFromVersionId that does not hold the label with InvalidRequestException', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'v1' });
    const v2 = (await put(ARN, 'v2', ['STAGED'])).VersionId!;
    const v3 = (await put(ARN, 'v3', ['OTHER'])).VersionId!;
    const refused = await failure(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: ARN,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: v2,
          RemoveFromVersionId: v3,
        }),
      ),
    );
    expect(refused).toEqual({
      name: 'InvalidRequestException',
      status: 400,
      message: 'You provided a VersionStage that is not associated to the provided VersionId.',
    });
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSCURRENT'], [v2]: ['STAGED'], [v3]: ['OTHER'] });
  });

  it('adds a custom label to a version and removes it again, which deprecates a version left with no labels', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: 'v1' });
    const v2 = (await put(ARN, 'v2')).VersionId!;
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: ARN, VersionStage: 'KEEP', MoveToVersionId: v1! }));
    expect(await versionsOf(ARN)).toEqual({ [v1!]: ['AWSPREVIOUS', 'KEEP'], [v2]: ['AWSCURRENT'] });
    expect((await get(ARN, { VersionStage: 'KEEP' })).SecretString).toBe('v1');
    await sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: ARN, VersionStage: 'KEEP', RemoveFromVersionId: v1! }),
    );
    await sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: ARN, VersionStage: 'AWSPREVIOUS', RemoveFromVersionId: v1! }),
    );
    expect(await versionsOf(ARN)).toEqual({ [v2]: ['AWSCURRENT'] });
    expect(await versionsOf(ARN, true)).toEqual({ [v1!]: [], [v2]: ['AWSCURRENT'] });
    expect(await failure(get(ARN, { VersionStage: 'KEEP' }))).toMatchObject({
      name: 'ResourceNotFoundException',
      status: 400,
    });
  });
});

describe('DescribeSecret and ListSecrets', () => {
  it('DescribeSecret reports versions, tags and dates', async () => {
    const before = Date.now();
    const {
      ARN,
      Name,
      VersionId: v1,
    } = await create({
      SecretString: 'a',
      Description: 'described',
      Tags: [{ Key: 'owner', Value: 'me' }],
    });
    const v2 = (await put(ARN, 'b')).VersionId!;
    const d = await sm.send(new DescribeSecretCommand({ SecretId: Name }));
    expect(d).toMatchObject({ ARN, Name, Description: 'described', Tags: [{ Key: 'owner', Value: 'me' }] });
    expect(sorted(d.VersionIdsToStages ?? {})).toEqual({ [v1!]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    expect(d.CreatedDate).toBeInstanceOf(Date);
    expect(d.LastChangedDate).toBeInstanceOf(Date);
    expect(d.CreatedDate!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(d.LastChangedDate!.getTime()).toBeGreaterThanOrEqual(d.CreatedDate!.getTime());
    expect(d.LastChangedDate!.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(d.DeletedDate).toBeUndefined();
    expect(d.RotationEnabled).toBeFalsy();
    expect(await failure(sm.send(new DescribeSecretCommand({ SecretId: `nope/${uid()}` })))).toEqual({
      name: 'ResourceNotFoundException',
      status: 400,
      message: NOT_FOUND,
    });
  });

  describe('with three secrets under one prefix', () => {
    const prefix = `list-${uid()}/`;
    const marker = `m${uid()}`;
    const names = [`${prefix}alpha`, `${prefix}beta`, `${prefix}gamma`];

    beforeAll(async () => {
      await create({
        Name: names[0],
        SecretString: 'a',
        Description: `${marker} alpha service`,
        Tags: [
          { Key: 'env', Value: 'prod' },
          { Key: 'team', Value: `${marker}-team` },
        ],
      });
      await sleep(5);
      await create({ Name: names[1], SecretString: 'b', Tags: [{ Key: 'environment', Value: 'dev' }] });
      await sleep(5);
      await create({ Name: names[2], SecretString: 'c', Description: 'gamma' });
    });

    const byName = { Key: 'name' as const, Values: [prefix] };

    it('filters by name prefix, tag key, negated tag key and "all"', async () => {
      expect((await namesOf({ Filters: [byName] })).sort()).toEqual(names);
      expect((await namesOf({ Filters: [byName, { Key: 'tag-key', Values: ['env'] }] })).sort()).toEqual(
        names.slice(0, 2),
      );
      expect(await namesOf({ Filters: [byName, { Key: 'tag-key', Values: ['!env'] }] })).toEqual([names[2]]);
      expect(await namesOf({ Filters: [byName, { Key: 'tag-value', Values: ['dev'] }] })).toEqual([names[1]]);
      expect(await namesOf({ Filters: [byName, { Key: 'description', Values: ['gamma'] }] })).toEqual([names[2]]);
      expect(await namesOf({ Filters: [{ Key: 'all', Values: [marker] }] })).toEqual([names[0]]);
      expect(await namesOf({ Filters: [{ Key: 'name', Values: [`!${prefix}`, prefix] }] })).toEqual([]);
      const [entry] = await listAll({ Filters: [{ Key: 'name', Values: [names[2]!] }] });
      expect(entry).toMatchObject({ Name: names[2], Description: 'gamma' });
      expect(Object.values(entry?.SecretVersionsToStages ?? {})).toEqual([['AWSCURRENT']]);
    });

    it('sorts by creation date ascending or descending, and by name', async () => {
      expect(await namesOf({ Filters: [byName], SortOrder: 'asc' })).toEqual(names);
      expect(await namesOf({ Filters: [byName], SortOrder: 'desc' })).toEqual([...names].reverse());
      expect(await namesOf({ Filters: [byName], SortBy: 'name', SortOrder: 'desc' })).toEqual([...names].reverse());
    });

    it('pages one secret at a time with MaxResults=1 and NextToken', async () => {
      const seen: string[] = [];
      let NextToken: string | undefined;
      let pages = 0;
      do {
        const page = await sm.send(
          new ListSecretsCommand({ Filters: [byName], MaxResults: 1, SortOrder: 'asc', NextToken }),
        );
        pages++;
        expect(page.SecretList).toHaveLength(1);
        seen.push(page.SecretList![0]!.Name!);
        NextToken = page.NextToken;
      } while (NextToken && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(names);
    });

    it('hides a secret scheduled for deletion unless IncludePlannedDeletion is set', async () => {
      await sm.send(new DeleteSecretCommand({ SecretId: names[1], RecoveryWindowInDays: 7 }));
      expect((await namesOf({ Filters: [byName] })).sort()).toEqual([names[0], names[2]]);
      const all = await listAll({ Filters: [byName], IncludePlannedDeletion: true });
      expect(all.map((s) => s.Name).sort()).toEqual(names);
      expect(all.find((s) => s.Name === names[1])?.DeletedDate).toBeInstanceOf(Date);
      expect(all.find((s) => s.Name === names[0])?.DeletedDate).toBeUndefined();
    });
  });
});

describe('DeleteSecret and RestoreSecret', () => {
  const daysAhead = (d: Date | undefined) => (d!.getTime() - Date.now()) / DAY_MS;

  it('schedules deletion 30 days out by default, or after RecoveryWindowInDays', async () => {
    const a = await create({ SecretString: 'x' });
    const out = await sm.send(new DeleteSecretCommand({ SecretId: a.ARN }));
    expect(out).toMatchObject({ ARN: a.ARN, Name: a.Name });
    expect(daysAhead(out.DeletionDate)).toBeGreaterThan(29.9);
    expect(daysAhead(out.DeletionDate)).toBeLessThan(30.1);
    const b = await create({ SecretString: 'x' });
    const seven = await sm.send(new DeleteSecretCommand({ SecretId: b.Name, RecoveryWindowInDays: 7 }));
    expect(daysAhead(seven.DeletionDate)).toBeGreaterThan(6.9);
    expect(daysAhead(seven.DeletionDate)).toBeLessThan(7.1);
  });

  it('refuses a recovery window under 7 days and both options together', async () => {
    const { ARN } = await create({ SecretString: 'x' });
    const six = await failure(sm.send(new DeleteSecretCommand({ SecretId: ARN, RecoveryWindowInDays: 6 })));
    expect(six).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    const both = await failure(
      sm.send(new DeleteSecretCommand({ SecretId: ARN, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })),
    );
    expect(both).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect((await get(ARN)).SecretString).toBe('x');
  });

  it('refuses reads and writes while scheduled for deletion, shows DeletedDate, and restores', async () => {
    const { ARN, Name } = await create({ SecretString: 'keep me' });
    const before = Date.now();
    await sm.send(new DeleteSecretCommand({ SecretId: ARN, RecoveryWindowInDays: 7 }));
    const marked = { name: 'InvalidRequestException', status: 400, message: MARKED_FOR_DELETION };
    expect(await failure(get(ARN))).toEqual(marked);
    expect(await failure(put(ARN, 'new'))).toEqual(marked);
    expect(await failure(sm.send(new UpdateSecretCommand({ SecretId: ARN, SecretString: 'new' })))).toEqual(marked);
    expect(await failure(sm.send(new TagResourceCommand({ SecretId: ARN, Tags: [{ Key: 'k', Value: 'v' }] })))).toEqual(
      marked,
    );
    expect(await failure(create({ Name, SecretString: 'again' }))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
      message: "You can't create this secret because a secret with this name is already scheduled for deletion.",
    });
    const d = await sm.send(new DescribeSecretCommand({ SecretId: ARN }));
    expect(d.DeletedDate).toBeInstanceOf(Date);
    expect(d.DeletedDate!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(await namesOf({ Filters: [{ Key: 'name', Values: [Name] }] })).toEqual([]);

    const restored = await sm.send(new RestoreSecretCommand({ SecretId: ARN }));
    expect(restored).toMatchObject({ ARN, Name });
    expect((await get(ARN)).SecretString).toBe('keep me');
    expect((await sm.send(new DescribeSecretCommand({ SecretId: ARN }))).DeletedDate).toBeUndefined();
    expect(await namesOf({ Filters: [{ Key: 'name', Values: [Name] }] })).toEqual([Name]);
  });

  it('ForceDeleteWithoutRecovery removes a secret for good and frees its name', async () => {
    const { ARN, Name } = await create({ SecretString: 'gone' });
    const out = await sm.send(new DeleteSecretCommand({ SecretId: ARN, ForceDeleteWithoutRecovery: true }));
    expect(out).toMatchObject({ ARN, Name });
    expect(out.DeletionDate).toBeInstanceOf(Date);
    const notFound = { name: 'ResourceNotFoundException', status: 400, message: NOT_FOUND };
    expect(await failure(get(ARN))).toEqual(notFound);
    expect(await failure(sm.send(new DescribeSecretCommand({ SecretId: Name })))).toEqual(notFound);
    expect(await failure(sm.send(new RestoreSecretCommand({ SecretId: ARN })))).toEqual(notFound);
    expect(await namesOf({ Filters: [{ Key: 'name', Values: [Name] }], IncludePlannedDeletion: true })).toEqual([]);
    const again = await create({ Name, SecretString: 'new life' });
    expect((await get(again.ARN)).SecretString).toBe('new life');
  });

  it('ForceDeleteWithoutRecovery also removes a secret already scheduled for deletion', async () => {
    const { ARN } = await create({ SecretString: 'x' });
    await sm.send(new DeleteSecretCommand({ SecretId: ARN }));
    await sm.send(new DeleteSecretCommand({ SecretId: ARN, ForceDeleteWithoutRecovery: true }));
    expect(await failure(sm.send(new DescribeSecretCommand({ SecretId: ARN })))).toMatchObject({
      name: 'ResourceNotFoundException',
      status: 400,
    });
  });

  // The SDK's DeleteSecret doc: a forced delete of a nonexistent secret does not return ResourceNotFoundException.
  it('ForceDeleteWithoutRecovery of a secret that does not exist succeeds', async () => {
    const Name = `never-created/${uid()}`;
    const out = await sm.send(new DeleteSecretCommand({ SecretId: Name, ForceDeleteWithoutRecovery: true }));
    expect(out.Name).toBe(Name);
    expect(out.ARN).toBeTruthy();
    expect(out.DeletionDate).toBeInstanceOf(Date);
  });
});

describe('KMS key state', () => {
  it("answers DecryptionFailure while the secret's KMS key is disabled, and works again after enable", async () => {
    const key = await server.kms.createKey({});
    const { ARN } = await create({ SecretString: 'guarded', KmsKeyId: key.keyId });
    await server.kms.disableKey(key.keyId);
    try {
      const refused = await failure(get(ARN));
      expect(refused).toMatchObject({ name: 'DecryptionFailure', status: 400 });
      expect(refused.message).not.toContain('guarded');
      const batch = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: [ARN] }));
      expect(batch.SecretValues).toEqual([]);
      expect(batch.Errors?.[0]).toMatchObject({ SecretId: ARN, ErrorCode: 'DecryptionFailure' });
    } finally {
      await server.kms.enableKey(key.keyId);
    }
    expect((await get(ARN)).SecretString).toBe('guarded');
  });
});

describe('rotation', () => {
  it('rotates a JSON secret with the random-password strategy and schedules the next rotation', async () => {
    const { ARN, VersionId: old } = await create({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) });
    const started = Date.now();
    const out = await sm.send(
      new RotateSecretCommand({
        SecretId: ARN,
        RotationLambdaARN: 'keysafe:rotation:random-password',
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    expect(out.ARN).toBe(ARN);
    expect(out.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    const stages = await waitForRotation(ARN);
    expect(stages).toEqual({ [old!]: ['AWSPREVIOUS'], [out.VersionId!]: ['AWSCURRENT'] });

    const current = await get(ARN);
    expect(current.VersionId).toBe(out.VersionId);
    const value = JSON.parse(current.SecretString!) as { username: string; password: string };
    expect(value.username).toBe('u');
    expect(value.password).toHaveLength(32);
    expect(value.password).not.toBe('p');
    expect(JSON.parse((await get(ARN, { VersionStage: 'AWSPREVIOUS' })).SecretString!)).toEqual({
      username: 'u',
      password: 'p',
    });

    const d = await sm.send(new DescribeSecretCommand({ SecretId: ARN }));
    expect(d).toMatchObject({
      RotationEnabled: true,
      RotationLambdaARN: 'keysafe:rotation:random-password',
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
    expect(d.LastRotatedDate).toBeInstanceOf(Date);
    expect(d.LastRotatedDate!.getTime()).toBeGreaterThanOrEqual(started - 1_000);
    const next = d.NextRotationDate!;
    expect(next).toBeInstanceOf(Date);
    expect(next.getTime() % DAY_MS).toBe(0); // a window opens at midnight UTC
    const days = (next.getTime() - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(30);
  });

  it('CancelRotateSecret turns rotation off', async () => {
    const { ARN } = await create({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) });
    await sm.send(
      new RotateSecretCommand({
        SecretId: ARN,
        RotationLambdaARN: 'keysafe:rotation:random-password',
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await waitForRotation(ARN);
    const out = await sm.send(new CancelRotateSecretCommand({ SecretId: ARN }));
    expect(out.ARN).toBe(ARN);
    const d = await sm.send(new DescribeSecretCommand({ SecretId: ARN }));
    expect(d.RotationEnabled).toBe(false);
    expect(d.NextRotationDate).toBeUndefined();
  });

  it('refuses a new rotation while AWSPENDING is on a version other than AWSCURRENT', async () => {
    const { ARN, VersionId: v1 } = await create({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) });
    const pending = (await put(ARN, '{"username":"u","password":"staged"}', ['AWSPENDING'])).VersionId!;
    const refused = await failure(
      sm.send(new RotateSecretCommand({ SecretId: ARN, RotationLambdaARN: 'keysafe:rotation:random-password' })),
    );
    expect(refused).toMatchObject({ name: 'InvalidRequestException', status: 400 });
    await server.rotation.idle();
    expect(await stagesOf(ARN)).toEqual({ [v1!]: ['AWSCURRENT'], [pending]: ['AWSPENDING'] });
  });

  it('refuses RotateSecret when no rotation function was ever given', async () => {
    const { ARN, VersionId } = await create({ SecretString: 'x' });
    expect(await failure(sm.send(new RotateSecretCommand({ SecretId: ARN })))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
      message: 'No Lambda rotation function ARN is associated with this secret.',
    });
    expect(await stagesOf(ARN)).toEqual({ [VersionId!]: ['AWSCURRENT'] });
  });

  it('refuses a RotationLambdaARN that names no strategy with InvalidParameterException', async () => {
    const { ARN, VersionId } = await create({ SecretString: 'x' });
    for (const RotationLambdaARN of [
      'keysafe:rotation:no-such-strategy',
      'arn:aws:lambda:us-east-1:000000000000:function:rotate',
    ]) {
      const refused = await failure(sm.send(new RotateSecretCommand({ SecretId: ARN, RotationLambdaARN })));
      expect(refused).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    }
    expect(await stagesOf(ARN)).toEqual({ [VersionId!]: ['AWSCURRENT'] });
    expect((await sm.send(new DescribeSecretCommand({ SecretId: ARN }))).RotationEnabled).toBeFalsy();
  });
});

describe('GetRandomPassword', () => {
  const password = async (input: GetRandomPasswordRequest = {}) =>
    (await sm.send(new GetRandomPasswordCommand(input))).RandomPassword!;
  const has = (s: string, chars: string) => [...s].some((c) => chars.includes(c));
  const LOWER = 'abcdefghijklmnopqrstuvwxyz';
  const UPPER = LOWER.toUpperCase();
  const DIGITS = '0123456789';

  it('defaults to 32 characters with every type and no space', async () => {
    for (let i = 0; i < 5; i++) {
      const p = await password();
      expect(p).toHaveLength(32);
      expect(has(p, LOWER) && has(p, UPPER) && has(p, DIGITS) && has(p, PUNCTUATION)).toBe(true);
      expect(p).not.toContain(' ');
      expect([...p].every((c) => (LOWER + UPPER + DIGITS + PUNCTUATION).includes(c))).toBe(true);
    }
  });

  it('honours each Exclude* flag, ExcludeCharacters, IncludeSpace and PasswordLength', async () => {
    const p1 = await password({ ExcludeNumbers: true, PasswordLength: 200 });
    expect(has(p1, DIGITS)).toBe(false);
    expect(p1).toHaveLength(200);
    expect(has(await password({ ExcludePunctuation: true, PasswordLength: 200 }), PUNCTUATION)).toBe(false);
    expect(has(await password({ ExcludeUppercase: true, PasswordLength: 200 }), UPPER)).toBe(false);
    expect(has(await password({ ExcludeLowercase: true, PasswordLength: 200 }), LOWER)).toBe(false);
    const excluded = 'abcdefABCDEF012345!@#$%^&*';
    const p2 = await password({ ExcludeCharacters: excluded, PasswordLength: 500 });
    expect(has(p2, excluded)).toBe(false);
    expect(has(p2, LOWER) && has(p2, UPPER) && has(p2, DIGITS) && has(p2, PUNCTUATION)).toBe(true);
    // IncludeSpace allows spaces (never requires one): a long password holds some.
    expect(await password({ IncludeSpace: true, PasswordLength: 4096 })).toContain(' ');
    const onlyDigits = await password({
      ExcludeLowercase: true,
      ExcludeUppercase: true,
      ExcludePunctuation: true,
      PasswordLength: 12,
    });
    expect(onlyDigits).toMatch(/^[0-9]{12}$/);
  });

  it('refuses impossible combinations with InvalidParameterException', async () => {
    const none = await failure(
      password({ ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true }),
    );
    expect(none).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    const noDigitsLeft = await failure(password({ ExcludeCharacters: DIGITS }));
    expect(noDigitsLeft).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    const tooShort = await failure(password({ PasswordLength: 3 }));
    expect(tooShort).toMatchObject({ name: 'InvalidParameterException', status: 400 });
  });
});

describe('tags and resource policies', () => {
  it('TagResource adds and overwrites tags, UntagResource removes them', async () => {
    const { ARN } = await create({ SecretString: 'x', Tags: [{ Key: 'a', Value: '1' }] });
    await sm.send(
      new TagResourceCommand({
        SecretId: ARN,
        Tags: [
          { Key: 'a', Value: '2' },
          { Key: 'b', Value: '3' },
        ],
      }),
    );
    const tagsOf = async () =>
      ((await sm.send(new DescribeSecretCommand({ SecretId: ARN }))).Tags ?? [])
        .map((t) => `${t.Key}=${t.Value}`)
        .sort();
    expect(await tagsOf()).toEqual(['a=2', 'b=3']);
    await sm.send(new UntagResourceCommand({ SecretId: ARN, TagKeys: ['a', 'not-there'] }));
    expect(await tagsOf()).toEqual(['b=3']);
  });

  const policy = (principal: unknown) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: principal, Action: 'secretsmanager:GetSecretValue', Resource: '*' }],
    });
  const accountPolicy = policy({ AWS: 'arn:aws:iam::000000000000:root' });

  it('puts, gets and deletes a resource policy', async () => {
    const { ARN, Name } = await create({ SecretString: 'x' });
    expect((await sm.send(new GetResourcePolicyCommand({ SecretId: ARN }))).ResourcePolicy).toBeUndefined();
    expect(await sm.send(new PutResourcePolicyCommand({ SecretId: ARN, ResourcePolicy: accountPolicy }))).toMatchObject(
      { ARN, Name },
    );
    const got = await sm.send(new GetResourcePolicyCommand({ SecretId: Name }));
    expect(got).toMatchObject({ ARN, Name });
    expect(JSON.parse(got.ResourcePolicy!)).toEqual(JSON.parse(accountPolicy));
    expect(await sm.send(new DeleteResourcePolicyCommand({ SecretId: ARN }))).toMatchObject({ ARN, Name });
    expect((await sm.send(new GetResourcePolicyCommand({ SecretId: ARN }))).ResourcePolicy).toBeUndefined();
  });

  it('ValidateResourcePolicy passes a valid policy and lists the errors of an invalid one', async () => {
    const { ARN } = await create({ SecretString: 'x' });
    const ok = await sm.send(new ValidateResourcePolicyCommand({ SecretId: ARN, ResourcePolicy: accountPolicy }));
    expect(ok.PolicyValidationPassed).toBe(true);
    expect(ok.ValidationErrors ?? []).toEqual([]);
    const badDoc = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Resource: '*' }] });
    const bad = await sm.send(new ValidateResourcePolicyCommand({ ResourcePolicy: badDoc }));
    expect(bad.PolicyValidationPassed).toBe(false);
    expect(bad.ValidationErrors?.length).toBeGreaterThan(0);
    for (const e of bad.ValidationErrors ?? []) expect(e.ErrorMessage).toBeTruthy();
  });

  it('refuses a malformed policy with MalformedPolicyDocumentException', async () => {
    const { ARN } = await create({ SecretString: 'x' });
    const refused = await failure(
      sm.send(new PutResourcePolicyCommand({ SecretId: ARN, ResourcePolicy: '{"Version": "2012-10-17", ' })),
    );
    expect(refused).toMatchObject({ name: 'MalformedPolicyDocumentException', status: 400 });
    expect((await sm.send(new GetResourcePolicyCommand({ SecretId: ARN }))).ResourcePolicy).toBeUndefined();
  });

  it('refuses a public policy under BlockPublicPolicy with PublicPolicyException', async () => {
    const { ARN } = await create({ SecretString: 'x' });
    const refused = await failure(
      sm.send(new PutResourcePolicyCommand({ SecretId: ARN, ResourcePolicy: policy('*'), BlockPublicPolicy: true })),
    );
    expect(refused).toMatchObject({ name: 'PublicPolicyException', status: 400 });
    expect((await sm.send(new GetResourcePolicyCommand({ SecretId: ARN }))).ResourcePolicy).toBeUndefined();
  });
});

describe('replication', () => {
  // The cross-region behaviour is test/integration/replication.test.ts; here each operation's refusals.
  it('refuses the primary region itself, a replica that is not there and promoting a primary', async () => {
    const { ARN } = await create({ SecretString: 'x' });
    const region = ARN!.split(':')[3]!;
    const self = [{ Region: region }];
    expect(
      await failure(sm.send(new ReplicateSecretToRegionsCommand({ SecretId: ARN, AddReplicaRegions: self }))),
    ).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(
      await failure(
        sm.send(new RemoveRegionsFromReplicationCommand({ SecretId: ARN, RemoveReplicaRegions: ['eu-west-1'] })),
      ),
    ).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(await failure(sm.send(new StopReplicationToReplicaCommand({ SecretId: ARN })))).toMatchObject({
      name: 'InvalidRequestException',
      status: 400,
    });
    const replicaOnCreate = await failure(create({ SecretString: 'x', AddReplicaRegions: self }));
    expect(replicaOnCreate).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect((await get(ARN)).SecretString).toBe('x');
  });
});

describe('the whole suite', () => {
  it('sent every operation in secretsOperations', () => {
    const missing = Object.keys(secretsOperations).filter((op) => !called.has(op));
    expect(missing).toEqual([]);
  });

  it('got every error as HTTP 400, never a 5xx', () => {
    expect(refusals.length).toBeGreaterThan(40);
    expect(refusals.filter((r) => r.status !== 400)).toEqual([]);
  });

  it('left no error line in the server log', async () => {
    await server.rotation.idle();
    const errors = server.logs.filter((line) => (JSON.parse(line) as { level?: string }).level === 'error');
    expect(errors).toEqual([]);
  });
});
