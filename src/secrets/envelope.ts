// Envelope encryption of secret values: a fresh KMS data key per version, bound to the ARN and version id.
import { AppError } from '../core/errors.js';
import type { SecretValue } from '../core/secret-value.js';
import { openEnvelope, purposeAad, sealEnvelope } from '../crypto/index.js';
import { INTERNAL_KEYS, internalKey, type KmsEngine } from '../kms/index.js';
import type { SecretReadCache } from './read-cache.js';
import type { SecretRecord, SecretVersionRecord } from './store.js';

/** The managed default key's alias, the analogue of aws/secretsmanager. */
export const DEFAULT_KMS_ALIAS = INTERNAL_KEYS.secretsmanager.alias;

/**
 * A KmsKeyId that names the region's managed default key: as Keysafe shows it, or as AWS's
 * (alias/aws/secretsmanager), which users copy from AWS and from ReplicationStatus.
 */
export const namesDefaultKey = (kmsKeyId: string | undefined): boolean =>
  kmsKeyId === DEFAULT_KMS_ALIAS || kmsKeyId === 'alias/aws/secretsmanager';

export type SecretEnvelope = ReturnType<typeof createSecretEnvelope>;

export function createSecretEnvelope(kms: KmsEngine, cache: SecretReadCache) {
  /** The default key (shown as alias/keysafe/secretsmanager), found by its recorded id; made on first use. */
  const defaultKey = internalKey(kms, INTERNAL_KEYS.secretsmanager);

  const encryptionContext = (arn: string, versionId: string) => ({ SecretARN: arn, SecretVersionId: versionId });

  async function seal(secret: SecretRecord, versionId: string, value: SecretValue) {
    const plaintext = value.binary ?? Buffer.from(value.string!, 'utf8');
    let dataKey: Awaited<ReturnType<KmsEngine['generateDataKey']>>;
    try {
      // A customer key goes through the engine's checks (never one of Keysafe's own); the default key is the server's.
      const context = encryptionContext(secret.arn, versionId);
      dataKey =
        secret.kmsKeyId === undefined
          ? await kms.internal.generateDataKey(await defaultKey(), 32, context)
          : await kms.generateDataKey(secret.kmsKeyId, 32, context);
    } catch (e) {
      throw kmsFailure('EncryptionFailure', e, "Secrets Manager can't encrypt the secret value with the KMS key");
    }
    const ciphertext = sealEnvelope(dataKey.plaintext, plaintext, secretValueAad(secret.arn, versionId));
    return { kmsKeyArn: dataKey.keyId, wrappedKey: dataKey.ciphertext, ciphertext, binary: value.binary !== undefined };
  }

  async function open(version: SecretVersionRecord): Promise<SecretValue | undefined> {
    if (!version.ciphertext || !version.wrappedKey || !version.kmsKeyArn) return undefined;
    const cached = cache.value(version.secretArn, version.versionId);
    let dataKey: Buffer | undefined;
    try {
      if (cached) {
        await kms.requireDecryptable(version.kmsKeyArn);
        return cached;
      }
      const context = encryptionContext(version.secretArn, version.versionId);
      dataKey = (await kms.internal.decrypt(version.wrappedKey, context)).plaintext;
    } catch (e) {
      throw kmsFailure(
        'DecryptionFailure',
        e,
        "Secrets Manager can't decrypt the protected secret text using the provided KMS key",
      );
    }
    let plaintext: Buffer;
    try {
      plaintext = openEnvelope(dataKey, version.ciphertext, secretValueAad(version.secretArn, version.versionId));
    } catch {
      throw new AppError(
        'DecryptionFailure',
        "Secrets Manager can't decrypt the protected secret text: it failed authentication.",
      );
    }
    const value: SecretValue = version.binary ? { binary: plaintext } : { string: plaintext.toString('utf8') };
    cache.putValue(version.secretArn, version.versionId, value);
    return value;
  }

  return { seal, open, defaultKey };
}

/** Binds a sealed value to its secret and version: a row moved to another one fails to open. */
export function secretValueAad(arn: string, versionId: string): Buffer {
  return purposeAad('keysafe:secret-value:v1', arn, versionId);
}

/** Turns a KMS failure into the Secrets Manager error, keeping the KMS reason (never a value). */
function kmsFailure(code: 'EncryptionFailure' | 'DecryptionFailure', e: unknown, text: string): AppError {
  if (!(e instanceof AppError)) return new AppError(code, `${text}.`);
  if (e.code === 'NotFoundException' && code === 'EncryptionFailure')
    return new AppError('ResourceNotFoundException', e.message);
  return new AppError(code, `${text}: ${e.code}: ${e.message}`);
}
