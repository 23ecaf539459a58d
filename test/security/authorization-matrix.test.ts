// The authorization matrix: for every operation of every API (KMS, Secrets Manager, native, Terraform)
// and every resource it touches, a role allowed everything except that one action on that one
// resource is refused — naming exactly that action and resource — and the store is unchanged.
//
// The expected resources are written here from AWS's rules, apart from the declarations in
// src/kms/api.ts and src/secrets/api.ts: a resource a declaration forgets is a call that succeeds
// here. An operation or route without a case fails the completeness checks.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kmsOperations } from '../../src/kms/api.js';
import { secretsOperations } from '../../src/secrets/api.js';
import { createApp } from '../../src/server/app.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const TENANT = 'tenant';
const TENANT_SA = 'system:serviceaccount:matrix:tenant';
const aliasArn = (name: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:${name}`;
const secretArnFor = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}`;
const stateArn = (name: string) => `arn:aws:keysafe:${REGION}:${ACCOUNT}:terraform-state/${name}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

let ws: WorkloadServer;
let db: Database.Database;
let adminToken: string;
let tenantToken: string;
let agentToken: string;

interface Key {
  id: string;
  arn: string;
}
const keys = {} as Record<'sym' | 'other' | 'sign' | 'hmac' | 'agree' | 'ext' | 'mrk', Key>;
const secrets = {} as Record<'plain' | 'cmk', string>;
const blobs = {} as Record<'ciphertext' | 'signature' | 'mac', string>;
/** A grant on keys.sym to a role other than the tenant. */
const grant = {} as Record<'id' | 'token', string>;
const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/other`;
/** A peer's P-256 public key (DER SPKI, base64) for DeriveSharedSecret. */
const PEER_PUBLIC_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .publicKey.export({ type: 'spki', format: 'der' })
  .toString('base64');

async function http(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${ws.server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...headers },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const awsCall = (target: string, input: unknown, token: string) =>
  http('POST', '/', token, input, { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' });

async function admin(target: string, input: unknown): Promise<Record<string, unknown>> {
  const answer = await awsCall(target, input, adminToken);
  expect(answer.status, `${target}: ${answer.text}`).toBe(200);
  return answer.json;
}

/** The tenant may do everything except `action` on `resource`. */
async function denyOnly(action: string, resource: string): Promise<void> {
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', Action: action, Resource: resource },
    ],
  };
  const put = await http('PUT', `/v1/admin/roles/${TENANT}`, adminToken, {
    issuer: 'cluster',
    subjects: [TENANT_SA],
    policy,
  });
  expect(put.status, put.text).toBe(200);
}

/** Every row of every table but the audit trail: what a refused call must leave as it was. */
function storeDigest(): string {
  const hash = createHash('sha256');
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
    name: string;
  }[];
  for (const { name } of tables) {
    hash.update(name);
    for (const row of db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).raw().iterate()) {
      hash.update(JSON.stringify(row, (_k, v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)));
    }
  }
  return hash.digest('hex');
}

/**
 * A denied pair: the action and the ARN (or '*') the policy denies; the refusal names it, or `named`
 * (what the request named, e.g. an alias) when given: a refusal never tells what an alias points at.
 */
type Denial = [action: string, resource: string, named?: string];
interface AwsCase {
  input: () => Record<string, unknown>;
  denies: () => Denial[];
}

/** `action` on a key; `named` is the alias the request names it by, which the refusal names instead. */
const onKey = (
  action: string,
  key: () => Key,
  input: () => Record<string, unknown> = () => ({ KeyId: key().id }),
  named?: string,
): AwsCase => ({
  input,
  denies: (): Denial[] => [named ? [action, key().arn, named] : [action, key().arn]],
});
const onAny = (action: string, input: () => Record<string, unknown> = () => ({})): AwsCase => ({
  input,
  denies: () => [[action, '*']],
});
const onSecret = (action: string, which: 'plain' | 'cmk', extra: Record<string, unknown> = {}): AwsCase => ({
  input: () => ({ SecretId: secrets[which], ...extra }),
  denies: () => [[action, secrets[which]]],
});

const MESSAGE = b64('matrix message');

