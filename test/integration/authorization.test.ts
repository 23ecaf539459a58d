// Access control end to end: roles with different policies, STS and login credentials, real AWS SDK clients.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are ${…} in plain strings.
//
// One server, one OIDC issuer. Three config roles (web, ops, audit) get STS credentials through the
// AWS SDK's own STS client, and login tokens through POST /v1/auth/login; every allowed and refused
// call goes through the real KMS and Secrets Manager SDK clients or plain HTTP.
import { randomBytes } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  type KMSClient,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { AssumeRoleWithWebIdentityCommand, type Credentials as StsCredentials } from '@aws-sdk/nested-clients/sts';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import { ACCOUNT, assumeRole, REGION, roleArn, sdkClients, stsClient } from '../support/sdk.js';
import type { TestServer } from '../support/server.js';
import { bearerCall as bearerCallAt, sessionToken } from '../support/session.js';
import { startWorkloadServer } from '../support/workload.js';

// Secret values: no error message may ever contain one of them.
const canary = (label: string) => `${label}-${randomBytes(9).toString('hex')}`;
const VALUES = {
  webDb: canary('web-db'),
  webAdmin: canary('web-admin'),
  apiDb: canary('api-db'),
  shared: canary('shared'),
};

const WEB_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'OwnSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret', 'secretsmanager:PutSecretValue'],
      Resource: 'arn:aws:secretsmanager:*:*:secret:shop/web/*',
    },
    { Effect: 'Allow', Action: ['secretsmanager:ListSecrets', 'secretsmanager:BatchGetSecretValue'], Resource: '*' },
    {
      Sid: 'NeverAdminSecrets',
      Effect: 'Deny',
      Action: 'secretsmanager:*',
      Resource: 'arn:aws:secretsmanager:*:*:secret:shop/web/admin-*',
    },
    {
      Sid: 'OwnTenantOnly',
      Effect: 'Allow',
      Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: 'arn:aws:kms:*:*:key/*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:kubernetes.io.namespace}' } },
    },
    { Effect: 'Allow', Action: 'kms:DescribeKey', Resource: 'arn:aws:kms:*:*:key/*' },
  ],
};

const OPS_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: ['kms:*', 'secretsmanager:*'], Resource: '*' },
    { Effect: 'Allow', Action: 'keysafe:PutRole', Resource: 'arn:aws:iam::*:role/batch-*' },
    { Effect: 'Deny', Action: 'kms:ScheduleKeyDeletion', Resource: '*' },
    { Effect: 'Deny', Action: 'secretsmanager:DeleteSecret', Resource: 'arn:aws:secretsmanager:*:*:secret:shop/*' },
  ],
};

const AUDIT_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['kms:DescribeKey', 'secretsmanager:DescribeSecret'],
      Resource: '*',
    },
  ],
};

let issuer: OidcIssuer;
let server: TestServer;
let admin: { kms: KMSClient; sm: SecretsManagerClient };
const keys = { app: '', sign: '', direct: '' };
const arns = { webDb: '', webAdmin: '', apiDb: '', shared: '' };
type Clients = { kms: KMSClient; sm: SecretsManagerClient; creds: StsCredentials; arn: string };
let web: Clients;
let ops: Clients;
let audit: Clients;

const tokenFor = (namespace: string, serviceAccount: string) => issuer.kubernetesToken({ namespace, serviceAccount });

/** STS AssumeRoleWithWebIdentity through the AWS SDK's STS client, then KMS and SM clients on those credentials. */
async function assume(role: string, namespace: string, serviceAccount: string): Promise<Clients> {
  const { output, credentials } = await assumeRole(
    server.url,
    role,
    `${role}-session`,
    await tokenFor(namespace, serviceAccount),
  );
  const { kms, secrets } = sdkClients(server, { credentials });
  return { kms, sm: secrets, creds: output.Credentials!, arn: output.AssumedRoleUser!.Arn! };
}

