// Regions through the real server: SDK clients signing for two regions see two independent sets of keys,
// aliases and secrets; Bearer and native calls use the default region or the x-keysafe-region header;
// `regions:` refuses other regions; the scheduler reaches every region.
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  type KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
} from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, ManualClock } from '../../src/core/clock.js';
import { ACCOUNT, failure, sdkClients } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { bearerCall } from '../support/session.js';

const US = 'us-east-1';
const EU = 'eu-west-1';

let server: TestServer;
let us: { kms: KMSClient; secrets: SecretsManagerClient };
let eu: { kms: KMSClient; secrets: SecretsManagerClient };

beforeAll(async () => {
  server = await startTestServer({ config: { region: US, regions: [US, EU] } });
  us = sdkClients(server, { region: US });
  eu = sdkClients(server, { region: EU });
});
afterAll(async () => {
  for (const c of [us, eu]) {
    c.kms.destroy();
    c.secrets.destroy();
  }
  await server.stop();
});

const keyArnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;

describe('KMS across regions', () => {
  it('a key made in one region is not found from another, by id, ARN or in ListKeys', async () => {
    const made = await us.kms.send(new CreateKeyCommand({ Description: 'us only' }));
    const keyId = made.KeyMetadata!.KeyId!;
    expect(made.KeyMetadata!.Arn).toBe(keyArnIn(US, keyId));

    expect(await failure(eu.kms.send(new DescribeKeyCommand({ KeyId: keyId })))).toMatchObject({
      name: 'NotFoundException',
      message: `Key '${keyArnIn(EU, keyId)}' does not exist`,
    });
    expect(await failure(eu.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).toMatchObject(
      { name: 'NotFoundException', message: `Key '${keyArnIn(EU, keyId)}' does not exist` },
    );
    // The ARN of another region: AWS's "Invalid arn <region>".
    expect(await failure(eu.kms.send(new DescribeKeyCommand({ KeyId: keyArnIn(US, keyId) })))).toMatchObject({
      name: 'NotFoundException',
      message: `Invalid arn ${US}`,
    });
    // Another account's ARN in this region: no such key (one account is served).
    const foreign = `arn:aws:kms:${US}:111122223333:key/${keyId}`;
    expect(await failure(us.kms.send(new DescribeKeyCommand({ KeyId: foreign })))).toMatchObject({
      name: 'NotFoundException',
      message: `Key '${foreign}' does not exist`,
    });

    const euKeys = (await eu.kms.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId);
    const usKeys = (await us.kms.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId);
    expect(usKeys).toContain(keyId);
    expect(euKeys).not.toContain(keyId);
    expect((await us.kms.send(new DescribeKeyCommand({ KeyId: keyArnIn(US, keyId) }))).KeyMetadata!.KeyId).toBe(keyId);
  });

  it('keeps the same alias name in two regions independently, each ARN in its region', async () => {
    const usKey = (await us.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const euKey = (await eu.kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    expect(euKey).toBe(keyArnIn(EU, euKey.split('/')[1]!));
    await us.kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: usKey }));
    await eu.kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: euKey }));

    expect((await us.kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata!.KeyId).toBe(usKey);
    expect((await eu.kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata!.Arn).toBe(euKey);
    const euAliases = (await eu.kms.send(new ListAliasesCommand({}))).Aliases!;
    expect(euAliases.find((a) => a.AliasName === 'alias/app')).toMatchObject({
      AliasArn: `arn:aws:kms:${EU}:${ACCOUNT}:alias/app`,
      TargetKeyId: euKey.split('/')[1],
    });
    expect(euAliases.some((a) => a.TargetKeyId === usKey)).toBe(false);
    // An alias ARN of the other region.
    expect(
      await failure(eu.kms.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:${US}:${ACCOUNT}:alias/app` }))),
    ).toMatchObject({ name: 'NotFoundException', message: `Invalid arn ${US}` });
  });

  it('does not decrypt in one region a ciphertext made in another', async () => {
    const keyId = (await us.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { CiphertextBlob } = await us.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('hi') }));
    // As AWS: a ciphertext is bound to its region; elsewhere it is an invalid ciphertext.
    expect(await failure(eu.kms.send(new DecryptCommand({ CiphertextBlob })))).toMatchObject({
      name: 'InvalidCiphertextException',
      message: 'The ciphertext is invalid, or does not match its key or encryption context.',
    });
    const back = await us.kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(back.Plaintext!).toString()).toBe('hi');
  });
});

describe('Secrets Manager across regions', () => {
  it('keeps the same secret name in two regions, each with its value and its region in the ARN', async () => {
    const a = await us.secrets.send(new CreateSecretCommand({ Name: 'shared/name', SecretString: 'us value' }));
    const b = await eu.secrets.send(new CreateSecretCommand({ Name: 'shared/name', SecretString: 'eu value' }));
    expect(a.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${US}:${ACCOUNT}:secret:shared/name-`));
    expect(b.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${EU}:${ACCOUNT}:secret:shared/name-`));
    const read = async (c: SecretsManagerClient, id: string) =>
      (await c.send(new GetSecretValueCommand({ SecretId: id }))).SecretString;
    expect(await read(us.secrets, 'shared/name')).toBe('us value');
    expect(await read(eu.secrets, 'shared/name')).toBe('eu value');
    // The other region's ARN is a secret this region cannot find.
    expect(await failure(eu.secrets.send(new GetSecretValueCommand({ SecretId: a.ARN! })))).toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });

    const usOnly = await us.secrets.send(new CreateSecretCommand({ Name: 'us/only', SecretString: 'x' }));
    const names = (await eu.secrets.send(new ListSecretsCommand({}))).SecretList!.map((s) => s.ARN);
    expect(names).toContain(b.ARN);
    expect(names).not.toContain(a.ARN);
    expect(names).not.toContain(usOnly.ARN);
    expect(await failure(eu.secrets.send(new GetSecretValueCommand({ SecretId: 'us/only' })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});

describe('where the region comes from', () => {
  it.each([
    [
      'ap-south-1',
      'UnrecognizedClientException',
      "The region 'ap-south-1' is not served here; this server serves us-east-1, eu-west-1.",
    ],
    ['local', 'ValidationException', "The credential scope region 'local' is not a region name such as us-east-1."],
  ])('refuses a client signing for %s (outside regions:, or not a region name)', async (region, name, message) => {
    const other = sdkClients(server, { region });
    try {
      expect(await failure(other.kms.send(new ListKeysCommand({})))).toEqual({ name, status: 400, message });
      expect(await failure(other.secrets.send(new ListSecretsCommand({})))).toMatchObject({ name, message });
    } finally {
      other.kms.destroy();
      other.secrets.destroy();
    }
  });

  it('answers Bearer calls in the default region, or the one x-keysafe-region names', async () => {
    const create = async (name: string, headers: Record<string, string> = {}) => {
      const res = await bearerCall(
        server.url,
        server.admin.token,
        'secretsmanager.CreateSecret',
        { Name: name, SecretString: 'v' },
        headers,
      );
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    expect((await create('bearer/default')).body.ARN).toMatch(`arn:aws:secretsmanager:${US}:`);
    expect((await create('bearer/eu', { 'x-keysafe-region': EU })).body.ARN).toMatch(`arn:aws:secretsmanager:${EU}:`);
    expect(await create('bearer/bad', { 'x-keysafe-region': 'Moon-1' })).toEqual({
      status: 400,
      body: {
        __type: 'ValidationException',
        message: "The x-keysafe-region header 'Moon-1' is not a region name such as us-east-1.",
      },
    });
    expect((await create('bearer/far', { 'x-keysafe-region': 'ap-south-1' })).body.__type).toBe(
      'UnrecognizedClientException',
    );
    // The secret made through the header is the eu-west-1 client's.
    const got = await eu.secrets.send(new GetSecretValueCommand({ SecretId: 'bearer/eu' }));
    expect(got.ARN).toMatch(`arn:aws:secretsmanager:${EU}:`);
    expect(await failure(eu.secrets.send(new GetSecretValueCommand({ SecretId: 'bearer/default' })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('ignores the header on SigV4 calls: the signed credential scope decides', async () => {
    const client = sdkClients(server, { region: US });
    client.secrets.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-keysafe-region'] = EU;
        return next(args);
      },
      { step: 'build', name: 'region-header' },
    );
    try {
      const made = await client.secrets.send(new CreateSecretCommand({ Name: 'signed/us', SecretString: 'v' }));
      expect(made.ARN).toMatch(`arn:aws:secretsmanager:${US}:`);
    } finally {
      client.kms.destroy();
      client.secrets.destroy();
    }
  });

  it('reads agent routes (native /v1/…) in the header region', async () => {
    const res = await fetch(`${server.url}/v1/secrets/${encodeURIComponent('shared/name')}`, {
      headers: { authorization: `Bearer ${server.admin.token}`, 'x-keysafe-region': 'Moon-1' },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { __type: string }).__type).toBe('ValidationException');
  });
});

describe('scheduled work in every region', () => {
  it('deletes a key whose deletion window ended in a region other than the default', async () => {
    const clock = new ManualClock(Date.now());
    const s = await startTestServer({ clock, config: { region: US } });
    try {
      const call = async (target: string, input: unknown) => {
        const res = await bearerCall(s.url, s.admin.token, `TrentService.${target}`, input, {
          'x-keysafe-region': EU,
        });
        return { status: res.status, body: (await res.json()) as Record<string, Record<string, string>> };
      };
      const keyId = (await call('CreateKey', {})).body.KeyMetadata!.KeyId!;
      await call('ScheduleKeyDeletion', { KeyId: keyId, PendingWindowInDays: 7 });
      clock.advance(8 * DAY_MS);
      expect((await s.runScheduler()).deleted).toBe(1);
      expect((await call('DescribeKey', { KeyId: keyId })).body).toEqual({
        __type: 'NotFoundException',
        message: `Key '${keyArnIn(EU, keyId)}' does not exist`,
      });
    } finally {
      await s.stop();
    }
  });
});