const KMS: Record<string, AwsCase> = {
  // AWS: kms:ReplicateKey on the primary, kms:CreateKey (and kms:TagResource for Tags) in the replica Region
  // (decided there: kms-multi-region-access.test.ts shows aws:RequestedRegion).
  ReplicateKey: {
    input: () => ({ KeyId: keys.mrk.id, ReplicaRegion: 'eu-west-1', Tags: [{ TagKey: 'team', TagValue: 'a' }] }),
    denies: () => [
      ['kms:ReplicateKey', keys.mrk.arn],
      ['kms:CreateKey', '*'],
      ['kms:TagResource', '*'],
    ],
  },
  // AWS: kms:UpdatePrimaryRegion on the primary and on the replica in PrimaryRegion (its ARN there).
  UpdatePrimaryRegion: {
    input: () => ({ KeyId: keys.mrk.id, PrimaryRegion: 'eu-west-1' }),
    denies: () => [
      ['kms:UpdatePrimaryRegion', keys.mrk.arn],
      ['kms:UpdatePrimaryRegion', keys.mrk.arn.replace(`:${REGION}:`, ':eu-west-1:')],
    ],
  },
  CreateKey: {
    input: () => ({ Description: 'matrix', Tags: [{ TagKey: 'team', TagValue: 'a' }] }),
    denies: () => [
      ['kms:CreateKey', '*'],
      ['kms:TagResource', '*'],
    ],
  },
  DescribeKey: onKey(
    'kms:DescribeKey',
    () => keys.sym,
    () => ({ KeyId: 'alias/matrix-sym' }),
    aliasArn('alias/matrix-sym'),
  ),
  ListKeys: onAny('kms:ListKeys'),
  UpdateKeyDescription: onKey(
    'kms:UpdateKeyDescription',
    () => keys.sym,
    () => ({ KeyId: keys.sym.id, Description: 'x' }),
  ),
  EnableKey: onKey('kms:EnableKey', () => keys.other),
  DisableKey: onKey('kms:DisableKey', () => keys.other),
  ScheduleKeyDeletion: onKey(
    'kms:ScheduleKeyDeletion',
    () => keys.other,
    () => ({ KeyId: keys.other.id, PendingWindowInDays: 7 }),
  ),
  CancelKeyDeletion: onKey('kms:CancelKeyDeletion', () => keys.other),
  CreateAlias: {
    input: () => ({ AliasName: 'alias/matrix-new', TargetKeyId: keys.sym.id }),
    denies: () => [
      ['kms:CreateAlias', aliasArn('alias/matrix-new')],
      ['kms:CreateAlias', keys.sym.arn],
    ],
  },
  UpdateAlias: {
    input: () => ({ AliasName: 'alias/matrix-other', TargetKeyId: keys.sym.id }),
    denies: () => [
      ['kms:UpdateAlias', aliasArn('alias/matrix-other')],
      ['kms:UpdateAlias', keys.other.arn], // the key it points at now
      ['kms:UpdateAlias', keys.sym.arn], // the new target
    ],
  },
  DeleteAlias: {
    input: () => ({ AliasName: 'alias/matrix-other' }),
    denies: () => [
      ['kms:DeleteAlias', aliasArn('alias/matrix-other')],
      ['kms:DeleteAlias', keys.other.arn],
    ],
  },
  ListAliases: onAny('kms:ListAliases'),
  CreateGrant: onKey(
    'kms:CreateGrant',
    () => keys.sym,
    () => ({ KeyId: keys.sym.id, GranteePrincipal: OTHER_ROLE, Operations: ['Decrypt'] }),
  ),
  ListGrants: onKey('kms:ListGrants', () => keys.sym),
  ListRetirableGrants: onAny('kms:ListRetirableGrants', () => ({ RetiringPrincipal: OTHER_ROLE })),
  // By token: the key is the one the token names.
  RetireGrant: onKey(
    'kms:RetireGrant',
    () => keys.sym,
    () => ({ GrantToken: grant.token }),
  ),
  RevokeGrant: onKey(
    'kms:RevokeGrant',
    () => keys.sym,
    () => ({ KeyId: keys.sym.id, GrantId: grant.id }),
  ),
  Encrypt: onKey(
    'kms:Encrypt',
    () => keys.sym,
    () => ({ KeyId: 'alias/matrix-sym', Plaintext: MESSAGE }),
    aliasArn('alias/matrix-sym'),
  ),
  Decrypt: onKey(
    'kms:Decrypt',
    () => keys.sym,
    () => ({
      CiphertextBlob: blobs.ciphertext,
      EncryptionContext: { purpose: 'matrix' },
    }),
  ),
  ReEncrypt: {
    input: () => ({
      CiphertextBlob: blobs.ciphertext,
      SourceEncryptionContext: { purpose: 'matrix' },
      DestinationKeyId: keys.other.id,
    }),
    denies: () => [
      ['kms:ReEncryptFrom', keys.sym.arn],
      ['kms:ReEncryptTo', keys.other.arn],
    ],
  },
  GenerateDataKey: onKey(
    'kms:GenerateDataKey',
    () => keys.sym,
    () => ({ KeyId: keys.sym.id, KeySpec: 'AES_256' }),
  ),
  GenerateDataKeyWithoutPlaintext: onKey(
    'kms:GenerateDataKeyWithoutPlaintext',
    () => keys.sym,
    () => ({
      KeyId: keys.sym.id,
      NumberOfBytes: 32,
    }),
  ),
  GenerateDataKeyPair: onKey(
    'kms:GenerateDataKeyPair',
    () => keys.sym,
    () => ({
      KeyId: keys.sym.id,
      KeyPairSpec: 'ECC_NIST_P256',
    }),
  ),
  GenerateDataKeyPairWithoutPlaintext: onKey(
    'kms:GenerateDataKeyPairWithoutPlaintext',
    () => keys.sym,
    () => ({
      KeyId: keys.sym.id,
      KeyPairSpec: 'ECC_NIST_P256',
    }),
  ),
  GenerateRandom: onAny('kms:GenerateRandom', () => ({ NumberOfBytes: 16 })),
  Sign: onKey(
    'kms:Sign',
    () => keys.sign,
    () => ({
      KeyId: keys.sign.id,
      Message: MESSAGE,
      SigningAlgorithm: 'ECDSA_SHA_256',
    }),
  ),
  Verify: onKey(
    'kms:Verify',
    () => keys.sign,
    () => ({
      KeyId: keys.sign.id,
      Message: MESSAGE,
      Signature: blobs.signature,
      SigningAlgorithm: 'ECDSA_SHA_256',
    }),
  ),
  GetPublicKey: onKey('kms:GetPublicKey', () => keys.sign),
  DeriveSharedSecret: onKey(
    'kms:DeriveSharedSecret',
    () => keys.agree,
    () => ({ KeyId: keys.agree.id, KeyAgreementAlgorithm: 'ECDH', PublicKey: PEER_PUBLIC_KEY }),
  ),
  GetKeyLastUsage: onKey('kms:GetKeyLastUsage', () => keys.sym),
  GenerateMac: onKey(
    'kms:GenerateMac',
    () => keys.hmac,
    () => ({
      KeyId: keys.hmac.id,
      Message: MESSAGE,
      MacAlgorithm: 'HMAC_SHA_256',
    }),
  ),
  VerifyMac: onKey(
    'kms:VerifyMac',
    () => keys.hmac,
    () => ({
      KeyId: keys.hmac.id,
      Message: MESSAGE,
      MacAlgorithm: 'HMAC_SHA_256',
      Mac: blobs.mac,
    }),
  ),
  EnableKeyRotation: onKey('kms:EnableKeyRotation', () => keys.sym),
  DisableKeyRotation: onKey('kms:DisableKeyRotation', () => keys.sym),
  GetKeyRotationStatus: onKey('kms:GetKeyRotationStatus', () => keys.sym),
  RotateKeyOnDemand: onKey('kms:RotateKeyOnDemand', () => keys.sym),
  ListKeyRotations: onKey('kms:ListKeyRotations', () => keys.sym),
  TagResource: onKey(
    'kms:TagResource',
    () => keys.sym,
    () => ({
      KeyId: keys.sym.id,
      Tags: [{ TagKey: 'k', TagValue: 'v' }],
    }),
  ),
  UntagResource: onKey(
    'kms:UntagResource',
    () => keys.sym,
    () => ({ KeyId: keys.sym.id, TagKeys: ['team'] }),
  ),
  ListResourceTags: onKey('kms:ListResourceTags', () => keys.sym),
  GetKeyPolicy: onKey('kms:GetKeyPolicy', () => keys.sym),
  PutKeyPolicy: onKey(
    'kms:PutKeyPolicy',
    () => keys.sym,
    () => ({
      KeyId: keys.sym.id,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        ],
      }),
    }),
  ),
  ListKeyPolicies: onKey('kms:ListKeyPolicies', () => keys.sym),
  GetParametersForImport: onKey(
    'kms:GetParametersForImport',
    () => keys.ext,
    () => ({ KeyId: keys.ext.id, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }),
  ),
  ImportKeyMaterial: onKey(
    'kms:ImportKeyMaterial',
    () => keys.ext,
    () => ({
      KeyId: keys.ext.id,
      ImportToken: MESSAGE,
      EncryptedKeyMaterial: MESSAGE,
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }),
  ),
  DeleteImportedKeyMaterial: onKey('kms:DeleteImportedKeyMaterial', () => keys.ext),
};
// Refused as unsupported, but only after the caller's permission is checked, as AWS does.
for (const op of [
  'CreateCustomKeyStore',
  'ConnectCustomKeyStore',
  'DisconnectCustomKeyStore',
  'DeleteCustomKeyStore',
  'DescribeCustomKeyStores',
  'UpdateCustomKeyStore',
]) {
  KMS[op] = onAny(`kms:${op}`, () => ({ KeyId: keys.sym.id }));
}

