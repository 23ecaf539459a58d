// Acting as a rotation's principal: what RotateSecret records about its caller, and the checks every
// step's read or write passes (the secret with its resource policy, a customer-managed KMS key).
import type { Identity } from '../../auth/index.js';
import { type AccessCheck, encryptionContextKeys } from '../../core/access.js';
import type { RotationPrincipalRecord, SecretRecord, SecretVersionRecord } from '../store.js';
import type { RotationDeps } from './ports.js';

/**
 * What RotateSecret records about its caller: enough to evaluate its policy again at each step,
 * conditions included (a role session's subject and all its claims, so a condition on a claim
 * decides as it did for that session, Deny statements too).
 */
export function rotationPrincipalOf(identity: Identity): RotationPrincipalRecord {
  if (identity.kind === 'admin') return { kind: 'admin' };
  return {
    kind: 'role',
    role: identity.role,
    sessionName: identity.sessionName,
    subject: identity.subject,
    claims: { ...identity.claims },
    sessionIssuedAt: identity.issuedAt,
  };
}

/** The check for `action` on a secret, with its resource policy and the request's condition keys. */
export function secretCheck(secret: SecretRecord, action: string, context?: Record<string, string>): AccessCheck {
  return {
    action,
    resource: secret.arn,
    ...(secret.resourcePolicy !== undefined && {
      resourcePolicy: { document: secret.resourcePolicy, kind: 'secret' as const },
    }),
    ...(context && { context }),
  };
}

export type PrincipalReads = ReturnType<typeof createPrincipalReads>;

export function createPrincipalReads(deps: Pick<RotationDeps, 'authorizer' | 'keys' | 'engine'>) {
  /** kms:<action> on a customer-managed key (none for the managed default key, as AWS's aws/secretsmanager). */
  async function keyCheck(
    secret: SecretRecord,
    ref: string | undefined,
    action: string,
    versionId: string,
  ): Promise<AccessCheck | undefined> {
    if (secret.kmsKeyId === undefined || ref === undefined) return undefined;
    const key = await deps.keys.keyCheck(ref);
    const context = encryptionContextKeys({ SecretARN: secret.arn, SecretVersionId: versionId });
    return key
      ? { action, resource: key.resource, resourcePolicy: { document: key.policy, kind: 'kms-key' }, context }
      : { action, resource: ref, context };
  }

  /** A version's SecretString, read as `principal`: GetSecretValue on the secret, kms:Decrypt on its key. */
  async function readAs(
    principal: RotationPrincipalRecord | undefined,
    secret: SecretRecord,
    version: SecretVersionRecord | undefined,
    context: Record<string, string>,
  ): Promise<string | undefined> {
    await deps.authorizer.authorize(principal, secretCheck(secret, 'secretsmanager:GetSecretValue', context));
    if (!version?.ciphertext) return undefined;
    const decrypt = await keyCheck(secret, version.kmsKeyArn, 'kms:Decrypt', version.versionId);
    if (decrypt) await deps.authorizer.authorize(principal, decrypt);
    return deps.engine.readRotationValue(version);
  }

  return { keyCheck, readAs };
}
