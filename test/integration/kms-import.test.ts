// Imported key material through the real server and the AWS SDK, on a manual clock: token expiry and material expiry by the scheduler.
import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
  ListKeyRotationsCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, ManualClock } from '../../src/core/clock.js';
import { failure, withBearer } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let kms: KMSClient;
const clock = new ManualClock(Date.now());

beforeAll(async () => {
  server = await startTestServer({ clock });
  // SigV4 carries the wall-clock time; bearer auth keeps the calls valid while the server's clock moves.
  kms = withBearer(server.kmsClient(), server.admin.token);
});
afterAll(async () => {
  kms.destroy();
  await server.stop();
});

async function externalKeyWithParameters() {
  const key = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!;
  const params = await kms.send(
    new GetParametersForImportCommand({
      KeyId: key.KeyId,
      WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      WrappingKeySpec: 'RSA_2048',
    }),
  );
  const wrap = (material: Buffer) =>
    publicEncrypt(
      {
        key: createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      },
      material,
    );
  return { key, params, wrap };
}

describe('imported key material on the server clock', () => {
  it('refuses an import token after its 24 hours with ExpiredImportTokenException', async () => {
    const { key, params, wrap } = await externalKeyWithParameters();
    expect(params.ParametersValidTo!.getTime()).toBe(clock.now() + DAY_MS);
    clock.advance(DAY_MS + 1000);
    const err = await failure(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: key.KeyId,
          ImportToken: params.ImportToken,
          EncryptedKeyMaterial: wrap(randomBytes(32)),
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      ),
    );
    expect(err.name).toBe('ExpiredImportTokenException');
  });

  it('deletes material at its ValidTo when the scheduler runs; DescribeKey and ListKeyRotations report it', async () => {
    const { key, params, wrap } = await externalKeyWithParameters();
    const material = randomBytes(32);
    const validTo = new Date(Math.floor((clock.now() + 3 * DAY_MS) / 1000) * 1000);
    const imported = await kms.send(
      new ImportKeyMaterialCommand({
        KeyId: key.KeyId,
        ImportToken: params.ImportToken,
        EncryptedKeyMaterial: wrap(material),
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: validTo,
      }),
    );
    const described = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
    expect(described).toMatchObject({
      KeyState: 'Enabled',
      Origin: 'EXTERNAL',
      ExpirationModel: 'KEY_MATERIAL_EXPIRES',
      ValidTo: validTo,
      CurrentKeyMaterialId: imported.KeyMaterialId,
    });
    const listed = await kms.send(
      new ListKeyRotationsCommand({ KeyId: key.KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(listed.Rotations).toEqual([
      expect.objectContaining({
        KeyMaterialId: imported.KeyMaterialId,
        ImportState: 'IMPORTED',
        KeyMaterialState: 'CURRENT',
      }),
    ]);
    const sealed = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('until ValidTo') }));

    clock.advance(3 * DAY_MS);
    const ran = await server.runScheduler();
    expect(ran.materialsExpired).toBeGreaterThanOrEqual(1);
    const expired = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
    expect(expired.KeyState).toBe('PendingImport');
    expect(expired.ValidTo).toBeUndefined();
    const refused = await failure(kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob })));
    expect([refused.name, refused.message]).toEqual(['KMSInvalidStateException', `${key.Arn} is pending import.`]);
  });
});
