// AWS's ValidationException sentences reach the AWS SDK v3 unchanged through the real server (issue 16).
import {
  CreateAliasCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateRandomCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { ListSecretsCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let kms: KMSClient;
let sm: SecretsManagerClient;

beforeAll(async () => {
  server = await startTestServer();
  kms = server.kmsClient();
  sm = server.secretsClient();
});
afterAll(async () => {
  kms.destroy();
  sm.destroy();
  await server.stop();
});

const ALIAS_PATTERN = '^[a-zA-Z0-9:/_-]+$';

describe('ValidationException as AWS words it', () => {
  it('names the value and the bound (GenerateRandom NumberOfBytes 1025)', async () => {
    const e = await failure(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })));
    expect(e.name).toBe('ValidationException');
    expect(e.status).toBe(400);
    expect(e.message).toBe(
      "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    );
  });

  it('echoes a string value (a KeyId longer than 2048)', async () => {
    const long = 'k'.repeat(2049);
    const e = await failure(kms.send(new DescribeKeyCommand({ KeyId: long })));
    expect(e.message).toBe(
      `1 validation error detected: Value '${long}' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048`,
    );
  });

  it("names the model's pattern", async () => {
    const e = await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/bad name', TargetKeyId: 'k' })));
    expect(e.message).toBe(
      `1 validation error detected: Value 'alias/bad name' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${ALIAS_PATTERN}`,
    );
  });

  it('counts several failures, in member order, and never shows a plaintext', async () => {
    const plaintext = new Uint8Array(4097).fill(0x41);
    const e = await failure(kms.send(new EncryptCommand({ KeyId: '', Plaintext: plaintext })));
    expect(e.message).toBe(
      "2 validation errors detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
        "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
    );
    expect(`${e.message}\n${server.logs.join('\n')}`).not.toContain('QUFBQUFBQUFB'); // the plaintext in base64
  });

  it('leaves out a secret value, and reports a list of structures by 1-based .member paths', async () => {
    const value = 's'.repeat(65_537);
    const put = await failure(sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: value })));
    expect(put.message).toBe(
      "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536",
    );
    expect(server.logs.join('\n')).not.toContain('ssssssssssssssss');
    const list = await failure(
      sm.send(
        new ListSecretsCommand({
          Filters: [
            { Key: 'name', Values: ['ok'] },
            { Key: 'nope' as 'name', Values: ['a'] },
          ],
        }),
      ),
    );
    expect(list.message).toBe(
      "1 validation error detected: Value 'nope' at 'filters.2.member.key' failed to satisfy constraint: Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]",
    );
  });
});
