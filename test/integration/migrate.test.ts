// `keysafe migrate`: a populated SQLite store moved to PostgreSQL still decrypts every ciphertext
// and secret version, keeps its labels, aliases, roles and Terraform state, and the change feed
// goes on from where it was.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
} from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { CLI } from '../support/process.js';
import { startTestServer, type TestServer, tempDir } from '../support/server.js';

const run = promisify(execFile);
let db: TestPostgres;
let dataDir: string;

beforeAll(async () => {
  db = await startPostgres();
  dataDir = tempDir('keysafe-migrate-');
});

afterAll(async () => {
  await db?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const sm = (s: TestServer) => s.secretsClient();

const migrate = (...args: string[]) => run(process.execPath, [CLI, 'migrate', '--data-dir', dataDir, ...args]);

async function lastCursor(s: TestServer): Promise<number> {
  const res = await fetch(`${s.url}/v1/watch`, { headers: { authorization: `Bearer ${s.admin.token}` } });
  const reader = res.body!.getReader();
  let text = '';
  // The stream opens with `hello`, which carries the newest cursor.
  while (!/"cursor":\d+/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  return Number(/"cursor":(\d+)/.exec(text)![1]);
}

describe('keysafe migrate', () => {
  it('moves a populated SQLite store to PostgreSQL, where everything still decrypts', async () => {
    const before = await startTestServer({ dataDir });
    const kms = before.kmsClient();
    const keyId = (await kms.send(new CreateKeyCommand({ Description: 'app key' }))).KeyMetadata!.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: keyId }));
    const plaintext = Buffer.from('migrate me \u0000\u00ff');
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: 'alias/app', Plaintext: plaintext, EncryptionContext: { app: 'm' } }),
    );
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    const secrets = sm(before);
    await secrets.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'first' }));
    await secrets.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'second' }));
    await secrets.send(
      new CreateSecretCommand({ Name: 'app/bin', SecretBinary: Buffer.from([0, 1, 2, 255]), KmsKeyId: 'alias/app' }),
    );
    const putRole = await fetch(`${before.url}/v1/admin/issuers/cluster`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${before.admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ issuer: 'https://issuer.example', audiences: ['keysafe'], jwks: { keys: [] } }),
    });
    expect(putRole.status).toBeLessThan(300);
    const state = JSON.stringify({ version: 4, serial: 3, lineage: 'l-1', resources: [] });
    const basic = `Basic ${Buffer.from(`admin:${before.admin.token}`).toString('base64')}`;
    const saved = await fetch(`${before.url}/v1/terraform/state/prod`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: state,
    });
    expect(saved.status).toBe(200);
    const cursor = await lastCursor(before);
    await before.close();

    const { stdout } = await migrate('--to', db.url);
    expect(stdout).toMatch(/secret_versions\s+3/);
    expect(stdout).toMatch(/kms_aliases\s+\d+/);
    // Keysafe's own key ids (sessions, secrets default key, Terraform state key) move too.
    expect(stdout).toMatch(/kms_internal_keys\s+3/);

    const after = await startTestServer({ dataDir, flags: { store: db.url } });
    try {
      expect(after.logs.some((l) => /(created|adopted) an internal key/.test(l))).toBe(false);
      const kms2 = after.kmsClient();
      const decrypted = await kms2.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { app: 'm' } }));
      expect(Buffer.from(decrypted.Plaintext!)).toEqual(plaintext);
      const key = await kms2.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));
      expect(Buffer.from(key.Plaintext!)).toEqual(Buffer.from(dataKey.Plaintext!));
      const secrets2 = sm(after);
      expect((await secrets2.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString).toBe('second');
      expect(
        (await secrets2.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' })))
          .SecretString,
      ).toBe('first');
      const bin = await secrets2.send(new GetSecretValueCommand({ SecretId: 'app/bin' }));
      expect(Buffer.from(bin.SecretBinary!)).toEqual(Buffer.from([0, 1, 2, 255]));
      expect((await secrets2.send(new ListSecretsCommand({}))).SecretList!.map((s) => s.Name).sort()).toEqual([
        'app/bin',
        'app/db',
      ]);
      const issuers = await fetch(`${after.url}/v1/admin/issuers`, {
        headers: { authorization: `Bearer ${after.admin.token}` },
      });
      expect(await issuers.text()).toContain('https://issuer.example');
      const got = await fetch(`${after.url}/v1/terraform/state/prod`, { headers: { authorization: basic } });
      expect(await got.text()).toBe(state);
      // New events continue the old cursor sequence, so watching agents neither miss nor repeat one.
      await secrets2.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'third' }));
      expect(await lastCursor(after)).toBeGreaterThan(cursor);
    } finally {
      await after.close();
    }

    // A second run would mix two stores: refused, and nothing is written.
    const again = await migrate('--to', db.url).catch((e: { code: number; stderr: string }) => e);
    expect(again).toMatchObject({ code: 2 });
    expect((again as { stderr: string }).stderr).toContain('is not empty');
  });
});