const login = (role: string, jwt: string) => sessionToken(server.url, { role, jwt });

/** An AWS JSON call with a Bearer token, as plain HTTP. */
async function bearerCall(token: string, target: string, input: object) {
  const res = await bearerCallAt(server.url, token, target, input);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function putRole(token: string, name: string, role: object) {
  const res = await fetch(`${server.url}/v1/admin/roles/${name}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(role),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function expectNoSecretValue(text: string): void {
  for (const v of Object.values(VALUES)) expect(text).not.toContain(v);
}

/** Asserts an AccessDeniedException naming `action` and `resource` (a string, or a pattern for suffixed ARNs). */
function expectDeniedMessage(message: string, action: string, resource: string | RegExp, explicit?: boolean): void {
  expect(message).toContain(`perform: ${action} `);
  // A secret named by its name is refused under that name, without the ARN's random suffix.
  const secret = typeof resource === 'string' ? /^(arn:aws:secretsmanager:.*:secret:.+)-\w{6}$/.exec(resource) : null;
  if (secret) expect(message).toMatch(new RegExp(`on resource: ${secret[1]}(-\\w{6})? `));
  else if (typeof resource === 'string') expect(message).toContain(`on resource: ${resource} `);
  else expect(message).toMatch(resource);
  if (explicit !== undefined) expect(message.includes('explicit deny')).toBe(explicit);
  expectNoSecretValue(message);
}

async function denied(
  call: Promise<unknown>,
  action: string,
  resource: string | RegExp,
  explicit?: boolean,
): Promise<void> {
  type SdkError = Error & { $metadata?: { httpStatusCode?: number } };
  const error: SdkError = await call.then(
    () => new Error('expected AccessDeniedException, the call succeeded'),
    (e: unknown) => e as SdkError,
  );
  expect(error.name, error.message).toBe('AccessDeniedException');
  // HTTP 400, as AWS answers it on the JSON APIs.
  expect(error.$metadata?.httpStatusCode).toBe(400);
  expectDeniedMessage(error.message, action, resource, explicit);
}

async function failsWith(call: Promise<unknown>, name: string): Promise<void> {
  const error = await call.then(
    () => new Error(`expected ${name}, the call succeeded`),
    (e: unknown) => e as Error,
  );
  expect(error.name, error.message).toBe(name);
  expectNoSecretValue(error.message);
}

/** A refusal names a secret as the request did: by name (no suffix), or by the full ARN it was given. */
const secretArnPattern = (name: string) =>
  new RegExp(`on resource: arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}(-\\w{6})? `);
const keyArn = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;

beforeAll(async () => {
  ({ issuer, server } = await startWorkloadServer({
    roles: [
      { name: 'web', subjects: ['system:serviceaccount:shop:web'], policy: WEB_POLICY },
      { name: 'ops', subjects: ['system:serviceaccount:ops:*'], policy: OPS_POLICY },
      { name: 'audit', subjects: ['system:serviceaccount:audit:reader'], policy: AUDIT_POLICY },
    ],
  }));
  const { kms, secrets } = sdkClients(server);
  admin = { kms, sm: secrets };

  keys.app = (await admin.kms.send(new CreateKeyCommand({ Description: 'shop app key' }))).KeyMetadata!.KeyId!;
  await admin.kms.send(new CreateAliasCommand({ AliasName: 'alias/shop-app', TargetKeyId: keys.app }));
  keys.sign = (await admin.kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })))
    .KeyMetadata!.KeyId!;
  // Grants the audit role directly and does not delegate to the account: role policies do not count.
  const directPolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AuditOnly',
        Effect: 'Allow',
        Principal: { AWS: roleArn('audit') },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey'],
        Resource: '*',
      },
    ],
  };
  keys.direct = (
    await admin.kms.send(
      new CreateKeyCommand({
        Description: 'direct grant',
        Policy: JSON.stringify(directPolicy),
        // Nobody may change this policy afterwards (the lockout check): on purpose here.
        BypassPolicyLockoutSafetyCheck: true,
      }),
    )
  ).KeyMetadata!.KeyId!;

  const create = async (Name: string, SecretString: string) =>
    (await admin.sm.send(new CreateSecretCommand({ Name, SecretString }))).ARN!;
  arns.webDb = await create('shop/web/db', VALUES.webDb);
  arns.webAdmin = await create('shop/web/admin-token', VALUES.webAdmin);
  arns.apiDb = await create('shop/api/db', VALUES.apiDb);
  arns.shared = await create('shop/web/shared', VALUES.shared);
  await admin.sm.send(
    new PutResourcePolicyCommand({
      SecretId: 'shop/web/shared',
      ResourcePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Principal: { AWS: roleArn('ops') },
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
          },
          {
            Effect: 'Allow',
            Principal: { AWS: roleArn('audit') },
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
          },
        ],
      }),
    }),
  );

  [web, ops, audit] = await Promise.all([
    assume('web', 'shop', 'web'),
    assume('ops', 'ops', 'deployer'),
    assume('audit', 'audit', 'reader'),
  ]);
});

afterAll(async () => {
  await server?.stop();
  await issuer?.stop();
});

describe('STS credentials', () => {
  it('GetCallerIdentity signed with the temporary credentials returns the assumed-role ARN', async () => {
    expect(web.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/web/web-session`);
    expect(web.creds.AccessKeyId).toMatch(/^ASIA/);
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const url = new URL(server.url);
    const signer = new SignatureV4({
      credentials: {
        accessKeyId: web.creds.AccessKeyId!,
        secretAccessKey: web.creds.SecretAccessKey!,
        sessionToken: web.creds.SessionToken!,
      },
      region: REGION,
      service: 'sts',
      sha256: Hash.bind(null, 'sha256'),
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query: {},
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
    });
    const res = await fetch(server.url, { method: 'POST', headers: signed.headers, body });
    const xml = await res.text();
    expect(res.status, xml).toBe(200);
    expect(xml).toContain(`<Arn>arn:aws:sts::${ACCOUNT}:assumed-role/web/web-session</Arn>`);
    expect(xml).toContain(`<Account>${ACCOUNT}</Account>`);
  });

  it('refuses AssumeRoleWithWebIdentity for a token the role does not bind', async () => {
    const sts = stsClient(server.url);
    await failsWith(
      sts.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: roleArn('audit'),
          RoleSessionName: 'nope',
          WebIdentityToken: await tokenFor('shop', 'web'),
        }),
      ),
      // STS's code IDPRejectedClaim, as the SDK names its modeled exception.
      'IDPRejectedClaimException',
    );
  });
});

