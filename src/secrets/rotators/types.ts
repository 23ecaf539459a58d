// The contract between the rotation runner and a rotation strategy (the AWS rotation Lambda's four steps).
import type { RotationConnectionPin } from '../store.js';

/** A stage or a version id to read. */
export type VersionSelector = { stage: string } | { versionId: string };

/**
 * What a strategy may do, scoped to the one secret being rotated. It mirrors the Secrets
 * Manager calls an AWS rotation Lambda makes, so strategies read like the AWS templates. Every
 * read and write is authorized and audited as the principal that configured the rotation (the
 * caller of RotateSecret), never with the server's own rights: a refusal throws
 * AccessDeniedException naming the action and the resource.
 */
export interface RotationContext {
  /** The secret's ARN. */
  readonly secretArn: string;
  /** The rotation's ClientRequestToken: the version id of the AWSPENDING version. */
  readonly token: string;
  /** SecretString of a version of this secret, or undefined when it has no such version or no value. */
  getValue(selector: VersionSelector): Promise<string | undefined>;
  /**
   * The value this rotation stored with putPendingValue, or undefined when it has stored none yet.
   * Throws RotationStepError when the token's version holds a value the rotation did not make
   * (a caller's PutSecretValue): a pending value is the server's, never a caller's.
   */
  getPendingValue(): Promise<string | undefined>;
  /** AWSCURRENT SecretString of another secret (e.g. the superuser secret named by `masterarn`). */
  getOtherSecretValue(secretId: string): Promise<string>;
  /** Stores `value` as the AWSPENDING version with id `token` (PutSecretValue with VersionStages [AWSPENDING]). */
  putPendingValue(value: string): Promise<void>;
  /** A new password with GetRandomPassword's defaults, or the given options. */
  generatePassword(options?: { length?: number; excludeCharacters?: string; excludePunctuation?: boolean }): string;
}

/**
 * A rotation strategy. Each step must be idempotent: after a crash the runner repeats the step
 * that was in progress. The runner itself performs finishSecret (moving AWSCURRENT to the pending
 * version) after testSecret succeeds, so a strategy never touches labels.
 */
export interface Rotator {
  createSecret(ctx: RotationContext): Promise<void>;
  setSecret(ctx: RotationContext): Promise<void>;
  testSecret(ctx: RotationContext): Promise<void>;
  /** Optional hook before the runner moves AWSCURRENT (the webhook strategy calls the endpoint). */
  finishSecret?(ctx: RotationContext): Promise<void>;
  /**
   * For a strategy that acts on a destination named in the secret's value (a database server and
   * role): the fields that name it. RotateSecret pins them, read as its caller; the runner then
   * refuses every step whose AWSCURRENT or AWSPENDING names another, so a caller that may only
   * PutSecretValue cannot redirect a rotation someone else configured. Throws RotationStepError,
   * prefixed with `where` and naming `what` and the field (never a value), when the value names none.
   */
  connectionOf?(value: string, where: string, what: string): RotationConnectionPin;
}

/** A failed step. The message must not contain secret values (it is shown in DescribeSecret). */
export class RotationStepError extends Error {
  override readonly name = 'RotationStepError';
}