const SECRETS: Record<string, AwsCase> = {
  CreateSecret: {
    input: () => ({
      Name: 'matrix/new',
      SecretString: 'new value',
      KmsKeyId: keys.sym.id,
      Tags: [{ Key: 'team', Value: 'a' }],
      AddReplicaRegions: [{ Region: 'eu-west-1' }],
    }),
    denies: () => [
      ['secretsmanager:CreateSecret', secretArnFor('matrix/new')],
      ['secretsmanager:TagResource', secretArnFor('matrix/new')],
      ['secretsmanager:ReplicateSecretToRegions', secretArnFor('matrix/new')],
      ['kms:GenerateDataKey', keys.sym.arn], // the customer-managed key it is sealed under
    ],
  },
  GetSecretValue: {
    input: () => ({ SecretId: secrets.cmk }),
    denies: () => [
      ['secretsmanager:GetSecretValue', secrets.cmk],
      ['kms:Decrypt', keys.sym.arn],
    ],
  },
  BatchGetSecretValue: {
    input: () => ({ Filters: [{ Key: 'name', Values: ['matrix/'] }] }),
    denies: () => [
      ['secretsmanager:BatchGetSecretValue', '*'],
      ['secretsmanager:ListSecrets', '*'], // Filters list secrets
    ],
  },
  PutSecretValue: {
    input: () => ({ SecretId: secrets.cmk, SecretString: 'next value' }),
    denies: () => [
      ['secretsmanager:PutSecretValue', secrets.cmk],
      ['kms:GenerateDataKey', keys.sym.arn],
    ],
  },
  UpdateSecret: {
    // A new key without a value re-encrypts the current version: read under the old, sealed under the new.
    input: () => ({ SecretId: secrets.cmk, KmsKeyId: keys.other.id }),
    denies: () => [
      ['secretsmanager:UpdateSecret', secrets.cmk],
      ['kms:Decrypt', keys.sym.arn],
      ['kms:GenerateDataKey', keys.other.arn],
    ],
  },
  DescribeSecret: onSecret('secretsmanager:DescribeSecret', 'plain'),
  ListSecrets: onAny('secretsmanager:ListSecrets'),
  ListSecretVersionIds: onSecret('secretsmanager:ListSecretVersionIds', 'plain'),
  UpdateSecretVersionStage: onSecret('secretsmanager:UpdateSecretVersionStage', 'plain', {
    VersionStage: 'MATRIX',
    MoveToVersionId: '00000000-0000-4000-8000-000000000000',
  }),
  DeleteSecret: onSecret('secretsmanager:DeleteSecret', 'plain'),
  RestoreSecret: onSecret('secretsmanager:RestoreSecret', 'plain'),
  RotateSecret: onSecret('secretsmanager:RotateSecret', 'plain', {
    RotationLambdaARN: 'keysafe:rotation:random-password',
    RotationRules: { AutomaticallyAfterDays: 30 },
  }),
  CancelRotateSecret: onSecret('secretsmanager:CancelRotateSecret', 'plain'),
  GetRandomPassword: onAny('secretsmanager:GetRandomPassword'),
  TagResource: onSecret('secretsmanager:TagResource', 'plain', { Tags: [{ Key: 'k', Value: 'v' }] }),
  UntagResource: onSecret('secretsmanager:UntagResource', 'plain', { TagKeys: ['team'] }),
  GetResourcePolicy: onSecret('secretsmanager:GetResourcePolicy', 'plain'),
  PutResourcePolicy: onSecret('secretsmanager:PutResourcePolicy', 'plain', {
    ResourcePolicy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 'secretsmanager:*', Resource: '*' }],
    }),
  }),
  DeleteResourcePolicy: onSecret('secretsmanager:DeleteResourcePolicy', 'plain'),
  ValidateResourcePolicy: onSecret('secretsmanager:ValidateResourcePolicy', 'plain', {
    ResourcePolicy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: '*', Resource: '*' }],
    }),
  }),
};
SECRETS.ReplicateSecretToRegions = onSecret('secretsmanager:ReplicateSecretToRegions', 'plain', {
  AddReplicaRegions: [{ Region: 'eu-west-1' }],
});
SECRETS.RemoveRegionsFromReplication = onSecret('secretsmanager:RemoveRegionsFromReplication', 'plain', {
  RemoveReplicaRegions: ['eu-west-1'],
});
SECRETS.StopReplicationToReplica = onSecret('secretsmanager:StopReplicationToReplica', 'plain');