describe('KMS per role', () => {
  const shop = { tenant: 'shop' };

  it('lets web encrypt, decrypt and make data keys only with its own namespace as tenant', async () => {
    const plaintext = new TextEncoder().encode('order 42');
    const enc = await web.kms.send(
      new EncryptCommand({ KeyId: 'alias/shop-app', Plaintext: plaintext, EncryptionContext: shop }),
    );
    expect(enc.KeyId).toBe(keyArn(keys.app));
    const dec = await web.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: shop }));
    expect(new TextDecoder().decode(dec.Plaintext)).toBe('order 42');
    const dk = await web.kms.send(
      new GenerateDataKeyCommand({ KeyId: keys.app, KeySpec: 'AES_256', EncryptionContext: shop }),
    );
    expect(dk.Plaintext).toHaveLength(32);

    const appArn = keyArn(keys.app);
    await denied(
      web.kms.send(new EncryptCommand({ KeyId: keys.app, Plaintext: plaintext, EncryptionContext: { tenant: 'api' } })),
      'kms:Encrypt',
      appArn,
      false,
    );
    // Named by its alias: the refusal names the alias, never the key behind it.
    await denied(
      web.kms.send(new EncryptCommand({ KeyId: 'alias/shop-app', Plaintext: plaintext })),
      'kms:Encrypt',
      `arn:aws:kms:${REGION}:${ACCOUNT}:alias/shop-app`,
      false,
    );
    await denied(
      web.kms.send(
        new GenerateDataKeyCommand({ KeyId: keys.app, KeySpec: 'AES_256', EncryptionContext: { tenant: '*' } }),
      ),
      'kms:GenerateDataKey',
      appArn,
    );
    // A ciphertext made for another tenant (by ops) cannot be decrypted by web, even with the right context.
    const other = await ops.kms.send(
      new EncryptCommand({ KeyId: keys.app, Plaintext: plaintext, EncryptionContext: { tenant: 'api' } }),
    );
    await denied(
      web.kms.send(new DecryptCommand({ CiphertextBlob: other.CiphertextBlob, EncryptionContext: { tenant: 'api' } })),
      'kms:Decrypt',
      appArn,
    );
  });

  it('lets web describe keys but not create, schedule deletion of, or sign with them', async () => {
    const described = await web.kms.send(new DescribeKeyCommand({ KeyId: 'alias/shop-app' }));
    expect(described.KeyMetadata?.KeyId).toBe(keys.app);
    await denied(web.kms.send(new CreateKeyCommand({})), 'kms:CreateKey', '*');
    await denied(
      web.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keys.app, PendingWindowInDays: 7 })),
      'kms:ScheduleKeyDeletion',
      keyArn(keys.app),
    );
    await denied(
      web.kms.send(
        new SignCommand({ KeyId: keys.sign, Message: new Uint8Array(8), SigningAlgorithm: 'ECDSA_SHA_256' }),
      ),
      'kms:Sign',
      keyArn(keys.sign),
    );
  });

  it('lets ops create keys and sign, while its explicit deny on ScheduleKeyDeletion wins over kms:*', async () => {
    const created = await ops.kms.send(new CreateKeyCommand({ Description: 'ops key' }));
    const id = created.KeyMetadata!.KeyId!;
    const message = new TextEncoder().encode('release 1.2.3');
    const sig = await ops.kms.send(
      new SignCommand({ KeyId: keys.sign, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    const verified = await ops.kms.send(
      new VerifyCommand({
        KeyId: keys.sign,
        Message: message,
        Signature: sig.Signature,
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    expect(verified.SignatureValid).toBe(true);
    await ops.kms.send(new EncryptCommand({ KeyId: id, Plaintext: message }));
    await denied(
      ops.kms.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 })),
      'kms:ScheduleKeyDeletion',
      keyArn(id),
      true,
    );
    const still = await admin.kms.send(new DescribeKeyCommand({ KeyId: id }));
    expect(still.KeyMetadata?.KeyState).toBe('Enabled');
  });

  it('lets only the role a custom key policy names use that key; kms:* in a role policy does not count', async () => {
    const plaintext = new TextEncoder().encode('audit trail');
    const enc = await audit.kms.send(new EncryptCommand({ KeyId: keys.direct, Plaintext: plaintext }));
    const dec = await audit.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(new TextDecoder().decode(dec.Plaintext)).toBe('audit trail');
    const directArn = keyArn(keys.direct);
    await denied(
      ops.kms.send(new EncryptCommand({ KeyId: keys.direct, Plaintext: plaintext })),
      'kms:Encrypt',
      directArn,
      false,
    );
    await denied(ops.kms.send(new DescribeKeyCommand({ KeyId: keys.direct })), 'kms:DescribeKey', directArn);
    await denied(
      web.kms.send(new EncryptCommand({ KeyId: keys.direct, Plaintext: plaintext, EncryptionContext: shop })),
      'kms:Encrypt',
      directArn,
    );
    // audit's role policy allows nothing on the app key beyond DescribeKey, and its default key policy only delegates.
    await denied(
      audit.kms.send(new EncryptCommand({ KeyId: keys.app, Plaintext: plaintext })),
      'kms:Encrypt',
      keyArn(keys.app),
    );
    // The admin is always allowed, whatever the key policy says.
    await admin.kms.send(new EncryptCommand({ KeyId: keys.direct, Plaintext: plaintext }));
  });

  it('refuses a key that does not exist with AccessDenied to a role without access, NotFound to one with access', async () => {
    const missing = '11111111-2222-3333-4444-555555555555';
    const plaintext = new Uint8Array([1, 2, 3]);
    await denied(
      audit.kms.send(new EncryptCommand({ KeyId: missing, Plaintext: plaintext })),
      'kms:Encrypt',
      keyArn(missing),
    );
    await failsWith(ops.kms.send(new EncryptCommand({ KeyId: missing, Plaintext: plaintext })), 'NotFoundException');
    await failsWith(audit.kms.send(new DescribeKeyCommand({ KeyId: missing })), 'NotFoundException');
    await denied(
      web.kms.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: plaintext, EncryptionContext: shop })),
      'kms:Encrypt',
      `arn:aws:kms:${REGION}:${ACCOUNT}:alias/none`,
    );
  });

  it('gives NotFound for a missing key to a role whose allow depends on the encryption context it sends', async () => {
    const missing = '11111111-2222-3333-4444-555555555555';
    await failsWith(
      web.kms.send(new EncryptCommand({ KeyId: missing, Plaintext: new Uint8Array([1]), EncryptionContext: shop })),
      'NotFoundException',
    );
  });
});

