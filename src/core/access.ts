// The authorization port the domain APIs call before acting: "may the caller do this to that?"
import type { Identity } from '../auth/index.js';
import type { AppError } from './errors.js';

export interface AccessCheck {
  /** IAM-style action, e.g. kms:Decrypt */
  action: string;
  /** The resource's ARN, or '*' for actions on no particular resource. */
  resource: string;
  /** The resource's own policy (KMS key policy, secret resource policy), if it has one. */
  resourcePolicy?: { document: string; kind: 'kms-key' | 'secret' };
  /** Request condition keys, lowercase names (kms:encryptioncontext:<key> keeps the key's case). */
  context?: Readonly<Record<string, string | readonly string[]>>;
}

export interface Access {
  /** Who is asking (RotateSecret records it: the rotation then acts as this principal). */
  readonly identity: Identity;
  /** Throws AccessDeniedException naming the action and resource unless the caller may. */
  require(check: AccessCheck): void;
  /** The same decision, for per-item answers (BatchGetSecretValue): the refusal, or undefined if allowed. */
  refusal(check: AccessCheck): AppError | undefined;
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
