// decide(): admin, role policy, key policy and secret resource policy together; explicit deny wins; condition keys.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are ${…} in plain strings.
import { describe, expect, it } from 'vitest';
import { type AccessRequest, decide } from '../../src/auth/authorize.js';
import { adminIdentity, type RoleIdentity } from '../../src/auth/identity.js';
import { type CompiledPolicy, compilePolicy } from '../../src/auth/policy.js';
import { encryptionContextKeys } from '../../src/core/access.js';

const ACCOUNT = '000000000000';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:shop/web/db-AbCdEf`;
const OTHER_SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:shop/api/db-GhIjKl`;

function roleIdentity(role = 'web', namespace = 'shop', extra: Record<string, unknown> = {}): RoleIdentity {
  const sessionName = `system.serviceaccount.${namespace}.${role}`;
  return {
    kind: 'role',
    role,
    roleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${sessionName}`,
    sessionName,
    subject: `system:serviceaccount:${namespace}:${role}`,
    claims: {
      sub: `system:serviceaccount:${namespace}:${role}`,
      'kubernetes.io': { namespace, serviceaccount: { name: role } },
      ...extra,
    },
    via: 'sts',
    issuedAt: 0,
    expiresAt: 1,
  };
}

const identityPolicy = (...statements: object[]): CompiledPolicy =>
  compilePolicy({ Version: '2012-10-17', Statement: statements }, 'identity', ACCOUNT);
const resourcePolicyDoc = (...statements: object[]): string =>
  JSON.stringify({ Version: '2012-10-17', Statement: statements });

const DEFAULT_KEY_POLICY = resourcePolicyDoc({
  Sid: 'Enable IAM User Permissions',
  Effect: 'Allow',
  Principal: { AWS: ROOT },
  Action: 'kms:*',
  Resource: '*',
});
const keyRequest = (action: string, document = DEFAULT_KEY_POLICY, context?: AccessRequest['context']) => ({
  action,
  resource: KEY,
  resourcePolicy: { document, kind: 'kms-key' as const },
  ...(context && { context }),
});
const secretRequest = (action: string, document?: string, resource = SECRET): AccessRequest => ({
  action,
  resource,
  ...(document && { resourcePolicy: { document, kind: 'secret' as const } }),
});

const ALL_KMS = identityPolicy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' });
const web = roleIdentity();

describe('decide', () => {
  it('always allows the admin, whatever the policies say', () => {
    const denyAll = resourcePolicyDoc({ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' });
    expect(decide(adminIdentity(ACCOUNT), undefined, keyRequest('kms:Decrypt', denyAll), ACCOUNT)).toEqual({
      allowed: true,
      reason: 'admin',
    });
  });

  it('refuses a role with no policy that allows the request (implicit deny)', () => {
    expect(decide(web, undefined, secretRequest('secretsmanager:GetSecretValue'), ACCOUNT)).toEqual({
      allowed: false,
      reason: 'implicit-deny',
    });
    const narrow = identityPolicy({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: SECRET });
    expect(decide(web, narrow, secretRequest('secretsmanager:GetSecretValue'), ACCOUNT).allowed).toBe(true);
    expect(decide(web, narrow, secretRequest('secretsmanager:PutSecretValue'), ACCOUNT).allowed).toBe(false);
    expect(
      decide(web, narrow, secretRequest('secretsmanager:GetSecretValue', undefined, OTHER_SECRET), ACCOUNT),
    ).toEqual({ allowed: false, reason: 'implicit-deny' });
  });

  it('lets an explicit deny in the role policy win over its allow', () => {
    const policy = identityPolicy(
      { Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' },
      { Effect: 'Deny', Action: 'secretsmanager:DeleteSecret', Resource: SECRET },
    );
    expect(decide(web, policy, secretRequest('secretsmanager:DeleteSecret'), ACCOUNT)).toEqual({
      allowed: false,
      reason: 'explicit-deny',
    });
    expect(decide(web, policy, secretRequest('secretsmanager:GetSecretValue'), ACCOUNT).allowed).toBe(true);
  });

  it('lets a deny in the key policy win over the role policy and the key policy allow', () => {
    const keyPolicy = resourcePolicyDoc(
      { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: { AWS: web.roleArn }, Action: 'kms:Decrypt', Resource: '*' },
    );
    expect(decide(web, ALL_KMS, keyRequest('kms:Decrypt', keyPolicy), ACCOUNT)).toEqual({
      allowed: false,
      reason: 'explicit-deny',
    });
    expect(decide(web, ALL_KMS, keyRequest('kms:Encrypt', keyPolicy), ACCOUNT).allowed).toBe(true);
    expect(decide(roleIdentity('api'), ALL_KMS, keyRequest('kms:Decrypt', keyPolicy), ACCOUNT).allowed).toBe(true);
  });

  it('allows a key action when the default key policy delegates to the account and the role policy allows it', () => {
    expect(decide(web, ALL_KMS, keyRequest('kms:Encrypt'), ACCOUNT)).toEqual({ allowed: true, reason: 'allowed' });
    expect(decide(web, undefined, keyRequest('kms:Encrypt'), ACCOUNT).allowed).toBe(false);
  });

  it('ignores role policy allows when the key policy does not delegate to the account', () => {
    const keyPolicy = resourcePolicyDoc({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/api` },
      Action: 'kms:*',
      Resource: '*',
    });
    expect(decide(web, ALL_KMS, keyRequest('kms:Encrypt', keyPolicy), ACCOUNT)).toEqual({
      allowed: false,
      reason: 'implicit-deny',
    });
  });

  it('allows a key action the key policy grants the role ARN directly, without any role policy', () => {
    const keyPolicy = resourcePolicyDoc({
      Effect: 'Allow',
      Principal: { AWS: web.roleArn },
      Action: ['kms:Encrypt', 'kms:Decrypt'],
      Resource: '*',
    });
    expect(decide(web, undefined, keyRequest('kms:Encrypt', keyPolicy), ACCOUNT).allowed).toBe(true);
    expect(decide(web, undefined, keyRequest('kms:ScheduleKeyDeletion', keyPolicy), ACCOUNT).allowed).toBe(false);
    expect(decide(roleIdentity('api'), ALL_KMS, keyRequest('kms:Encrypt', keyPolicy), ACCOUNT).allowed).toBe(false);
  });

  it('allows a key action the key policy grants the assumed-role session ARN directly', () => {
    const keyPolicy = resourcePolicyDoc({
      Effect: 'Allow',
      Principal: { AWS: web.arn },
      Action: 'kms:*',
      Resource: '*',
    });
    expect(decide(web, undefined, keyRequest('kms:Encrypt', keyPolicy), ACCOUNT).allowed).toBe(true);
  });

  it('fails closed on a key policy that cannot be parsed', () => {
    expect(decide(web, ALL_KMS, keyRequest('kms:Encrypt', '{"Statement": ['), ACCOUNT)).toEqual({
      allowed: false,
      reason: 'implicit-deny',
    });
  });

  it('lets the role policy decide for a key that does not exist (no key policy)', () => {
    const missing = { action: 'kms:DescribeKey', resource: KEY };
    expect(decide(web, ALL_KMS, missing, ACCOUNT).allowed).toBe(true);
    expect(decide(web, undefined, missing, ACCOUNT).allowed).toBe(false);
  });

  it('allows a secret read that the secret resource policy grants the role directly', () => {
    const policy = resourcePolicyDoc({
      Effect: 'Allow',
      Principal: { AWS: web.roleArn },
      Action: 'secretsmanager:GetSecretValue',
      Resource: '*',
    });
    expect(decide(web, undefined, secretRequest('secretsmanager:GetSecretValue', policy), ACCOUNT).allowed).toBe(true);
    expect(decide(web, undefined, secretRequest('secretsmanager:DeleteSecret', policy), ACCOUNT).allowed).toBe(false);
    expect(
      decide(roleIdentity('api'), undefined, secretRequest('secretsmanager:GetSecretValue', policy), ACCOUNT).allowed,
    ).toBe(false);
  });

  it('does not let a secret resource policy that names only the account grant anything by itself', () => {
    const policy = resourcePolicyDoc({ Effect: 'Allow', Principal: { AWS: ROOT }, Action: '*', Resource: '*' });
    expect(decide(web, undefined, secretRequest('secretsmanager:GetSecretValue', policy), ACCOUNT).allowed).toBe(false);
  });

  it('lets a deny in the secret resource policy win over the role policy', () => {
    const roleAllows = identityPolicy({ Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' });
    const policy = resourcePolicyDoc({
      Effect: 'Deny',
      Principal: { AWS: web.roleArn },
      Action: 'secretsmanager:GetSecretValue',
      Resource: '*',
    });
    expect(decide(web, roleAllows, secretRequest('secretsmanager:GetSecretValue', policy), ACCOUNT)).toEqual({
      allowed: false,
      reason: 'explicit-deny',
    });
    expect(decide(web, roleAllows, secretRequest('secretsmanager:DescribeSecret', policy), ACCOUNT).allowed).toBe(true);
  });

  describe('encryption context conditions', () => {
    const tenantPolicy = identityPolicy({
      Effect: 'Allow',
      Action: ['kms:Encrypt', 'kms:Decrypt'],
      Resource: KEY,
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:kubernetes.io.namespace}' } },
    });
    const withContext = (action: string, ec?: Record<string, string>) =>
      keyRequest(action, DEFAULT_KEY_POLICY, encryptionContextKeys(ec));

    it('allows only a context whose tenant is the caller namespace claim', () => {
      expect(decide(web, tenantPolicy, withContext('kms:Encrypt', { tenant: 'shop' }), ACCOUNT).allowed).toBe(true);
      expect(decide(web, tenantPolicy, withContext('kms:Decrypt', { tenant: 'shop' }), ACCOUNT).allowed).toBe(true);
      expect(decide(web, tenantPolicy, withContext('kms:Encrypt', { tenant: 'api' }), ACCOUNT).allowed).toBe(false);
      expect(decide(web, tenantPolicy, withContext('kms:Encrypt'), ACCOUNT).allowed).toBe(false);
      expect(
        decide(roleIdentity('web', 'api'), tenantPolicy, withContext('kms:Encrypt', { tenant: 'api' }), ACCOUNT),
      ).toEqual({ allowed: true, reason: 'allowed' });
    });

    it('compares the context value literally, so a claim of * matches only a tenant of *', () => {
      const star = roleIdentity('web', '*');
      expect(decide(star, tenantPolicy, withContext('kms:Encrypt', { tenant: 'shop' }), ACCOUNT).allowed).toBe(false);
      expect(decide(star, tenantPolicy, withContext('kms:Encrypt', { tenant: '*' }), ACCOUNT).allowed).toBe(true);
    });

    it('keeps the case of encryption context keys', () => {
      expect(decide(web, tenantPolicy, withContext('kms:Encrypt', { Tenant: 'shop' }), ACCOUNT).allowed).toBe(false);
    });

    it('restricts the context keys with ForAllValues:StringEquals on kms:EncryptionContextKeys', () => {
      const policy = identityPolicy({
        Effect: 'Allow',
        Action: 'kms:Encrypt',
        Resource: '*',
        Condition: {
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'purpose'] },
          Null: { 'kms:EncryptionContextKeys': 'false' },
        },
      });
      const ok = withContext('kms:Encrypt', { tenant: 'shop', purpose: 'db' });
      expect(decide(web, policy, ok, ACCOUNT).allowed).toBe(true);
      expect(decide(web, policy, withContext('kms:Encrypt', { tenant: 'shop', extra: 'x' }), ACCOUNT).allowed).toBe(
        false,
      );
      expect(decide(web, policy, withContext('kms:Encrypt', {}), ACCOUNT).allowed).toBe(false);
      expect(decide(web, policy, withContext('kms:Encrypt'), ACCOUNT).allowed).toBe(false);
    });

    it('a condition key named like an Object member ("constructor", "toString") is absent, not inherited', () => {
      for (const key of ['constructor', 'toString', '__proto__']) {
        const policy = identityPolicy({
          Effect: 'Allow',
          Action: 'kms:Encrypt',
          Resource: '*',
          Condition: { Null: { [key]: 'false' } },
        });
        expect(decide(web, policy, withContext('kms:Encrypt', { tenant: 'shop' }), ACCOUNT).allowed).toBe(false);
      }
    });
  });

  describe('identity condition keys', () => {
    it('matches jwt:kubernetes.io.namespace against the caller claims', () => {
      const policy = identityPolicy({
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: '*',
        Condition: { StringEquals: { 'jwt:kubernetes.io.namespace': 'shop' } },
      });
      const req = secretRequest('secretsmanager:GetSecretValue');
      expect(decide(web, policy, req, ACCOUNT).allowed).toBe(true);
      expect(decide(roleIdentity('web', 'api'), policy, req, ACCOUNT).allowed).toBe(false);
    });

    it('substitutes ${jwt:...} and ${keysafe:RoleName} in Resource from the caller identity', () => {
      const policy = identityPolicy({
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: 'arn:aws:secretsmanager:*:*:secret:${jwt:kubernetes.io.namespace}/${keysafe:RoleName}/*',
      });
      const req = secretRequest('secretsmanager:GetSecretValue');
      expect(decide(web, policy, req, ACCOUNT).allowed).toBe(true);
      expect(decide(roleIdentity('api'), policy, req, ACCOUNT).allowed).toBe(false);
      expect(decide(roleIdentity('web', 'api'), policy, req, ACCOUNT).allowed).toBe(false);
      expect(decide(roleIdentity('web', '*'), policy, req, ACCOUNT).allowed).toBe(false);
    });

    it('answers aws:PrincipalArn, keysafe:Subject, jwt:sub and list claims', () => {
      const policy = identityPolicy({
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:PrincipalArn': web.roleArn, 'jwt:sub': 'system:serviceaccount:shop:web' },
          StringLike: { 'keysafe:Subject': 'system:serviceaccount:shop:*' },
          'ForAnyValue:StringEquals': { 'jwt:groups': 'payments' },
        },
      });
      const req = secretRequest('secretsmanager:GetSecretValue');
      const member = roleIdentity('web', 'shop', { groups: ['payments', 'dev'] });
      expect(decide(member, policy, req, ACCOUNT).allowed).toBe(true);
      expect(decide(roleIdentity('web', 'shop', { groups: ['dev'] }), policy, req, ACCOUNT).allowed).toBe(false);
      expect(decide(web, policy, req, ACCOUNT).allowed).toBe(false);
    });

    it('answers secretsmanager:VersionStage from the request context', () => {
      const policy = identityPolicy({
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: '*',
        Condition: { StringEquals: { 'secretsmanager:VersionStage': 'AWSCURRENT' } },
      });
      const req = (stage: string) => ({
        ...secretRequest('secretsmanager:GetSecretValue'),
        context: { 'secretsmanager:versionstage': stage },
      });
      expect(decide(web, policy, req('AWSCURRENT'), ACCOUNT).allowed).toBe(true);
      expect(decide(web, policy, req('AWSPREVIOUS'), ACCOUNT).allowed).toBe(false);
    });
  });
});