describe('Secrets Manager per role', () => {
  it('lets web read, describe and update its own secrets and nothing else', async () => {
    const own = await web.sm.send(new GetSecretValueCommand({ SecretId: 'shop/web/db' }));
    expect(own.SecretString).toBe(VALUES.webDb);
    const described = await web.sm.send(new DescribeSecretCommand({ SecretId: arns.webDb }));
    expect(described.Name).toBe('shop/web/db');
    const put = await web.sm.send(new PutSecretValueCommand({ SecretId: 'shop/web/db', SecretString: VALUES.webDb }));
    expect(put.VersionStages).toEqual(['AWSCURRENT']);

    await denied(
      web.sm.send(new GetSecretValueCommand({ SecretId: 'shop/api/db' })),
      'secretsmanager:GetSecretValue',
      secretArnPattern('shop/api/db'),
      false,
    );
    await denied(
      web.sm.send(new PutSecretValueCommand({ SecretId: 'shop/api/db', SecretString: 'x' })),
      'secretsmanager:PutSecretValue',
      arns.apiDb,
    );
    await denied(
      web.sm.send(new DeleteSecretCommand({ SecretId: 'shop/web/db' })),
      'secretsmanager:DeleteSecret',
      arns.webDb,
      false,
    );
  });

  it('lets an explicit deny on shop/web/admin-* win over the allow on shop/web/*', async () => {
    await denied(
      web.sm.send(new GetSecretValueCommand({ SecretId: 'shop/web/admin-token' })),
      'secretsmanager:GetSecretValue',
      arns.webAdmin,
      true,
    );
    await denied(
      web.sm.send(new DescribeSecretCommand({ SecretId: 'shop/web/admin-token' })),
      'secretsmanager:DescribeSecret',
      arns.webAdmin,
      true,
    );
  });

  it('answers BatchGetSecretValue with the readable values and a per-secret AccessDenied for the others', async () => {
    const out = await web.sm.send(
      new BatchGetSecretValueCommand({ SecretIdList: ['shop/web/db', 'shop/api/db', 'shop/web/admin-token'] }),
    );
    expect(out.SecretValues?.map((v) => [v.Name, v.SecretString])).toEqual([['shop/web/db', VALUES.webDb]]);
    expect(out.Errors?.map((e) => [e.SecretId, e.ErrorCode])).toEqual([
      ['shop/api/db', 'AccessDeniedException'],
      ['shop/web/admin-token', 'AccessDeniedException'],
    ]);
    expectDeniedMessage(out.Errors![0]!.Message!, 'secretsmanager:GetSecretValue', arns.apiDb, false);
    expectDeniedMessage(out.Errors![1]!.Message!, 'secretsmanager:GetSecretValue', arns.webAdmin, true);
    await denied(
      audit.sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['shop/web/db'] })),
      'secretsmanager:BatchGetSecretValue',
      '*',
    );
  });

  it('lists secrets for roles allowed to (those each may describe), and refuses others', async () => {
    const listed = await web.sm.send(new ListSecretsCommand({}));
    const names = listed.SecretList?.map((s) => s.Name);
    expect(names).toContain('shop/web/db');
    // web may not describe shop/api/db, nor its own admin-* secrets (explicit deny): not listed.
    expect(names).not.toContain('shop/api/db');
    expect(names?.some((n) => n?.startsWith('shop/web/admin-'))).toBe(false);
    const all = await ops.sm.send(new ListSecretsCommand({}));
    expect(all.SecretList?.map((s) => s.Name)).toEqual(expect.arrayContaining(['shop/web/db', 'shop/api/db']));
    expectNoSecretValue(JSON.stringify(listed));
    await denied(audit.sm.send(new ListSecretsCommand({})), 'secretsmanager:ListSecrets', '*', false);
    const token = await login('audit', await tokenFor('audit', 'reader'));
    const viaBearer = await bearerCall(token, 'secretsmanager.ListSecrets', {});
    expect(viaBearer.body.__type).toBe('AccessDeniedException');
    expectDeniedMessage(String(viaBearer.body.message), 'secretsmanager:ListSecrets', '*', false);
  });

  it('lets ops delete secrets outside shop/ and refuses shop/ secrets with its explicit deny', async () => {
    await ops.sm.send(new CreateSecretCommand({ Name: 'ops/scratch', SecretString: 'scratch' }));
    const deleted = await ops.sm.send(
      new DeleteSecretCommand({ SecretId: 'ops/scratch', ForceDeleteWithoutRecovery: true }),
    );
    expect(deleted.Name).toBe('ops/scratch');
    await denied(
      ops.sm.send(new DeleteSecretCommand({ SecretId: 'shop/api/db' })),
      'secretsmanager:DeleteSecret',
      arns.apiDb,
      true,
    );
    expect((await admin.sm.send(new DescribeSecretCommand({ SecretId: 'shop/api/db' }))).DeletedDate).toBeUndefined();
  });

  it('applies a secret resource policy: its deny beats secretsmanager:* and its direct allow needs no role policy', async () => {
    await denied(
      ops.sm.send(new GetSecretValueCommand({ SecretId: 'shop/web/shared' })),
      'secretsmanager:GetSecretValue',
      arns.shared,
      true,
    );
    expect((await ops.sm.send(new DescribeSecretCommand({ SecretId: 'shop/web/shared' }))).Name).toBe(
      'shop/web/shared',
    );
    const read = await audit.sm.send(new GetSecretValueCommand({ SecretId: 'shop/web/shared' }));
    expect(read.SecretString).toBe(VALUES.shared);
    await denied(
      audit.sm.send(new GetSecretValueCommand({ SecretId: 'shop/web/db' })),
      'secretsmanager:GetSecretValue',
      arns.webDb,
      false,
    );
    expect((await web.sm.send(new GetSecretValueCommand({ SecretId: 'shop/web/shared' }))).SecretString).toBe(
      VALUES.shared,
    );
  });

  it('refuses a secret that does not exist with AccessDenied to a role without access, NotFound to one with access', async () => {
    await denied(
      audit.sm.send(new GetSecretValueCommand({ SecretId: 'shop/api/none' })),
      'secretsmanager:GetSecretValue',
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:shop/api/none`,
    );
    await denied(
      web.sm.send(new GetSecretValueCommand({ SecretId: 'shop/api/none' })),
      'secretsmanager:GetSecretValue',
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:shop/api/none`,
    );
    await failsWith(web.sm.send(new GetSecretValueCommand({ SecretId: 'shop/web/none' })), 'ResourceNotFoundException');
    await failsWith(ops.sm.send(new GetSecretValueCommand({ SecretId: 'shop/api/none' })), 'ResourceNotFoundException');
  });

  it('gives a Bearer session from /v1/auth/login the same decisions as STS credentials', async () => {
    const token = await login('web', await tokenFor('shop', 'web'));
    const own = await bearerCall(token, 'secretsmanager.GetSecretValue', { SecretId: 'shop/web/db' });
    expect(own.body.SecretString).toBe(VALUES.webDb);
    const other = await bearerCall(token, 'secretsmanager.GetSecretValue', { SecretId: 'shop/api/db' });
    expect(other.status).toBe(400);
    expect(other.body.__type).toBe('AccessDeniedException');
    expectDeniedMessage(String(other.body.message), 'secretsmanager:GetSecretValue', arns.apiDb, false);
    expect(String(other.body.message)).toContain('assumed-role/web/');
    const enc = await bearerCall(token, 'TrentService.Encrypt', {
      KeyId: keys.app,
      Plaintext: 'aGk=',
      EncryptionContext: { tenant: 'api' },
    });
    expect(enc.body.__type).toBe('AccessDeniedException');
    expectDeniedMessage(String(enc.body.message), 'kms:Encrypt', keyArn(keys.app), false);
  });
});

