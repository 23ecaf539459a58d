// Interop: the AWS Encryption SDK's KMS keyring pointed at Keysafe encrypts and decrypts a message.
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { KMS } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('AWS Encryption SDK', () => {
  it('encrypts and decrypts through a KMS keyring backed by Keysafe', async () => {
    // The ESDK calls the aggregated client's methods (client.generateDataKey, client.decrypt).
    const client = new KMS({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: server.admin.accessKeyId, secretAccessKey: server.admin.secretAccessKey },
    });
    const { KeyMetadata } = await client.createKey({ Description: 'esdk' });
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    // The keyring asks for a client per region (parsed from the key ARN); all go to Keysafe.
    const keyring = new KmsKeyringNode({ generatorKeyId: KeyMetadata!.Arn!, clientProvider: () => client as never });
    const plaintext = Buffer.from('hello from the AWS Encryption SDK');
    const context = { purpose: 'interop', tenant: 'acme' };
    const { result } = await encrypt(keyring, plaintext, { encryptionContext: context });
    expect(result.includes(plaintext)).toBe(false);
    const { plaintext: back, messageHeader } = await decrypt(keyring, result);
    expect(Buffer.from(back).equals(plaintext)).toBe(true);
    expect(messageHeader.encryptionContext).toMatchObject(context);
    expect(messageHeader.encryptedDataKeys[0]?.providerInfo).toBe(KeyMetadata!.Arn);
    // A tampered message fails in the SDK, not with a server fault.
    const tampered = Buffer.from(result);
    tampered[tampered.length - 40]! ^= 1;
    await expect(decrypt(keyring, tampered)).rejects.toThrow();
    client.destroy();
  });
});
