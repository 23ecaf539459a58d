// What the engine refuses before it writes: values, names, tags, KMS keys, taken names; AWS's errors and texts.
import { AppError } from '../../core/errors.js';
import type { SecretValue } from '../../core/secret-value.js';
import { constantTimeEqual } from '../../crypto/index.js';
import type { KmsEngine } from '../../kms/index.js';
import type { SecretRecord, SecretTag } from '../store.js';

export const MAX_VALUE_BYTES = 65_536;
export const MAX_TAGS = 50;

/** Exactly one of SecretString and SecretBinary, 1 to 64 KiB. */
export function checkValue(v: SecretValue): void {
  if ((v.string === undefined) === (v.binary === undefined)) {
    throw new AppError(
      'InvalidParameterException',
      'You must provide either SecretString or SecretBinary, but not both.',
    );
  }
  const size = v.binary ? v.binary.length : Buffer.byteLength(v.string!, 'utf8');
  if (size < 1 || size > MAX_VALUE_BYTES) {
    throw new AppError('InvalidParameterException', `The secret value must be between 1 and ${MAX_VALUE_BYTES} bytes.`);
  }
}

export function checkName(name: string): void {
  if (!/^[a-zA-Z0-9/_+=.@-]{1,512}$/.test(name)) {
    throw new AppError(
      'ValidationException',
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    );
  }
}

export function checkTags(tags: readonly SecretTag[]): void {
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.Key.startsWith('aws:'))
      throw new AppError('InvalidParameterException', 'Tag keys beginning with aws: are reserved.');
    if (seen.has(t.Key)) throw new AppError('InvalidParameterException', `Duplicate tag key: ${t.Key}`);
    seen.add(t.Key);
  }
  checkTagCount(tags.length);
}

export function checkTagCount(count: number): void {
  if (count > MAX_TAGS) throw new AppError('LimitExceededException', `A secret can have at most ${MAX_TAGS} tags.`);
}

/** Whether a stored value equals a requested one (a retried request's), in constant time. */
export function sameValue(a: SecretValue | undefined, b: SecretValue): boolean {
  if (!a) return false;
  if (a.string !== undefined && b.string !== undefined) return constantTimeEqual(a.string, b.string);
  if (a.binary && b.binary) return constantTimeEqual(a.binary.toString('base64'), b.binary.toString('base64'));
  return false;
}

/** A name CreateSecret cannot take: a live secret has it, or one scheduled for deletion. */
export function nameTaken(existing: SecretRecord): AppError {
  return existing.deletedAt !== undefined
    ? new AppError(
        'InvalidRequestException',
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
      )
    : new AppError(
        'ResourceExistsException',
        `The operation failed because the secret ${existing.name} already exists.`,
      );
}

/** A KmsKeyId a caller names must be one of theirs and a symmetric encryption key. */
export async function requireEncryptKey(kms: KmsEngine, ref: string): Promise<void> {
  try {
    const key = await kms.describeKey(ref);
    // Keysafe's own keys (the default key included) are never named: they serve the server only.
    if (key.internalPurpose !== undefined) {
      throw new AppError(
        'InvalidParameterException',
        'The KMS key is one Keysafe keeps for itself; name a key of yours, or omit KmsKeyId for the default key.',
      );
    }
    if (key.keyUsage !== 'ENCRYPT_DECRYPT' || key.keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new AppError('InvalidParameterException', 'The KMS key must be a symmetric encryption key.');
    }
  } catch (e) {
    if (e instanceof AppError && e.code === 'NotFoundException') {
      throw new AppError('InvalidParameterException', `The KMS key ${ref} can't be found.`);
    }
    throw e;
  }
}
