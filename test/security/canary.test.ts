// Canary: plaintexts, data keys, key material, JWTs and credentials never appear in logs, error
// bodies or the audit log.
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSegments } from '../../src/audit/index.js';
import { RootKey } from '../../src/crypto/index.js';
import { newSigningKey, type OidcIssuer } from '../support/oidc-issuer.js';
import { secretsClient } from '../support/sdk.js';
import type { TestServer } from '../support/server.js';
import { login as loginAt, webIdentityRequest } from '../support/session.js';
import { policyOf, startWorkloadServer } from '../support/workload.js';

const CANARY = 'canary-7f3d9b2e-do-not-leak';
let server: TestServer;
let issuer: OidcIssuer;
const bodies: string[] = [];
const leaks: string[] = [];
/** Every secret planted by the cases above the last one, which looks for them in the audit log. */
const planted = new Map<string, string>();

const auditLines = () =>
  listSegments(join(server.dataDir, 'audit')).flatMap((s) => readFileSync(s.path, 'utf8').split('\n').filter(Boolean));

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
  ({ issuer, server } = await startWorkloadServer({
    roles: [
      {
        name: 'app',
        subjects: ['system:serviceaccount:shop:*'],
        policy: policyOf([
          {
            Effect: 'Allow',
            Action: ['secretsmanager:CreateSecret', 'secretsmanager:GetSecretValue'],
            Resource: ['arn:aws:secretsmanager:*:*:secret:canary/app/*'],
          },
        ]),
      },
    ],
  }));
});
afterAll(async () => {
  await server?.stop();
  await issuer?.stop();
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
    // Imported key material (BYOK): a good import, then refused re-imports carrying other material.
    const material = Buffer.concat([Buffer.from(CANARY).subarray(0, 16), Buffer.alloc(16, 0x5a)]);
    const ext = (await call('CreateKey', { Origin: 'EXTERNAL' })).KeyMetadata as { KeyId: string };
    const params = await call('GetParametersForImport', {
      KeyId: ext.KeyId,
      WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      WrappingKeySpec: 'RSA_2048',
    });
    const wrap = (m: Buffer) =>
      publicEncrypt(
        {
          key: createPublicKey({ key: Buffer.from(params.PublicKey as string, 'base64'), format: 'der', type: 'spki' }),
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        m,
      ).toString('base64');
    const importing = (m: Buffer, extra: object = {}) =>
      call('ImportKeyMaterial', {
        KeyId: ext.KeyId,
        ImportToken: params.ImportToken,
        EncryptedKeyMaterial: wrap(m),
        ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        ...extra,
      });
    expect((await importing(material)).KeyId).toBeDefined();
    await call('DeleteImportedKeyMaterial', { KeyId: ext.KeyId });
    await importing(Buffer.from(`${CANARY}-other-material`).subarray(0, 32));
    await importing(Buffer.from(CANARY));
    await importing(material, { ValidTo: 1 });
    await importing(material, { ImportToken: b64(CANARY) });
    await importing(material);
    await fetch(`${server.url}/v1/admin/rotate-root-key`, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong' },
    });
    expect(bodies.length).toBeGreaterThanOrEqual(16);

    // Everything secret: the canary, the data key, the root key, every unwrapped key version, credentials.
    const secrets = new Map<string, string>([
      ['canary', CANARY],
      ['canary base64', b64(CANARY)],
      ['data key', dk.Plaintext as string],
      ['data key hex', Buffer.from(dk.Plaintext as string, 'base64').toString('hex')],
      ['admin secret', server.admin.secretAccessKey],
      ['admin token', server.admin.token],
      ['imported material', material.toString('base64')],
      ['imported material hex', material.toString('hex')],
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
    for (const [name, secret] of secrets) planted.set(name, secret);
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
    for (const [i, needle] of needles.entries()) planted.set(`secret value ${i}`, needle);
  });

  it('leaks no JWT, claim, session token or STS credential through workload login, STS and role sessions', async () => {
    const secrets = new Map<string, string>([['canary', CANARY]]);
    /** A JWT is secret whole, and so are its payload and signature segments. */
    const plantToken = (name: string, token: string) => {
      secrets.set(name, token);
      const [, payload, signature] = token.split('.');
      if (payload) secrets.set(`${name} payload`, payload);
      if (signature) secrets.set(`${name} signature`, signature);
    };
    const claims = { canary: CANARY, 'example.com/deep': { nested: CANARY } };
    const token = async (name: string, options: Parameters<OidcIssuer['kubernetesToken']>[0] = {}) => {
      const jwt = await issuer.kubernetesToken({ ...options, claims: { ...claims, ...options.claims } });
      plantToken(name, jwt);
      return jwt;
    };
    const login = async (jwt: string, role = 'app') => {
      const res = await loginAt(server.url, { role, jwt });
      const text = await res.text();
      if (res.status !== 200) bodies.push(text);
      return { status: res.status, body: JSON.parse(text) as { token?: string; __type?: string } };
    };
    const sm = async (op: string, input: object, bearer: string) => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'x-amz-target': `secretsmanager.${op}`, authorization: `Bearer ${bearer}` },
        body: JSON.stringify(input),
      });
      const text = await res.text();
      if (res.status !== 200) bodies.push(text);
      return { status: res.status, body: JSON.parse(text) as Record<string, string> };
    };
    const sts = async (jwt: string) => {
      const res = await webIdentityRequest(server.url, 'app', 'canary', jwt);
      const xml = await res.text();
      if (res.status !== 200) bodies.push(xml);
      return { status: res.status, xml };
    };
    const auditBefore = auditLines().length;
    const bodiesBefore = bodies.length;

    // A role session whose JWT carries the canary in custom claims; the secret value is the canary too.
    const loggedIn = await login(await token('login jwt'));
    expect(loggedIn.status).toBe(200);
    const session = loggedIn.body.token!;
    plantToken('session token', session);
    const value = `${CANARY}-role-secret`;
    secrets.set('role secret value', value);
    expect((await sm('CreateSecret', { Name: 'canary/app/db', SecretString: value }, session)).status).toBe(200);
    expect((await sm('GetSecretValue', { SecretId: 'canary/app/db' }, session)).body.SecretString).toBe(value);
    // Refused while carrying the canary: not allowed, tampered session, a JWT offered as a session.
    expect((await sm('CreateSecret', { Name: 'canary/other/db', SecretString: value }, session)).status).toBe(400);
    expect((await sm('PutSecretValue', { SecretId: 'canary/app/db', SecretString: value }, session)).status).toBe(400);
    const [prefix, payload, mac] = session.split('.');
    const tampered = `${prefix}.${payload!.slice(0, -2)}${payload!.endsWith('AA') ? 'BB' : 'AA'}.${mac}`;
    expect((await sm('GetSecretValue', { SecretId: 'canary/app/db' }, tampered)).status).toBe(400);
    expect((await sm('GetSecretValue', { SecretId: 'canary/app/db' }, await token('jwt as bearer'))).status).toBe(400);

    // Failed logins: wrong audience (the canary as the audience), expired, unbound subject, untrusted key,
    // the canary itself as the token, and an unknown role.
    const now = Math.floor(Date.now() / 1000);
    const untrusted = await newSigningKey();
    const refusedLogins = [
      await token('wrong audience jwt', { audience: `${CANARY}-aud` }),
      await token('expired jwt', { issuedAt: now - 7200, lifetime: 3600 }),
      await token('unbound jwt', { namespace: 'other', claims: { sub: `system:serviceaccount:other:${CANARY}` } }),
      await issuer.sign(
        { ...claims, iss: issuer.url, aud: 'keysafe', sub: 's', iat: now, exp: now + 600 },
        {
          key: untrusted.privateKey,
        },
      ),
      CANARY,
    ];
    plantToken('untrusted jwt', refusedLogins[3]!);
    for (const jwt of refusedLogins) expect((await login(jwt)).status).toBeGreaterThanOrEqual(400);
    expect((await login(await token('jwt for unknown role'), 'no-such-role')).status).toBeGreaterThanOrEqual(400);

    // STS: refused for a wrong audience and an expired token, then granted; the credentials then used.
    expect((await sts(await token('sts wrong audience jwt', { audience: `${CANARY}-aud` }))).status).toBe(400);
    expect((await sts(await token('sts expired jwt', { issuedAt: now - 7200, lifetime: 3600 }))).status).toBe(400);
    const granted = await sts(await token('sts jwt'));
    expect(granted.status).toBe(200);
    const field = (name: string) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(granted.xml)![1]!;
    const creds = {
      accessKeyId: field('AccessKeyId'),
      secretAccessKey: field('SecretAccessKey'),
      sessionToken: field('SessionToken'),
    };
    secrets.set('sts secret access key', creds.secretAccessKey);
    plantToken('sts session token', creds.sessionToken);
    const client = (c: typeof creds) => secretsClient(server, { credentials: c });
    const read = await client(creds).send(new GetSecretValueCommand({ SecretId: 'canary/app/db' }));
    expect(read.SecretString).toBe(value);
    // The same key id and session token signed with a wrong secret: refused without echoing either.
    const wrongSecret = { ...creds, secretAccessKey: `${creds.secretAccessKey.slice(0, -4)}AAAA` };
    const err = await client(wrongSecret)
      .send(new GetSecretValueCommand({ SecretId: 'canary/app/db' }))
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.name).toBe('InvalidSignatureException');
    bodies.push(JSON.stringify({ name: err!.name, message: err!.message }));

    expect(bodies.length - bodiesBefore).toBeGreaterThanOrEqual(12);
    // Every request above was audited (so the search below has something to search).
    const audit = auditLines();
    expect(audit.length - auditBefore).toBeGreaterThanOrEqual(18);
    expect(
      audit.filter((l) => l.includes('"action":"keysafe:Login"') && l.includes('"decision":"deny"')).length,
    ).toBeGreaterThanOrEqual(6);
    expect(audit.some((l) => l.includes('"action":"sts:AssumeRoleWithWebIdentity"'))).toBe(true);
    for (const [name, secret] of secrets) {
      expect(secret.length, name).toBeGreaterThanOrEqual(16);
      planted.set(name, secret);
    }

    const haystacks = [
      ...server.logs.map((l) => ['log', l]),
      ...bodies.map((b) => ['error body', b]),
      ...audit.map((l) => ['audit line', l]),
    ];
    for (const [where, text] of haystacks) {
      for (const [name, secret] of secrets) if (text!.includes(secret)) leaks.push(`${name} in ${where}: ${text}`);
    }
    expect(leaks).toEqual([]);
  });

  it('writes none of the planted secrets into the audit log', () => {
    const audit = auditLines();
    expect(audit.length).toBeGreaterThan(40);
    expect(planted.size).toBeGreaterThan(20);
    for (const line of audit) {
      for (const [name, secret] of planted) if (line.includes(secret)) leaks.push(`${name} in audit line: ${line}`);
    }
    expect(leaks).toEqual([]);
  });
});
