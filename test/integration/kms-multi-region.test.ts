// Multi-Region keys through the real server with two SDK clients in two regions: CreateKey MultiRegion,
// ReplicateKey, DescribeKey's MultiRegionConfiguration, cross-region decryption and signing, rotation
// on the primary reaching the replica, UpdatePrimaryRegion, and AWS's refusals.
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateMacCommand,
  GetKeyRotationStatusCommand,
  type KMSClient,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  SignCommand,
  UpdatePrimaryRegionCommand,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, failure, sdkClients } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';

const US = 'us-east-1';
const EU = 'eu-west-1';
const AP = 'ap-south-1';

let server: TestServer;
let us: KMSClient;
let eu: KMSClient;

beforeAll(async () => {
  server = await startTestServer({ config: { region: US, regions: [US, EU] } });
  us = sdkClients(server, { region: US }).kms;
  eu = sdkClients(server, { region: EU }).kms;
});
afterAll(async () => {
  us.destroy();
  eu.destroy();
  await server.stop();
});

const arnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;
const text = (b: Uint8Array | undefined) => Buffer.from(b!).toString();

async function mrk(extra: Partial<ConstructorParameters<typeof CreateKeyCommand>[0]> = {}): Promise<string> {
  const made = await us.send(new CreateKeyCommand({ MultiRegion: true, ...extra }));
  return made.KeyMetadata!.KeyId!;
}