describe('admin API and API-managed roles', () => {
  const reportsRole = {
    issuer: 'cluster',
    subjects: ['system:serviceaccount:reports:*'],
    policy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: 'arn:aws:secretsmanager:*:*:secret:shop/api/*',
        },
      ],
    },
  };

  it('refuses PUT /v1/admin/roles to a role without keysafe:PutRole on that role, and allows the admin', async () => {
    const webToken = await login('web', await tokenFor('shop', 'web'));
    const refused = await putRole(webToken, 'batch-nightly', reportsRole);
    expect(refused.status).toBe(403);
    expect(refused.body.__type).toBe('AccessDeniedException');
    expectDeniedMessage(String(refused.body.message), 'keysafe:PutRole', roleArn('batch-nightly'));

    const opsToken = await login('ops', await tokenFor('ops', 'deployer'));
    const outside = await putRole(opsToken, 'reports', reportsRole);
    expect(outside.status).toBe(403);
    expectDeniedMessage(String(outside.body.message), 'keysafe:PutRole', roleArn('reports'));
    const inside = await putRole(opsToken, 'batch-nightly', reportsRole);
    expect(inside.status, JSON.stringify(inside.body)).toBe(200);
    expect(inside.body.arn).toBe(roleArn('batch-nightly'));

    const byAdmin = await putRole(server.admin.token, 'reports', reportsRole);
    expect(byAdmin.status, JSON.stringify(byAdmin.body)).toBe(200);
  });

  it('lets a role created through the admin API log in at once, with its policy in force', async () => {
    const created = await putRole(server.admin.token, 'reports-now', reportsRole);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const token = await login('reports-now', await tokenFor('reports', 'builder'));
    const allowed = await bearerCall(token, 'secretsmanager.GetSecretValue', { SecretId: 'shop/api/db' });
    expect(allowed.body.SecretString).toBe(VALUES.apiDb);
    const refused = await bearerCall(token, 'secretsmanager.GetSecretValue', { SecretId: 'shop/web/db' });
    expect(refused.body.__type).toBe('AccessDeniedException');
    expectDeniedMessage(String(refused.body.message), 'secretsmanager:GetSecretValue', arns.webDb, false);

    const viaSts = await assume('reports-now', 'reports', 'builder');
    expect((await viaSts.sm.send(new GetSecretValueCommand({ SecretId: 'shop/api/db' }))).SecretString).toBe(
      VALUES.apiDb,
    );
    await denied(viaSts.kms.send(new DescribeKeyCommand({ KeyId: keys.app })), 'kms:DescribeKey', keyArn(keys.app));
  });
});
