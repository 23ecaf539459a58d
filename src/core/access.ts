// The authorization port and the resources an operation declares: "may the caller do this to that?"
import type { Identity } from '../auth/index.js';
import type { AppError } from './errors.js';
import { ownRecord } from './records.js';

/** Request condition keys, lowercase names (kms:encryptioncontext:<key> keeps the key's case). */
export type ConditionKeys = Readonly<Record<string, string | readonly string[]>>;

export interface AccessCheck {
  /** IAM-style action, e.g. kms:Decrypt */
  action: string;
  /** The resource's ARN, or '*' for actions on no particular resource. */
  resource: string;
  /** The resource's own policy (KMS key policy, secret resource policy), if it has one. */
  resourcePolicy?: { document: string; kind: 'kms-key' | 'secret' };
  context?: ConditionKeys;
  /**
   * The resource as the request named it (an alias ARN, a secret ARN without its suffix), when that
   * differs from `resource`: what a refusal names, so that it never tells whether a resource exists
   * or what an alias points at.
   */
  named?: string;
  /** KMS keys: the grants that may allow what the policies do not (see GrantScope). */
  grant?: GrantScope;
}

/** A KMS grant as an authorization decision reads it. */
export interface GrantAllowance {
  granteePrincipal: string;
  retiringPrincipal?: string | undefined;
  operations: readonly string[];
  constraints?: {
    EncryptionContextEquals?: Readonly<Record<string, string>>;
    EncryptionContextSubset?: Readonly<Record<string, string>>;
  };
}

/**
 * Where grants may allow an action on a KMS key that no policy allows: looked up only then, so a
 * request the policies allow reads no grants.
 */
export interface GrantScope {
  /** The key's grants naming any of `principals` (RetireGrant: only the grant it retires). */
  lookup(principals: readonly string[]): Promise<readonly GrantAllowance[]>;
  /** CreateGrant: the grant asked for (a grant allows creating only narrower ones). */
  requested?: GrantAllowance;
  /** Set by the access port once looked up. */
  grants?: readonly GrantAllowance[];
}

/**
 * A resource an operation touches and the action checked on it: declared as data beside each
 * operation, resolved to an AccessCheck (ARN and resource policy) by the request pipeline.
 */
export type ResourceRef =
  | LocalResourceRef
  /**
   * A resource in another region this server serves, decided there (its key policy, its grants) and with
   * that region as aws:RequestedRegion: UpdatePrimaryRegion's replica, ReplicateKey's CreateKey.
   */
  | { kind: 'in-region'; region: string; resource: LocalResourceRef };

/** A resource of the request's own region. */
export type LocalResourceRef =
  /** No particular resource (CreateKey, ListSecrets, ...): the check is on '*'. */
  | { kind: 'any'; action: string; context?: ConditionKeys }
  /** A named ARN without a resource policy (issuers, roles, Terraform states, a secret to create). */
  | { kind: 'arn'; action: string; arn: string }
  /** A KMS key by id, ARN, alias name or alias ARN; undefined when the request names none readable ('*'). */
  | {
      kind: 'key';
      action: string;
      key: string | undefined;
      context?: ConditionKeys;
      /** RetireGrant: the grant retired, whose own principals may retire it. */
      grantId?: string;
      /** CreateGrant: the grant asked for. */
      requestedGrant?: GrantAllowance;
    }
  /** An alias itself (alias/name), not its key. */
  | { kind: 'alias'; action: string; alias: string }
  /** The key an alias points at now (nothing to check when the alias does not exist). */
  | { kind: 'alias-target'; action: string; alias: string }
  /** A secret by name or ARN, with its resource policy. */
  | { kind: 'secret'; action: string; secret: string; context?: ConditionKeys }
  /**
   * The customer-managed KMS key protecting a secret: the key of the version read (`version`), the
   * key a write names, or the secret's own for new versions. Nothing to check under the default key,
   * whose use is Secrets Manager's own, as on AWS.
   */
  | {
      kind: 'secret-key';
      action: string;
      secret: string;
      version?: { versionId?: string | undefined; versionStage?: string | undefined };
      /** The key a write names (CreateSecret, UpdateSecret with KmsKeyId) instead of the secret's own. */
      key?: string;
    };

export interface Access {
  /** Who is asking (RotateSecret records it: the rotation then acts as this principal). */
  readonly identity: Identity;
  /** Throws AccessDeniedException naming the action and resource unless the caller may. */
  require(check: AccessCheck): void;
  /** The same decision, for per-item answers (BatchGetSecretValue): the refusal, or undefined if allowed. */
  refusal(check: AccessCheck): AppError | undefined;
  /** Resolves each declared resource and requires its action, in order; throws the first refusal. */
  authorize(resources: readonly ResourceRef[]): Promise<void>;
  /** The first refusal among declared resources, or undefined when every one is allowed. */
  refusalOf(resources: readonly ResourceRef[]): Promise<AppError | undefined>;
}

/** Condition keys for an encryption context: kms:EncryptionContext:<k> and kms:EncryptionContextKeys. */
export function encryptionContextKeys(
  context: Readonly<Record<string, string>> | undefined,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!context) return out;
  const keys = Object.keys(context);
  for (const k of keys) out[`kms:encryptioncontext:${k}`] = context[k]!;
  out['kms:encryptioncontextkeys'] = keys;
  return out;
}

/** The encryption context that condition keys were made from (the inverse of encryptionContextKeys). */
export function encryptionContextOf(keys: ConditionKeys | undefined): Record<string, string> {
  const pairs: [string, string][] = [];
  for (const [k, v] of Object.entries(keys ?? {})) {
    if (k.startsWith('kms:encryptioncontext:') && typeof v === 'string') pairs.push([k.slice(22), v]);
  }
  // Every pair, "__proto__" included: a constraint compares the context the engine binds.
  return ownRecord(pairs);
}