describe('multi-Region keys', () => {
  it('CreateKey MultiRegion makes an mrk- primary; ReplicateKey a replica DescribeKey shows from both regions', async () => {
    const made = await us.send(new CreateKeyCommand({ MultiRegion: true, Description: 'primary' }));
    const keyId = made.KeyMetadata!.KeyId!;
    expect(keyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    expect(made.KeyMetadata).toMatchObject({
      MultiRegion: true,
      MultiRegionConfiguration: {
        MultiRegionKeyType: 'PRIMARY',
        PrimaryKey: { Arn: arnIn(US, keyId), Region: US },
        ReplicaKeys: [],
      },
    });

    const replicated = await us.send(
      new ReplicateKeyCommand({
        KeyId: keyId,
        ReplicaRegion: EU,
        Description: 'replica',
        Tags: [{ TagKey: 't', TagValue: 'v' }],
      }),
    );
    const primaryKey = { Arn: arnIn(US, keyId), Region: US };
    const replicaKeys = [{ Arn: arnIn(EU, keyId), Region: EU }];
    expect(replicated.ReplicaKeyMetadata).toMatchObject({
      KeyId: keyId,
      Arn: arnIn(EU, keyId),
      Description: 'replica',
      KeyState: 'Enabled',
      MultiRegion: true,
      MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: primaryKey, ReplicaKeys: replicaKeys },
    });
    expect(replicated.ReplicaTags).toEqual([{ TagKey: 't', TagValue: 'v' }]);
    expect(JSON.parse(replicated.ReplicaPolicy!).Statement[0].Principal.AWS).toBe(`arn:aws:iam::${ACCOUNT}:root`);

    const inUs = (await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    const inEu = (await eu.send(new DescribeKeyCommand({ KeyId: arnIn(EU, keyId) }))).KeyMetadata!;
    expect(inUs).toMatchObject({
      Description: 'primary',
      MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: primaryKey, ReplicaKeys: replicaKeys },
    });
    expect(inEu).toMatchObject({
      Description: 'replica',
      MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: primaryKey, ReplicaKeys: replicaKeys },
    });
  });

  it('a ciphertext made in one region decrypts in the other, before and after a rotation of the primary', async () => {
    const keyId = await mrk();
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: EU }));
    const enc = async (c: KMSClient, s: string) =>
      (await c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(s) }))).CiphertextBlob!;
    const dec = async (c: KMSClient, blob: Uint8Array) => {
      const out = await c.send(new DecryptCommand({ CiphertextBlob: blob }));
      return { text: text(out.Plaintext), keyId: out.KeyId };
    };
    const fromUs = await enc(us, 'made in us');
    const fromEu = await enc(eu, 'made in eu');
    expect(await dec(eu, fromUs)).toEqual({ text: 'made in us', keyId: arnIn(EU, keyId) });
    expect(await dec(us, fromEu)).toEqual({ text: 'made in eu', keyId: arnIn(US, keyId) });

    await us.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const afterUs = await enc(us, 'new in us');
    const afterEu = await enc(eu, 'new in eu');
    // Both regions now encrypt under version 2 (the frame's version field, bytes 18..21).
    expect(Buffer.from(afterUs).readUInt32BE(18)).toBe(2);
    expect(Buffer.from(afterEu).readUInt32BE(18)).toBe(2);
    for (const c of [us, eu]) {
      expect((await dec(c, fromUs)).text).toBe('made in us');
      expect((await dec(c, fromEu)).text).toBe('made in eu');
      expect((await dec(c, afterUs)).text).toBe('new in us');
      expect((await dec(c, afterEu)).text).toBe('new in eu');
    }
  });

  it('asymmetric and HMAC multi-Region keys sign, verify and MAC interchangeably', async () => {
    const signing = await mrk({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    await us.send(new ReplicateKeyCommand({ KeyId: signing, ReplicaRegion: EU }));
    const message = Buffer.from('signed');
    const { Signature } = await us.send(
      new SignCommand({ KeyId: signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    const verified = await eu.send(
      new VerifyCommand({ KeyId: signing, Message: message, Signature, SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    expect(verified.SignatureValid).toBe(true);

    const hmac = await mrk({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    await us.send(new ReplicateKeyCommand({ KeyId: hmac, ReplicaRegion: EU }));
    const { Mac } = await eu.send(
      new GenerateMacCommand({ KeyId: hmac, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    const ok = await us.send(
      new VerifyMacCommand({ KeyId: hmac, Message: message, Mac, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    expect(ok.MacValid).toBe(true);
  });

  it('UpdatePrimaryRegion swaps the roles; rotation is then the new primary’s', async () => {
    const keyId = await mrk();
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: EU }));
    await us.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: EU }));
    const primaryKey = { Arn: arnIn(EU, keyId), Region: EU };
    const replicaKeys = [{ Arn: arnIn(US, keyId), Region: US }];
    for (const [c, type] of [
      [us, 'REPLICA'],
      [eu, 'PRIMARY'],
    ] as const) {
      const m = (await c.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      expect(m.MultiRegionConfiguration).toEqual({
        MultiRegionKeyType: type,
        PrimaryKey: primaryKey,
        ReplicaKeys: replicaKeys,
      });
    }
    expect(await failure(us.send(new RotateKeyOnDemandCommand({ KeyId: keyId })))).toMatchObject({
      name: 'UnsupportedOperationException',
      message: `${arnIn(US, keyId)} is a multi-Region replica key. Manage its rotation on its primary key in ${EU}.`,
    });
    await eu.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const blob = (await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))).CiphertextBlob!;
    expect(Buffer.from(blob).readUInt32BE(18)).toBe(2);
    expect(await failure(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: EU })))).toMatchObject({
      name: 'UnsupportedOperationException',
      message: `${arnIn(US, keyId)} is not a multi-Region primary key. Its primary key is in ${EU}.`,
    });
    // A replica reports its primary's automatic rotation, a shared property.
    expect((await us.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled).toBe(false);
  });

  it('refuses single-Region keys, existing replicas, its own region and regions not served', async () => {
    const single = (await us.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(await failure(us.send(new ReplicateKeyCommand({ KeyId: single, ReplicaRegion: EU })))).toMatchObject({
      name: 'UnsupportedOperationException',
      message: `${arnIn(US, single)} is not a multi-Region key.`,
    });
    const keyId = await mrk();
    expect(await failure(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: US })))).toMatchObject({
      name: 'AlreadyExistsException',
      message: `${arnIn(US, keyId)} already exists.`,
    });
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: EU }));
    expect(await failure(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: EU })))).toMatchObject({
      name: 'AlreadyExistsException',
      message: `${arnIn(EU, keyId)} already exists.`,
    });
    expect(await failure(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: AP })))).toMatchObject({
      name: 'UnsupportedOperationException',
      message: `The region ${AP} is not served here.`,
    });
    expect(await failure(us.send(new UpdatePrimaryRegionCommand({ KeyId: single, PrimaryRegion: EU })))).toMatchObject({
      name: 'UnsupportedOperationException',
    });
    expect(await failure(us.send(new CreateKeyCommand({ MultiRegion: true, Origin: 'EXTERNAL' })))).toMatchObject({
      name: 'UnsupportedOperationException',
    });
  });
});
