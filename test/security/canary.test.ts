// Canary: plaintexts, data keys, key material and credentials never appear in logs or error bodies.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RootKey } from '../../src/crypto/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CANARY = 'canary-7f3d9b2e-do-not-leak';
let server: TestServer;
const bodies: string[] = [];
const leaks: string[] = [];

async function call(op: string, input: object): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}/`, {
    method: 'POST',
    headers: { 'x-amz-target': `TrentService.${op}`, authorization: `Bearer ${server.admin.token}` },
    body: JSON.stringify(input),
  });
  const text = await res.text();
  if (res.status !== 200) bodies.push(text);
  return JSON.parse(text);
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('canary', () => {
  it('leaks no secret into any log line or error body across the KMS flows', async () => {
    const key = (await call('CreateKey', { Description: 'canary' })).KeyMetadata as { KeyId: string };
    const hmac = (await call('CreateKey', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' })).KeyMetadata as {
      KeyId: string;
    };
    const signing = (await call('CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).KeyMetadata as {
      KeyId: string;
    };
    const enc = await call('Encrypt', { KeyId: key.KeyId, Plaintext: b64(CANARY), EncryptionContext: { c: 'x' } });
    const blob = enc.CiphertextBlob as string;
    // Failing calls that carry the secret in their input.
    await call('Decrypt', { CiphertextBlob: blob, EncryptionContext: { c: 'wrong' } });
    await call('Decrypt', { CiphertextBlob: `${blob.slice(0, -4)}AAAA` });
    await call('Encrypt', { KeyId: 'alias/missing', Plaintext: b64(CANARY) });
    await call('Encrypt', { KeyId: key.KeyId, Plaintext: CANARY });
    await call('Encrypt', { KeyId: key.KeyId, Plaintext: b64(CANARY.repeat(200)) });
    await call('Encrypt', { KeyId: key.KeyId, Plaintext: { nested: CANARY } });
    // Key ids are identifiers, echoed in NotFoundException as AWS does; the plaintext next to it is not.
    await call('Encrypt', { KeyId: 'not-a-key', Plaintext: b64(CANARY) });
    await call('GenerateMac', { KeyId: hmac.KeyId, Message: b64(CANARY), MacAlgorithm: 'HMAC_SHA_512' });
    await call('VerifyMac', {
      KeyId: hmac.KeyId,
      Message: b64(CANARY),
      MacAlgorithm: 'HMAC_SHA_256',
      Mac: b64(CANARY),
    });
    await call('Sign', {
      KeyId: signing.KeyId,
      Message: b64(CANARY),
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    await call('Verify', {
      KeyId: signing.KeyId,
      Message: b64(CANARY),
      Signature: b64(CANARY),
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    const dk = await call('GenerateDataKey', { KeyId: key.KeyId, KeySpec: 'AES_256' });
    await call('Decrypt', { CiphertextBlob: dk.CiphertextBlob, KeyId: hmac.KeyId });
    await call('RotateKeyOnDemand', { KeyId: key.KeyId });
    await call('DisableKey', { KeyId: key.KeyId });
    await call('Decrypt', { CiphertextBlob: blob, EncryptionContext: { c: 'x' } });
    await fetch(`${server.url}/v1/admin/rotate-root-key`, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong' },
    });
    expect(bodies.length).toBeGreaterThanOrEqual(12);

    // Everything secret: the canary, the data key, the root key, every unwrapped key version, credentials.
    const secrets = new Map<string, string>([
      ['canary', CANARY],
      ['canary base64', b64(CANARY)],
      ['data key', dk.Plaintext as string],
      ['data key hex', Buffer.from(dk.Plaintext as string, 'base64').toString('hex')],
      ['admin secret', server.admin.secretAccessKey],
      ['admin token', server.admin.token],
    ]);
    const rootB64 = readFileSync(join(server.dataDir, 'root.key'), 'utf8').trim();
    secrets.set('root key', rootB64);
    const root = RootKey.fromBytesInsecure(Buffer.from(rootB64, 'base64'));
    const db = new Database(join(server.dataDir, 'keysafe.db'), { readonly: true });
    const versions = db.prepare('SELECT key_id, version, wrapped_material FROM kms_key_versions').all() as {
      key_id: string;
      version: number;
      wrapped_material: Buffer;
    }[];
    db.close();
    expect(versions.length).toBeGreaterThanOrEqual(4);
    for (const v of versions) {
      const material = root.unwrap(v.key_id, v.version, v.wrapped_material);
      // Raw bytes would show as base64 or hex in JSON; long private keys as any 24-byte window.
      secrets.set(`material ${v.key_id}/${v.version} b64`, material.toString('base64').slice(0, 32));
      secrets.set(`material ${v.key_id}/${v.version} hex`, material.toString('hex').slice(0, 32));
    }

    const haystacks = [...server.logs.map((l) => ['log', l]), ...bodies.map((b) => ['error body', b])];
    expect(server.logs.length).toBeGreaterThan(10);
    for (const [where, text] of haystacks) {
      for (const [name, secret] of secrets) if (text!.includes(secret)) leaks.push(`${name} in ${where}: ${text}`);
    }
    expect(leaks).toEqual([]);
  });

  it('keeps secret values out of the database file, its WAL, the logs and error bodies', async () => {
    const secretValue = `${CANARY}-secret-value`;
    const call = async (op: string, input: object) => {
      const res = await fetch(`${server.url}/`, {
        method: 'POST',
        headers: { 'x-amz-target': `secretsmanager.${op}`, authorization: `Bearer ${server.admin.token}` },
        body: JSON.stringify(input),
      });
      const text = await res.text();
      if (res.status !== 200) bodies.push(text);
      return JSON.parse(text);
    };
    const created = await call('CreateSecret', {
      Name: 'canary/db',
      SecretString: JSON.stringify({ password: secretValue }),
    });
    await call('PutSecretValue', { SecretId: 'canary/db', SecretString: `${secretValue}-2` });
    await call('PutSecretValue', {
      SecretId: 'canary/db',
      SecretBinary: Buffer.from(`${secretValue}-bin`).toString('base64'),
    });
    await call('PutSecretValue', {
      SecretId: 'canary/db',
      ClientRequestToken: created.VersionId,
      SecretString: secretValue,
    });
    await call('CreateSecret', { Name: 'bad name!', SecretString: secretValue });
    await call('PutSecretValue', { SecretId: 'canary/missing', SecretString: secretValue });
    await call('PutSecretValue', { SecretId: 'canary/db', SecretString: secretValue, SecretBinary: 'AAAA' });
    await call('RotateSecret', { SecretId: 'canary/db', RotationLambdaARN: 'keysafe:rotation:random-password' });
    await server.rotation.idle();
    const rotated = await call('GetSecretValue', { SecretId: 'canary/db' });
    expect(rotated.SecretString).toBeTruthy();
    expect(bodies.length).toBeGreaterThan(3);

    const files = ['keysafe.db', 'keysafe.db-wal'].map((f) => join(server.dataDir, f)).filter((f) => existsSync(f));
    expect(files.length).toBeGreaterThan(0);
    const needles = [CANARY, Buffer.from(CANARY).toString('base64').slice(0, 20), rotated.SecretString as string];
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const needle of needles) expect(bytes.includes(Buffer.from(needle)), `${needle} in ${file}`).toBe(false);
    }
    for (const text of [...server.logs, ...bodies]) {
      for (const needle of needles) expect(text.includes(needle), text).toBe(false);
    }
  });
});