interface NativeCase {
  /** Method and path as registered (Hono's pattern), then the request actually sent. */
  route: string;
  request: () => { method: string; path: string; body?: unknown; token?: string };
  denies: () => Denial[];
}
const issuerArn = `arn:aws:iam::${ACCOUNT}:oidc-provider/spare`;
const roleArnOf = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const NATIVE: NativeCase[] = [
  {
    route: 'GET /v1/admin/issuers',
    request: () => ({ method: 'GET', path: '/v1/admin/issuers' }),
    denies: () => [['keysafe:ListIssuers', '*']],
  },
  {
    route: 'GET /v1/admin/issuers/:name',
    request: () => ({ method: 'GET', path: '/v1/admin/issuers/spare' }),
    denies: () => [['keysafe:GetIssuer', issuerArn]],
  },
  {
    route: 'PUT /v1/admin/issuers/:name',
    request: () => ({
      method: 'PUT',
      path: '/v1/admin/issuers/spare',
      body: { issuer: 'https://other.example', audiences: ['x'], discovery: true },
    }),
    denies: () => [['keysafe:PutIssuer', issuerArn]],
  },
  {
    route: 'DELETE /v1/admin/issuers/:name',
    request: () => ({ method: 'DELETE', path: '/v1/admin/issuers/spare' }),
    denies: () => [['keysafe:DeleteIssuer', issuerArn]],
  },
  {
    route: 'GET /v1/admin/roles',
    request: () => ({ method: 'GET', path: '/v1/admin/roles' }),
    denies: () => [['keysafe:ListRoles', '*']],
  },
  {
    route: 'GET /v1/admin/roles/:name',
    request: () => ({ method: 'GET', path: '/v1/admin/roles/spare' }),
    denies: () => [['keysafe:GetRole', roleArnOf('spare')]],
  },
  {
    route: 'PUT /v1/admin/roles/:name',
    request: () => ({
      method: 'PUT',
      path: '/v1/admin/roles/spare',
      body: { issuer: 'cluster', subjects: ['nobody'], policy: { Version: '2012-10-17', Statement: [] } },
    }),
    denies: () => [['keysafe:PutRole', roleArnOf('spare')]],
  },
  {
    route: 'DELETE /v1/admin/roles/:name',
    request: () => ({ method: 'DELETE', path: '/v1/admin/roles/spare' }),
    denies: () => [['keysafe:DeleteRole', roleArnOf('spare')]],
  },
  {
    route: 'POST /v1/admin/roles/:name/revoke-sessions',
    request: () => ({ method: 'POST', path: '/v1/admin/roles/spare/revoke-sessions' }),
    denies: () => [['keysafe:RevokeSessions', roleArnOf('spare')]],
  },
  {
    route: 'POST /v1/admin/rotate-root-key',
    request: () => ({ method: 'POST', path: '/v1/admin/rotate-root-key' }),
    denies: () => [['keysafe:RotateRootKey', '*']],
  },
  {
    // The agent's fetch: GetSecretValue, through a session bound to the agent's key.
    route: 'GET /v1/secrets/*',
    request: () => ({ method: 'GET', path: `/v1/secrets/${encodeURIComponent(secrets.cmk)}`, token: agentToken }),
    denies: () => [
      ['secretsmanager:GetSecretValue', secrets.cmk],
      ['kms:Decrypt', keys.sym.arn],
    ],
  },
  ...(
    [
      ['GET', '/v1/terraform/state/*', 'terraform:GetState', undefined],
      ['GET', '/v1/terraform/state-versions/*', 'terraform:GetState', undefined],
      ['POST', '/v1/terraform/state/*', 'terraform:PutState', '{"version":4,"serial":9,"lineage":"other"}'],
      ['DELETE', '/v1/terraform/state/*', 'terraform:DeleteState', undefined],
      ['LOCK', '/v1/terraform/state/*', 'terraform:LockState', '{"ID":"b5e3c9a0-0000-4000-8000-000000000000"}'],
      ['UNLOCK', '/v1/terraform/state/*', 'terraform:UnlockState', '{"ID":"b5e3c9a0-0000-4000-8000-000000000000"}'],
    ] as const
  ).map(([method, route, action, body]) => ({
    route: `${method} ${route}`,
    request: () => ({ method, path: route.replace('*', 'matrix'), ...(body !== undefined && { body }) }),
    denies: (): Denial[] => [[action, stateArn('matrix')]],
  })),
  {
    // `terraform force-unlock` sends no body: its own permission.
    route: 'UNLOCK /v1/terraform/state/*',
    request: () => ({ method: 'UNLOCK', path: '/v1/terraform/state/matrix' }),
    denies: () => [['terraform:ForceUnlockState', stateArn('matrix')]],
  },
];
/** Routes with no resource to declare, and why. */
const UNDECLARED: Record<string, string> = {
  'GET /healthz': 'liveness, no data',
  'GET /readyz': 'readiness, no data',
  'GET /metrics': 'counters by operation and code, no resource data',
  'POST /v1/auth/login': "anonymous by design: the workload's JWT is checked against the role's trust",
  'GET /v1/watch': "each event is filtered by the caller's GetSecretValue on its secret",
};

