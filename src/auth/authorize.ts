// The access decision for one request: identity policy, resource policy, explicit deny wins. Pure.
//
// Evaluation order (documented in the README):
//  1. The admin may do anything.
//  2. A Deny in the role's policy or in the resource's policy (key policy, secret resource
//     policy) that matches the request refuses it.
//  3. KMS keys: allowed when the key policy allows the caller directly, or when it allows the
//     account (`arn:aws:iam::<account>:root`, as the default key policy does) and the role's
//     policy allows it too: AWS's key policy model.
//  4. Secrets and everything else: allowed when the role's policy allows it, or the secret's
//     resource policy allows the caller directly.
//  5. KMS keys the policies do not allow: allowed when a grant on the key allows it (grants.ts).
//     No grant lifts an explicit deny (step 2), as in AWS.
//  6. Otherwise refused (implicit deny). A policy that cannot be parsed allows nothing.
import type { AccessCheck } from '../core/access.js';
import { ownValue } from '../core/records.js';
import type { VariableLookup } from './glob.js';
import { grantsAllow } from './grants.js';
import { claimAt, claimValues, type Identity } from './identity.js';
import { type CompiledPolicy, compilePolicy, evaluatePolicy, type PolicyVerdict } from './policy.js';

/** What is asked: the Access port's check (action, resource, its policy, request condition keys). */
export type AccessRequest = AccessCheck;

export interface Decision {
  allowed: boolean;
  reason: 'admin' | 'allowed' | 'grant' | 'explicit-deny' | 'implicit-deny';
}

const NONE: PolicyVerdict = { deny: false, allow: false, delegated: false };

export function decide(
  identity: Identity,
  rolePolicy: CompiledPolicy | undefined,
  req: AccessRequest,
  accountId: string,
): Decision {
  if (identity.kind === 'admin') return { allowed: true, reason: 'admin' };
  const lookup = conditionLookup(identity, req, accountId);
  const request = { action: req.action, resource: req.resource, principals: [identity.roleArn, identity.arn], lookup };
  const own = rolePolicy ? evaluatePolicy(rolePolicy, request) : NONE;
  let attached = NONE;
  if (req.resourcePolicy) {
    try {
      attached = evaluatePolicy(compilePolicy(req.resourcePolicy.document, 'resource', accountId), request);
    } catch {
      attached = NONE; // fail closed: a broken key policy delegates nothing
    }
  }
  if (own.deny || attached.deny) return { allowed: false, reason: 'explicit-deny' };
  const allowed =
    req.resourcePolicy?.kind === 'kms-key'
      ? attached.allow || (attached.delegated && own.allow)
      : own.allow || attached.allow;
  if (allowed) return { allowed, reason: 'allowed' };
  if (req.grant?.grants && grantsAllow(req, grantCaller(identity, accountId, own.allow))) {
    return { allowed: true, reason: 'grant' };
  }
  return { allowed: false, reason: 'implicit-deny' };
}

/** The ARNs a grant may name the caller by: its role, its session, and (delegated) its account. */
export function grantCaller(identity: Extract<Identity, { kind: 'role' }>, accountId: string, delegated = false) {
  return { arns: [identity.roleArn, identity.arn], account: [`arn:aws:iam::${accountId}:root`, accountId], delegated };
}

/**
 * Condition keys and policy variables, case-insensitive: aws:PrincipalArn, aws:userid,
 * aws:username, keysafe:RoleName, keysafe:Subject, jwt:<claim path>, and the request's own keys.
 */
function conditionLookup(
  identity: Extract<Identity, { kind: 'role' }>,
  req: AccessRequest,
  accountId: string,
): VariableLookup {
  return (name) => {
    const key = lowerCase(name);
    if (key.startsWith('jwt:')) {
      const path = name.slice(4);
      return path === 'sub' ? identity.subject : claimOf(identity.claims, path);
    }
    switch (key) {
      case 'aws:principalarn':
        return identity.roleArn;
      case 'aws:userid':
        return `${identity.role}:${identity.sessionName}`;
      case 'aws:username':
      case 'keysafe:rolename':
        return identity.role;
      case 'keysafe:subject':
        return identity.subject;
      case 'aws:principalaccount':
      case 'kms:calleraccount':
        return accountId;
    }
    if (req.context === undefined) return undefined;
    // kms:EncryptionContext:<key> keeps the key's case; the prefix does not matter.
    // Own keys only: a condition on "constructor" must not find Object.prototype's.
    if (key.startsWith('kms:encryptioncontext:'))
      return ownValue(req.context, `kms:encryptioncontext:${name.slice(22)}`);
    return ownValue(req.context, key);
  };
}

// A session's claims never change, and its identity object is reused while the session lives:
// resolve each claim path once per session, not once per request.
const claimCache = new WeakMap<object, Map<string, string | string[] | undefined>>();

function claimOf(claims: Readonly<Record<string, unknown>>, path: string): string | string[] | undefined {
  let memo = claimCache.get(claims);
  if (!memo) {
    memo = new Map();
    claimCache.set(claims, memo);
  }
  if (memo.has(path)) return memo.get(path);
  const value = claimValues(claimAt(claims, path));
  memo.set(path, value);
  return value;
}

// Condition keys come from policies (a bounded set): lower-case each once.
const lowered = new Map<string, string>();
function lowerCase(name: string): string {
  let key = lowered.get(name);
  if (key === undefined) {
    key = name.toLowerCase();
    if (lowered.size < 10_000) lowered.set(name, key);
  }
  return key;
}
