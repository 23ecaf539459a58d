// IAM policy grammar and evaluation: globs, NotAction/NotResource, Principal, every condition operator, variables, malformed documents.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are ${…} in plain strings.
import { describe, expect, it } from 'vitest';
import { compileGlobs, globMatches, substitute, type VariableLookup } from '../../src/auth/glob.js';
import {
  type CompiledPolicy,
  compilePolicy,
  evaluatePolicy,
  type PolicyKind,
  type PolicyVerdict,
  policyProblems,
} from '../../src/auth/policy.js';
import { AppError } from '../../src/core/errors.js';

const ACCOUNT = '000000000000';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/web`;
const SESSION_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/web/system.serviceaccount.shop.web`;
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:shop/web/db-AbCdEf`;
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

type Keys = Record<string, string | readonly string[]>;

/** Case-insensitive key names, as the authorizer looks them up. */
const lookupOf =
  (keys: Keys): VariableLookup =>
  (name) => {
    const hit = Object.entries(keys).find(([k]) => k.toLowerCase() === name.toLowerCase());
    return hit?.[1];
  };

/** An Allow statement; Action and Resource default to * unless NotAction / NotResource is given. */
const statement = (s: Record<string, unknown>) => ({
  Effect: 'Allow',
  ...(s.NotAction === undefined && { Action: '*' }),
  ...(s.NotResource === undefined && { Resource: '*' }),
  ...s,
});
const doc = (...statements: Record<string, unknown>[]) => ({
  Version: '2012-10-17',
  Statement: statements.map(statement),
});

function verdictOf(
  policy: CompiledPolicy,
  action: string,
  resource: string,
  keys: Keys = {},
  principals: readonly string[] = [ROLE_ARN, SESSION_ARN],
): PolicyVerdict {
  return evaluatePolicy(policy, { action, resource, principals, lookup: lookupOf(keys) });
}

/** True when a one-document identity policy allows the request and does not deny it. */
function allows(policyDoc: object, action: string, resource: string, keys: Keys = {}): boolean {
  const v = verdictOf(compilePolicy(policyDoc, 'identity', ACCOUNT), action, resource, keys);
  return v.allow && !v.deny;
}

/** An Allow * on * with one condition block. */
const when = (condition: Record<string, unknown>) => doc({ Condition: condition });

function malformed(document: unknown, kind: PolicyKind = 'identity'): string {
  try {
    compilePolicy(typeof document === 'string' ? document : (document as object), kind, ACCOUNT);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('MalformedPolicyDocumentException');
    return (e as AppError).message;
  }
  throw new Error('expected MalformedPolicyDocumentException');
}

describe('globs', () => {
  it('matches * as any run of characters, including none and across colons and slashes', () => {
    const g = compileGlobs(['arn:aws:secretsmanager:*:*:secret:shop/*'], false);
    const none = lookupOf({});
    expect(g.test(SECRET, none)).toBe(true);
    expect(g.test('arn:aws:secretsmanager:us-east-1:1:secret:shop/', none)).toBe(true);
    expect(g.test('arn:aws:secretsmanager:us-east-1:1:secret:shopx/db', none)).toBe(false);
  });

  it('matches ? as exactly one character', () => {
    const g = compileGlobs(['key-?'], false);
    expect(g.test('key-1', lookupOf({}))).toBe(true);
    expect(g.test('key-', lookupOf({}))).toBe(false);
    expect(g.test('key-12', lookupOf({}))).toBe(false);
  });

  it('anchors patterns at both ends', () => {
    const g = compileGlobs(['shop/web'], false);
    expect(g.test('shop/web', lookupOf({}))).toBe(true);
    expect(g.test('xshop/web', lookupOf({}))).toBe(false);
    expect(g.test('shop/webx', lookupOf({}))).toBe(false);
  });

  it('treats regular-expression metacharacters in patterns as literal text', () => {
    const g = compileGlobs(['a.b+c(d)|[e]^$\\{f}'], false);
    expect(g.test('a.b+c(d)|[e]^$\\{f}', lookupOf({}))).toBe(true);
    expect(g.test('aXb+c(d)|[e]^$\\{f}', lookupOf({}))).toBe(false);
    expect(g.test('a.bbc(d)|[e]^$\\{f}', lookupOf({}))).toBe(false);
    expect(globMatches('system:serviceaccount:a.b:*', 'system:serviceaccount:aXb:web')).toBe(false);
    expect(globMatches('system:serviceaccount:a.b:*', 'system:serviceaccount:a.b:web')).toBe(true);
  });

  it('is case-sensitive unless asked otherwise', () => {
    expect(compileGlobs(['Shop/*'], false).test('shop/db', lookupOf({}))).toBe(false);
    expect(compileGlobs(['Shop/*'], true).test('shop/db', lookupOf({}))).toBe(true);
  });

  it('ORs a list of patterns', () => {
    const g = compileGlobs(['a/*', 'b/?'], false);
    expect(g.test('a/x', lookupOf({}))).toBe(true);
    expect(g.test('b/y', lookupOf({}))).toBe(true);
    expect(g.test('c/z', lookupOf({}))).toBe(false);
  });

  it('substitutes a variable as literal text, so a * or ? in its value is not a wildcard', () => {
    const g = compileGlobs(['secret:${jwt:ns}/*'], false);
    expect(g.test('secret:shop/db', lookupOf({ 'jwt:ns': 'shop' }))).toBe(true);
    expect(g.test('secret:api/db', lookupOf({ 'jwt:ns': 'shop' }))).toBe(false);
    expect(g.test('secret:api/db', lookupOf({ 'jwt:ns': '*' }))).toBe(false);
    expect(g.test('secret:*/db', lookupOf({ 'jwt:ns': '*' }))).toBe(true);
    expect(g.test('secret:a/db', lookupOf({ 'jwt:ns': '?' }))).toBe(false);
    expect(g.test('secret:a.b/db', lookupOf({ 'jwt:ns': 'a.b' }))).toBe(true);
    expect(g.test('secret:aXb/db', lookupOf({ 'jwt:ns': 'a.b' }))).toBe(false);
  });

  it('matches nothing when a variable is missing or multi-valued', () => {
    const g = compileGlobs(['secret:${jwt:ns}/*'], false);
    expect(g.test('secret:/db', lookupOf({}))).toBe(false);
    expect(g.test('secret:shop/db', lookupOf({ 'jwt:ns': ['shop', 'api'] }))).toBe(false);
  });

  it('reads ${*}, ${?} and ${$} as the literal characters', () => {
    const g = compileGlobs(['a${*}b${?}c${$}'], false);
    expect(g.test('a*b?c$', lookupOf({}))).toBe(true);
    expect(g.test('aXXbYc$', lookupOf({}))).toBe(false);
    expect(substitute('x-${*}-${jwt:sub}', lookupOf({ 'jwt:sub': 'me' }))).toBe('x-*-me');
    expect(substitute('x-${jwt:sub}', lookupOf({}))).toBeUndefined();
  });
});

describe('Action and Resource', () => {
  it('matches actions case-insensitively and with wildcards', () => {
    const p = doc({ Action: ['kms:Encrypt', 'secretsmanager:Get*'], Resource: '*' });
    expect(allows(p, 'kms:Encrypt', KEY)).toBe(true);
    expect(allows(p, 'KMS:encrypt', KEY)).toBe(true);
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
    expect(allows(p, 'secretsmanager:PutSecretValue', SECRET)).toBe(false);
    expect(allows(p, 'kms:Decrypt', KEY)).toBe(false);
  });

  it('matches resource ARNs case-sensitively', () => {
    const p = doc({ Resource: 'arn:aws:secretsmanager:*:*:secret:shop/web/*' });
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET.replace('shop/web', 'Shop/Web'))).toBe(false);
  });

  it('applies NotAction to every action but the listed ones', () => {
    const p = doc({ NotAction: ['kms:ScheduleKey*', 'kms:Disable*'] });
    expect(allows(p, 'kms:Encrypt', KEY)).toBe(true);
    expect(allows(p, 'kms:ScheduleKeyDeletion', KEY)).toBe(false);
    expect(allows(p, 'KMS:disablekey', KEY)).toBe(false);
  });

  it('applies NotResource to every resource but the listed ones', () => {
    const p = doc({ Action: 'secretsmanager:*', NotResource: 'arn:aws:secretsmanager:*:*:secret:shop/admin/*' });
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET.replace('shop/web', 'shop/admin'))).toBe(false);
  });

  it('reports an explicit deny beside an allow, and nothing for an unrelated request', () => {
    const p = compilePolicy(
      doc({}, { Effect: 'Deny', Action: 'kms:ScheduleKeyDeletion', Resource: KEY }),
      'identity',
      ACCOUNT,
    );
    // Deny wins: once one matches, the allows are not looked at.
    expect(verdictOf(p, 'kms:ScheduleKeyDeletion', KEY)).toEqual({ deny: true, allow: false, delegated: false });
    expect(verdictOf(p, 'kms:Encrypt', KEY)).toEqual({ deny: false, allow: true, delegated: false });
    const narrow = compilePolicy(doc({ Action: 'kms:Encrypt' }), 'identity', ACCOUNT);
    expect(verdictOf(narrow, 'kms:Decrypt', KEY)).toEqual({ deny: false, allow: false, delegated: false });
  });

  it('substitutes policy variables in Resource', () => {
    const p = doc({
      Resource: 'arn:aws:secretsmanager:*:*:secret:${jwt:kubernetes.io.namespace}/${keysafe:RoleName}/*',
    });
    const keys = { 'jwt:kubernetes.io.namespace': 'shop', 'keysafe:RoleName': 'web' };
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET, keys)).toBe(true);
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET, { ...keys, 'keysafe:RoleName': 'api' })).toBe(false);
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET, { 'keysafe:RoleName': 'web' })).toBe(false);
  });

  it('never lets a claim containing * widen a Resource', () => {
    const p = doc({ Resource: 'arn:aws:secretsmanager:*:*:secret:${jwt:kubernetes.io.namespace}/*' });
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET, { 'jwt:kubernetes.io.namespace': '*' })).toBe(false);
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET, { 'jwt:kubernetes.io.namespace': 'sh*' })).toBe(false);
    expect(allows(p, 'secretsmanager:GetSecretValue', SECRET, { 'jwt:kubernetes.io.namespace': 'sho?' })).toBe(false);
  });
});

describe('Principal in resource policies', () => {
  const resource = (principal: unknown, effect = 'Allow') =>
    compilePolicy(
      { Version: '2012-10-17', Statement: [{ Effect: effect, Principal: principal, Action: 'kms:*', Resource: '*' }] },
      'resource',
      ACCOUNT,
    );

  it('allows a role named directly, by its role ARN or its assumed-role session ARN', () => {
    expect(verdictOf(resource({ AWS: ROLE_ARN }), 'kms:Encrypt', KEY).allow).toBe(true);
    expect(verdictOf(resource({ AWS: [SESSION_ARN] }), 'kms:Encrypt', KEY).allow).toBe(true);
    const other = resource({ AWS: `arn:aws:iam::${ACCOUNT}:role/api` });
    expect(verdictOf(other, 'kms:Encrypt', KEY)).toEqual({ deny: false, allow: false, delegated: false });
  });

  it('delegates to IAM when it names the account root or the bare account id', () => {
    for (const p of [{ AWS: `arn:aws:iam::${ACCOUNT}:root` }, { AWS: ACCOUNT }]) {
      expect(verdictOf(resource(p), 'kms:Encrypt', KEY)).toEqual({ deny: false, allow: false, delegated: true });
    }
  });

  it('allows a role listed beside the account root directly', () => {
    const p = resource({ AWS: [`arn:aws:iam::${ACCOUNT}:root`, ROLE_ARN] });
    expect(verdictOf(p, 'kms:Encrypt', KEY).allow).toBe(true);
    const api = verdictOf(p, 'kms:Encrypt', KEY, {}, [`arn:aws:iam::${ACCOUNT}:role/api`]);
    expect(api).toEqual({ deny: false, allow: false, delegated: true });
  });

  it('allows everyone with "*" and with {"AWS": "*"}', () => {
    expect(verdictOf(resource('*'), 'kms:Encrypt', KEY, {}, ['arn:anyone']).allow).toBe(true);
    expect(verdictOf(resource({ AWS: '*' }), 'kms:Encrypt', KEY, {}, ['arn:anyone']).allow).toBe(true);
  });

  it('denies every principal of the account when a Deny names the account root', () => {
    expect(verdictOf(resource({ AWS: ACCOUNT }, 'Deny'), 'kms:Encrypt', KEY).deny).toBe(true);
  });

  it('never matches a Service or Federated principal', () => {
    expect(verdictOf(resource({ Service: 'lambda.amazonaws.com' }), 'kms:Encrypt', KEY).allow).toBe(false);
  });
});

describe('condition operators', () => {
  const ns = { 'jwt:kubernetes.io.namespace': 'shop' };

  it('StringEquals and StringNotEquals compare exactly and case-sensitively, any listed value', () => {
    expect(allows(when({ StringEquals: { 'jwt:kubernetes.io.namespace': ['api', 'shop'] } }), 'a:b', '*', ns)).toBe(
      true,
    );
    expect(allows(when({ StringEquals: { 'jwt:kubernetes.io.namespace': 'Shop' } }), 'a:b', '*', ns)).toBe(false);
    expect(allows(when({ StringNotEquals: { 'jwt:kubernetes.io.namespace': 'api' } }), 'a:b', '*', ns)).toBe(true);
    expect(allows(when({ StringNotEquals: { 'jwt:kubernetes.io.namespace': ['api', 'shop'] } }), 'a:b', '*', ns)).toBe(
      false,
    );
  });

  it('reads condition key names case-insensitively', () => {
    expect(allows(when({ StringEquals: { 'JWT:Kubernetes.IO.Namespace': 'shop' } }), 'a:b', '*', ns)).toBe(true);
  });

  it('StringEqualsIgnoreCase and StringNotEqualsIgnoreCase ignore case', () => {
    expect(allows(when({ StringEqualsIgnoreCase: { 'jwt:kubernetes.io.namespace': 'SHOP' } }), 'a:b', '*', ns)).toBe(
      true,
    );
    expect(allows(when({ StringNotEqualsIgnoreCase: { 'jwt:kubernetes.io.namespace': 'SHOP' } }), 'a:b', '*', ns)).toBe(
      false,
    );
    expect(allows(when({ StringNotEqualsIgnoreCase: { 'jwt:kubernetes.io.namespace': 'API' } }), 'a:b', '*', ns)).toBe(
      true,
    );
  });

  it('StringLike and StringNotLike use * and ? globs, case-sensitively', () => {
    const sub = { 'keysafe:Subject': 'system:serviceaccount:shop:web' };
    expect(allows(when({ StringLike: { 'keysafe:Subject': 'system:serviceaccount:shop:*' } }), 'a:b', '*', sub)).toBe(
      true,
    );
    expect(allows(when({ StringLike: { 'keysafe:Subject': 'system:serviceaccount:sho?:w?b' } }), 'a:b', '*', sub)).toBe(
      true,
    );
    expect(allows(when({ StringLike: { 'keysafe:Subject': 'system:serviceaccount:SHOP:*' } }), 'a:b', '*', sub)).toBe(
      false,
    );
    expect(allows(when({ StringNotLike: { 'keysafe:Subject': '*:api:*' } }), 'a:b', '*', sub)).toBe(true);
    expect(allows(when({ StringNotLike: { 'keysafe:Subject': '*:shop:*' } }), 'a:b', '*', sub)).toBe(false);
  });

  it('StringLike treats regular-expression metacharacters as literal', () => {
    expect(allows(when({ StringLike: { 'jwt:x': 'a.c' } }), 'a:b', '*', { 'jwt:x': 'abc' })).toBe(false);
    expect(allows(when({ StringLike: { 'jwt:x': 'a.c' } }), 'a:b', '*', { 'jwt:x': 'a.c' })).toBe(true);
  });

  it('Bool compares true and false, given as strings in any case or as JSON booleans', () => {
    const on = { 'jwt:admin': 'true' };
    expect(allows(when({ Bool: { 'jwt:admin': 'true' } }), 'a:b', '*', on)).toBe(true);
    expect(allows(when({ Bool: { 'jwt:admin': true } }), 'a:b', '*', on)).toBe(true);
    expect(allows(when({ Bool: { 'jwt:admin': 'True' } }), 'a:b', '*', on)).toBe(true);
    expect(allows(when({ Bool: { 'jwt:admin': false } }), 'a:b', '*', on)).toBe(false);
    expect(allows(when({ Bool: { 'jwt:admin': 'true' } }), 'a:b', '*', { 'jwt:admin': 'TRUE' })).toBe(true);
    expect(allows(when({ Bool: { 'jwt:admin': 'true' } }), 'a:b', '*', {})).toBe(false);
  });

  it('Null tests whether a key is absent (true) or present (false)', () => {
    expect(allows(when({ Null: { 'jwt:team': 'true' } }), 'a:b', '*', {})).toBe(true);
    expect(allows(when({ Null: { 'jwt:team': 'true' } }), 'a:b', '*', { 'jwt:team': 'x' })).toBe(false);
    expect(allows(when({ Null: { 'jwt:team': false } }), 'a:b', '*', { 'jwt:team': 'x' })).toBe(true);
    expect(allows(when({ Null: { 'jwt:team': 'false' } }), 'a:b', '*', {})).toBe(false);
  });

  it('Null counts an empty multi-valued key (no encryption context) as absent', () => {
    const required = when({ Null: { 'kms:EncryptionContextKeys': 'false' } });
    expect(allows(required, 'kms:Encrypt', KEY, { 'kms:EncryptionContextKeys': [] })).toBe(false);
    expect(allows(required, 'kms:Encrypt', KEY, { 'kms:EncryptionContextKeys': ['tenant'] })).toBe(true);
  });

  it('fails a positive operator on a missing key and passes a negated one, as IAM does', () => {
    for (const op of ['StringEquals', 'StringEqualsIgnoreCase', 'StringLike', 'Bool']) {
      expect(allows(when({ [op]: { 'jwt:missing': 'x' } }), 'a:b', '*', {}), op).toBe(false);
    }
    for (const op of ['StringNotEquals', 'StringNotEqualsIgnoreCase', 'StringNotLike']) {
      expect(allows(when({ [op]: { 'jwt:missing': 'x' } }), 'a:b', '*', {}), op).toBe(true);
    }
  });

  it('IfExists passes when the key is missing and tests it when present', () => {
    for (const op of ['StringEqualsIfExists', 'StringLikeIfExists', 'BoolIfExists', 'StringEqualsIgnoreCaseIfExists']) {
      expect(allows(when({ [op]: { 'jwt:team': 'blue' } }), 'a:b', '*', {}), op).toBe(true);
      expect(allows(when({ [op]: { 'jwt:team': 'blue' } }), 'a:b', '*', { 'jwt:team': 'red' }), op).toBe(false);
    }
    expect(allows(when({ StringEqualsIfExists: { 'jwt:team': 'blue' } }), 'a:b', '*', { 'jwt:team': 'blue' })).toBe(
      true,
    );
    expect(allows(when({ StringNotEqualsIfExists: { 'jwt:team': 'blue' } }), 'a:b', '*', { 'jwt:team': 'blue' })).toBe(
      false,
    );
  });

  it('ForAnyValue passes when at least one request value matches, and fails on a missing key', () => {
    const groups = { 'jwt:groups': ['dev', 'ops'] };
    expect(allows(when({ 'ForAnyValue:StringEquals': { 'jwt:groups': 'ops' } }), 'a:b', '*', groups)).toBe(true);
    expect(allows(when({ 'ForAnyValue:StringEquals': { 'jwt:groups': 'sec' } }), 'a:b', '*', groups)).toBe(false);
    expect(allows(when({ 'ForAnyValue:StringLike': { 'jwt:groups': 'o*' } }), 'a:b', '*', groups)).toBe(true);
    expect(allows(when({ 'ForAnyValue:StringEquals': { 'jwt:groups': 'ops' } }), 'a:b', '*', {})).toBe(false);
    expect(
      allows(when({ 'ForAnyValue:StringEquals': { 'jwt:groups': 'ops' } }), 'a:b', '*', { 'jwt:groups': [] }),
    ).toBe(false);
  });

  it('ForAnyValue with a negated operator passes when at least one request value matches none', () => {
    const groups = { 'jwt:groups': ['dev', 'ops'] };
    expect(allows(when({ 'ForAnyValue:StringNotEquals': { 'jwt:groups': 'ops' } }), 'a:b', '*', groups)).toBe(true);
    expect(allows(when({ 'ForAnyValue:StringNotEquals': { 'jwt:groups': ['dev', 'ops'] } }), 'a:b', '*', groups)).toBe(
      false,
    );
    expect(allows(when({ 'ForAnyValue:StringNotLike': { 'jwt:groups': 'd*' } }), 'a:b', '*', groups)).toBe(true);
    expect(allows(when({ 'ForAnyValue:StringNotEquals': { 'jwt:groups': 'ops' } }), 'a:b', '*', {})).toBe(false);
  });

  it('ForAllValues passes when every request value matches, and vacuously on a missing or empty key', () => {
    const keysOf = (...k: string[]) => ({ 'kms:EncryptionContextKeys': k });
    const p = when({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'purpose'] } });
    expect(allows(p, 'kms:Encrypt', KEY, keysOf('tenant'))).toBe(true);
    expect(allows(p, 'kms:Encrypt', KEY, keysOf('tenant', 'purpose'))).toBe(true);
    expect(allows(p, 'kms:Encrypt', KEY, keysOf('tenant', 'other'))).toBe(false);
    expect(allows(p, 'kms:Encrypt', KEY, keysOf())).toBe(true);
    expect(allows(p, 'kms:Encrypt', KEY, {})).toBe(true);
    const not = when({ 'ForAllValues:StringNotLike': { 'kms:EncryptionContextKeys': 'secret*' } });
    expect(allows(not, 'kms:Encrypt', KEY, keysOf('tenant'))).toBe(true);
    expect(allows(not, 'kms:Encrypt', KEY, keysOf('tenant', 'secretKey'))).toBe(false);
  });

  it('ANDs keys and operators and ORs the values of one key', () => {
    const p = when({
      StringEquals: { 'jwt:kubernetes.io.namespace': ['shop', 'api'], 'keysafe:RoleName': 'web' },
      StringLike: { 'keysafe:Subject': '*:web' },
    });
    const keys = { ...ns, 'keysafe:RoleName': 'web', 'keysafe:Subject': 'system:serviceaccount:shop:web' };
    expect(allows(p, 'a:b', '*', keys)).toBe(true);
    expect(allows(p, 'a:b', '*', { ...keys, 'keysafe:RoleName': 'api' })).toBe(false);
    expect(allows(p, 'a:b', '*', { ...keys, 'keysafe:Subject': 'system:serviceaccount:shop:api' })).toBe(false);
  });

  it('substitutes policy variables in condition values as literal text', () => {
    const tenant = when({ StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:kubernetes.io.namespace}' } });
    expect(allows(tenant, 'kms:Encrypt', KEY, { ...ns, 'kms:EncryptionContext:tenant': 'shop' })).toBe(true);
    expect(allows(tenant, 'kms:Encrypt', KEY, { ...ns, 'kms:EncryptionContext:tenant': 'api' })).toBe(false);
    expect(allows(tenant, 'kms:Encrypt', KEY, { 'kms:EncryptionContext:tenant': 'shop' })).toBe(false);
    const like = when({ StringLike: { 'kms:EncryptionContext:tenant': '${jwt:kubernetes.io.namespace}-*' } });
    expect(allows(like, 'kms:Encrypt', KEY, { ...ns, 'kms:EncryptionContext:tenant': 'shop-eu' })).toBe(true);
    expect(allows(like, 'kms:Encrypt', KEY, { ...ns, 'kms:EncryptionContext:tenant': 'api-eu' })).toBe(false);
  });

  it('never lets a claim containing * act as a wildcard in a StringLike value', () => {
    const like = when({ StringLike: { 'kms:EncryptionContext:tenant': '${jwt:kubernetes.io.namespace}' } });
    const star = { 'jwt:kubernetes.io.namespace': '*' };
    expect(allows(like, 'kms:Encrypt', KEY, { ...star, 'kms:EncryptionContext:tenant': 'shop' })).toBe(false);
    expect(allows(like, 'kms:Encrypt', KEY, { ...star, 'kms:EncryptionContext:tenant': '*' })).toBe(true);
  });
});

describe('malformed documents', () => {
  it('refuses text that is not JSON', () => {
    expect(malformed('{"Statement": [')).toMatch(/not valid JSON/);
  });

  it('refuses a document that is not an object or has no statement', () => {
    expect(malformed('[]')).toMatch(/JSON object/);
    expect(malformed({ Version: '2012-10-17' })).toMatch(/no Statement/);
    expect(malformed({ Version: '2012-10-17', Statement: [] })).toMatch(/no Statement/);
  });

  it('names an unknown top-level element and an unknown statement element', () => {
    expect(malformed({ Version: '2012-10-17', Statment: [] })).toMatch(/Unknown policy element Statment/);
    expect(malformed(doc({ Actions: 'kms:Encrypt' }))).toMatch(/Statement 0: unsupported element Actions/);
  });

  it('refuses an unknown Version', () => {
    expect(malformed({ Version: '2020-01-01', Statement: [statement({})] })).toMatch(/Version/);
  });

  it('names a bad Effect', () => {
    expect(malformed(doc({ Effect: 'allow' }))).toMatch(/Statement 0: Effect must be Allow or Deny/);
    expect(malformed({ Statement: [{ Action: '*', Resource: '*' }] })).toMatch(/Effect/);
  });

  it('names an Action that is not service:Action, without echoing more than a bounded prefix', () => {
    expect(malformed(doc({ Action: 'Encrypt' }))).toMatch(/Action "Encrypt" is not service:Action/);
    expect(malformed(doc({ Action: 'kms:Encrypt*Or.Decrypt' }))).toMatch(/is not service:Action/);
    const long = `kms:${'x'.repeat(500)}!`;
    expect(malformed(doc({ Action: long })).length).toBeLessThan(250);
  });

  it('needs exactly one of Action and NotAction and at most one of Resource and NotResource', () => {
    expect(malformed({ Statement: [{ Effect: 'Allow', Resource: '*' }] })).toMatch(
      /exactly one of Action and NotAction/,
    );
    expect(malformed(doc({ Action: '*', NotAction: 'kms:Encrypt' }))).toMatch(/exactly one of Action and NotAction/);
    expect(malformed(doc({ Resource: '*', NotResource: 'x' }))).toMatch(/at most one of Resource and NotResource/);
  });

  it('refuses empty or non-string Action and Resource lists', () => {
    expect(malformed(doc({ Action: [] }))).toMatch(/Action must be a non-empty string/);
    expect(malformed(doc({ Resource: [''] }))).toMatch(/Resource must be a non-empty string/);
    expect(malformed(doc({ Resource: [42] }))).toMatch(/Resource must be/);
  });

  it('refuses a Principal in an identity policy and a missing Resource there', () => {
    expect(malformed(doc({ Principal: '*' }))).toMatch(/identity policy has no Principal/);
    expect(malformed({ Statement: [{ Effect: 'Allow', Action: '*' }] })).toMatch(/Resource is missing/);
  });

  it('refuses a resource policy statement without Principal, and a bad Principal', () => {
    expect(malformed(doc({}), 'resource')).toMatch(/Statement 0: Principal is missing/);
    expect(malformed(doc({ Principal: 'someone' }), 'resource')).toMatch(/Principal must be/);
    expect(malformed(doc({ Principal: { CanonicalUser: 'x' } }), 'resource')).toMatch(/unsupported principal/);
  });

  it('names an unsupported condition operator, including names of Object.prototype members', () => {
    expect(malformed(when({ NumericLessThan: { 'jwt:n': '3' } }))).toMatch(
      /unsupported condition operator NumericLessThan/,
    );
    expect(malformed(when({ constructor: { 'jwt:n': '3' } }))).toMatch(/unsupported condition operator constructor/);
    expect(malformed(when({ toString: { 'jwt:n': '3' } }))).toMatch(/unsupported condition operator toString/);
    expect(malformed(when({ 'ForAnyValue:hasOwnProperty': { 'jwt:n': '3' } }))).toMatch(/unsupported condition/);
  });

  it('refuses conditions that are not objects or have non-string values', () => {
    expect(malformed(when('x' as unknown as Record<string, unknown>))).toMatch(/Condition must be an object/);
    expect(malformed(when({ StringEquals: 'x' }))).toMatch(/Condition StringEquals must map keys to values/);
    expect(malformed(when({ StringEquals: { 'jwt:n': 3 } }))).toMatch(/needs string values/);
    expect(malformed(when({ StringEquals: { 'jwt:n': [] } }))).toMatch(/needs string values/);
  });

  it('names the statement at fault by position', () => {
    expect(malformed(doc({}, { Effect: 'Maybe' }))).toMatch(/^Statement 1: /);
  });

  it('lists problems for ValidateResourcePolicy-style answers, none for a valid document', () => {
    expect(policyProblems(JSON.stringify(doc({ Principal: '*' })), 'resource', ACCOUNT)).toEqual([]);
    expect(policyProblems(JSON.stringify(doc({})), 'resource', ACCOUNT)).toEqual([
      'Statement 0: Principal is missing.',
    ]);
  });

  it('accepts a single statement object, string lists as strings, and the 2008 version', () => {
    const p = compilePolicy(
      { Version: '2008-10-17', Statement: { Effect: 'Allow', Action: 'kms:Encrypt', Resource: KEY } },
      'identity',
      ACCOUNT,
    );
    expect(verdictOf(p, 'kms:Encrypt', KEY).allow).toBe(true);
  });
});