async function expectRefused(
  send: () => Promise<{ status: number; text: string; json: Record<string, unknown> }>,
  [action, resource, named]: Denial,
): Promise<void> {
  await denyOnly(action, resource);
  const before = storeDigest();
  const answer = await send();
  expect(answer.json.__type, answer.text).toBe('AccessDeniedException');
  expect(String(answer.json.message)).toContain(`perform: ${action} on resource: ${named ?? resource} `);
  expect(storeDigest(), 'a refused call changed the store').toBe(before);
}

beforeAll(async () => {
  ws = await startWorkloadServer();
  adminToken = ws.server.admin.token;
  db = new Database(join(ws.server.dataDir, 'keysafe.db'), { readonly: true, fileMustExist: true });
  const create = async (KeySpec: string, KeyUsage: string): Promise<Key> => {
    const meta = (await admin('TrentService.CreateKey', { KeySpec, KeyUsage })).KeyMetadata as {
      KeyId: string;
      Arn: string;
    };
    return { id: meta.KeyId, arn: meta.Arn };
  };
  keys.sym = await create('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  keys.other = await create('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  keys.sign = await create('ECC_NIST_P256', 'SIGN_VERIFY');
  keys.hmac = await create('HMAC_256', 'GENERATE_VERIFY_MAC');
  keys.agree = await create('ECC_NIST_P256', 'KEY_AGREEMENT');
  const ext = (await admin('TrentService.CreateKey', { Origin: 'EXTERNAL' })).KeyMetadata as {
    KeyId: string;
    Arn: string;
  };
  keys.ext = { id: ext.KeyId, arn: ext.Arn };
  const mrk = (await admin('TrentService.CreateKey', { MultiRegion: true })).KeyMetadata as {
    KeyId: string;
    Arn: string;
  };
  keys.mrk = { id: mrk.KeyId, arn: mrk.Arn };
  await admin('TrentService.CreateAlias', { AliasName: 'alias/matrix-sym', TargetKeyId: keys.sym.id });
  await admin('TrentService.CreateAlias', { AliasName: 'alias/matrix-other', TargetKeyId: keys.other.id });
  await admin('TrentService.TagResource', { KeyId: keys.sym.id, Tags: [{ TagKey: 'team', TagValue: 'a' }] });
  const made = await admin('TrentService.CreateGrant', {
    KeyId: keys.sym.id,
    GranteePrincipal: OTHER_ROLE,
    RetiringPrincipal: OTHER_ROLE,
    Operations: ['Decrypt', 'RetireGrant'],
  });
  grant.id = made.GrantId as string;
  grant.token = made.GrantToken as string;
  blobs.ciphertext = (
    await admin('TrentService.Encrypt', {
      KeyId: keys.sym.id,
      Plaintext: MESSAGE,
      EncryptionContext: { purpose: 'matrix' },
    })
  ).CiphertextBlob as string;
  blobs.signature = (
    await admin('TrentService.Sign', {
      KeyId: keys.sign.id,
      Message: MESSAGE,
      SigningAlgorithm: 'ECDSA_SHA_256',
    })
  ).Signature as string;
  blobs.mac = (
    await admin('TrentService.GenerateMac', {
      KeyId: keys.hmac.id,
      Message: MESSAGE,
      MacAlgorithm: 'HMAC_SHA_256',
    })
  ).Mac as string;
  secrets.plain = (
    await admin('secretsmanager.CreateSecret', {
      Name: 'matrix/plain',
      SecretString: 'plain value',
      Tags: [{ Key: 'team', Value: 'a' }],
    })
  ).ARN as string;
  secrets.cmk = (
    await admin('secretsmanager.CreateSecret', {
      Name: 'matrix/cmk',
      SecretString: 'cmk value',
      KmsKeyId: keys.sym.id,
    })
  ).ARN as string;
  const state = await http('POST', '/v1/terraform/state/matrix', adminToken, '{"version":4,"serial":1,"lineage":"l"}');
  expect(state.status, state.text).toBe(200);
  const spare = await http('PUT', '/v1/admin/issuers/spare', adminToken, {
    issuer: 'https://spare.example',
    audiences: ['keysafe'],
    jwksUrl: 'https://spare.example/jwks',
  });
  expect(spare.status, spare.text).toBe(200);

  await denyOnly('none:None', '*');
  const login = async (publicKey?: object) => {
    const jwt = await ws.issuer.kubernetesToken({ namespace: 'matrix', serviceAccount: 'tenant' });
    const answer = await http('POST', '/v1/auth/login', '', { role: TENANT, jwt, ...(publicKey && { publicKey }) });
    expect(answer.status, answer.text).toBe(200);
    return answer.json.token as string;
  };
  tenantToken = await login();
  const { publicKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
  agentToken = await login(await exportJWK(publicKey));
}, 60_000);

afterAll(async () => {
  db?.close();
  await ws?.stop();
});

describe('every AWS operation authorizes every resource it touches', () => {
  it('has a case for every KMS and Secrets Manager operation', () => {
    expect(Object.keys(KMS).sort()).toEqual(Object.keys(kmsOperations).sort());
    expect(Object.keys(SECRETS).sort()).toEqual(Object.keys(secretsOperations).sort());
  });

  const cases = [
    ...Object.entries(KMS).map(([op, c]) => [`TrentService.${op}`, c] as const),
    ...Object.entries(SECRETS).map(([op, c]) => [`secretsmanager.${op}`, c] as const),
  ];
  it.each(cases)('%s', async (target, c) => {
    for (const denial of c.denies()) {
      await expectRefused(() => awsCall(target, c.input(), tenantToken), denial);
    }
  });
});

describe('every native and Terraform route authorizes every resource it touches', () => {
  it('has a case (or a stated reason) for every route', () => {
    const app = createApp({ terraform: { maxStateBytes: 1 } } as unknown as Parameters<typeof createApp>[0]);
    const registered = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    const covered = new Set([...NATIVE.map((c) => c.route), ...Object.keys(UNDECLARED)]);
    expect([...registered].sort()).toEqual([...covered].sort());
  });

  it.each(NATIVE.map((c) => [c.route, c] as const))('%s', async (_route, c) => {
    for (const denial of c.denies()) {
      const { method, path, body, token } = c.request();
      await expectRefused(() => http(method, path, token ?? tenantToken, body), denial);
    }
  });
});
