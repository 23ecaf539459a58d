// `keysafe server --store postgres://…`: the whole server on a real PostgreSQL, driven by the AWS SDK,
// and a restart on the same database that still decrypts what the first run stored.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startTestServer, type TestServer, tempDir } from '../support/server.js';

let db: TestPostgres;
let dataDir: string;
const running: TestServer[] = [];

beforeAll(async () => {
  db = await startPostgres();
  dataDir = tempDir('keysafe-pg-server-');
});

afterAll(async () => {
  for (const s of running.splice(0)) await s.close().catch(() => {});
  await db?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A server on the test database; the data dir (root key file) is shared, so a restart finds the same key. */
async function start(): Promise<TestServer> {
  const server = await startTestServer({ dataDir, flags: { store: db.url.replace(/^postgres:/, 'postgresql:') } });
  running.push(server);
  return server;
}

async function stop(server: TestServer): Promise<void> {
  running.splice(running.indexOf(server), 1);
  await server.close();
}

async function pgRows(sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('keysafe server on PostgreSQL', () => {
  it('serves KMS and Secrets Manager from PostgreSQL and still decrypts both after a restart', async () => {
    const first = await start();
    const kms = first.kmsClient();
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'on postgres' }));
    const keyId = KeyMetadata!.KeyId!;
    const plaintext = Buffer.from('hello postgres \u0000\u00ff');
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: { app: 'pg' } }),
    );
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { app: 'pg' } }));
    expect(Buffer.from(decrypted.Plaintext!)).toEqual(plaintext);

    const sm = first.secretsClient();
    const created = await sm.send(new CreateSecretCommand({ Name: 'db/app', SecretString: '{"password":"s3cret"}' }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'db/app' }))).SecretString).toBe(
      '{"password":"s3cret"}',
    );
    await stop(first);

    // The data lives in PostgreSQL, not in a SQLite file in the data dir.
    expect(existsSync(join(dataDir, 'keysafe.db'))).toBe(false);
    expect(await pgRows('SELECT name FROM secrets')).toEqual([{ name: 'db/app' }]);
    expect((await pgRows('SELECT key_id FROM kms_keys')).map((r) => r.key_id)).toContain(keyId);

    const second = await start();
    const again = await second
      .kmsClient()
      .send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { app: 'pg' } }));
    expect(Buffer.from(again.Plaintext!)).toEqual(plaintext);
    expect(again.KeyId).toBe(KeyMetadata!.Arn);
    const value = await second.secretsClient().send(new GetSecretValueCommand({ SecretId: 'db/app' }));
    expect(value.SecretString).toBe('{"password":"s3cret"}');
    expect(value.ARN).toBe(created.ARN);
    expect(value.VersionId).toBe(created.VersionId);
    await stop(second);
  });
});
