// Finding a secret by what a caller names it (name, full or partial ARN) and the version a read selects.
import type { Partition } from '../../core/arn.js';
import { AppError } from '../../core/errors.js';
import { randomIndex } from '../../crypto/index.js';
import { AWSCURRENT } from '../labels.js';
import type { SecretReadCache } from '../read-cache.js';
import type { SecretRecord, SecretsStore, SecretVersionRecord } from '../store.js';

const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Refuses an operation on a secret scheduled for deletion. */
export function markedForDeletion(): AppError {
  return new AppError('InvalidRequestException', MARKED_FOR_DELETION);
}

/** No version with this id. */
export function versionNotFound(versionId: string): AppError {
  return new AppError(
    'ResourceNotFoundException',
    `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
  );
}

export type SecretLookup = ReturnType<typeof createSecretLookup>;

export function createSecretLookup(store: SecretsStore, cache: SecretReadCache, partition: Partition) {
  const arnPrefix = `arn:aws:secretsmanager:${partition.region}:${partition.accountId}:secret:`;

  /**
   * By name, full ARN, or partial ARN (an ARN without the 6-character suffix), in this engine's
   * region. An ARN of another region or account is answered as AWS answers a secret it cannot
   * find, ResourceNotFoundException "Secrets Manager can't find the specified secret." (the store
   * view holds only this region's secrets; InvalidParameterException is for malformed input).
   */
  async function find(secretId: string): Promise<SecretRecord> {
    let secret: SecretRecord | undefined;
    if (secretId.startsWith('arn:')) {
      secret = await store.getSecretByArn(secretId);
      if (!secret && secretId.startsWith(arnPrefix))
        secret = await store.getSecretByName(secretId.slice(arnPrefix.length));
    } else {
      secret = await store.getSecretByName(secretId);
    }
    if (!secret) throw new AppError('ResourceNotFoundException', NOT_FOUND);
    return secret;
  }

  async function findLive(secretId: string): Promise<SecretRecord> {
    const secret = await find(secretId);
    if (secret.deletedAt !== undefined) throw markedForDeletion();
    return secret;
  }

  // One store read per secret however many ask at once (a rotation seen by 1,000 watchers whose
  // access is checked together); a lookup started before the latest write is not joined.
  const recordLookups = new Map<string, { stamp: number; secret: Promise<SecretRecord> }>();

  /** The secret behind an id, from the read cache (deleted ones too). */
  function cachedRecord(secretId: string): Promise<SecretRecord> | SecretRecord {
    const hit = cache.record(secretId);
    if (hit) return hit;
    const stamp = cache.stamp();
    const pending = recordLookups.get(secretId);
    if (pending?.stamp === stamp) return pending.secret;
    const secret = find(secretId)
      .then((s) => {
        cache.putRecord(secretId, s, stamp);
        return s;
      })
      .finally(() => {
        if (recordLookups.get(secretId)?.secret === secret) recordLookups.delete(secretId);
      });
    recordLookups.set(secretId, { stamp, secret });
    return secret;
  }

  async function findLiveCached(secretId: string): Promise<SecretRecord> {
    const secret = await cachedRecord(secretId);
    if (secret.deletedAt !== undefined) throw markedForDeletion();
    return secret;
  }

  /** The version a read selects: by id (checked against `stage` if both are given), else by stage (AWSCURRENT). */
  const selectVersion = (secret: SecretRecord, versionId?: string, stage?: string) =>
    selectReadVersion(store, cache, secret, versionId, stage);

  /** The ARN and name a name or ARN refers to when no such secret exists (no random suffix). */
  function missing(secretId: string): { arn: string; name: string } {
    const arn = secretId.startsWith('arn:') ? secretId : `${arnPrefix}${secretId}`;
    const name = secretId.startsWith(arnPrefix) ? secretId.slice(arnPrefix.length) : secretId;
    return { arn, name };
  }

  /** A new secret's ARN: its name and AWS's random 6-character suffix. */
  function newArn(name: string): string {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomIndex(SUFFIX_ALPHABET.length)];
    return `${arnPrefix}${name}-${suffix}`;
  }

  return { find, findLive, cachedRecord, findLiveCached, selectVersion, missing, newArn };
}

async function versionByStageCached(
  store: SecretsStore,
  cache: SecretReadCache,
  arn: string,
  stage: string,
): Promise<SecretVersionRecord | undefined> {
  let version = cache.version(arn, stage);
  if (!version) {
    const stamp = cache.stamp();
    version = await store.getVersionByStage(arn, stage);
    if (version) cache.putVersion(arn, stage, version, stamp);
  }
  return version;
}

async function selectReadVersion(
  store: SecretsStore,
  cache: SecretReadCache,
  secret: SecretRecord,
  versionId?: string,
  stage?: string,
): Promise<SecretVersionRecord> {
  if (versionId !== undefined) {
    const v = await store.getVersion(secret.arn, versionId);
    if (!v) throw versionNotFound(versionId);
    if (stage !== undefined && !v.stages.includes(stage)) {
      throw new AppError(
        'InvalidRequestException',
        'You provided a VersionStage that is not associated to the provided VersionId.',
      );
    }
    return v;
  }
  const label = stage ?? AWSCURRENT;
  const v = await versionByStageCached(store, cache, secret.arn, label);
  if (!v) {
    throw new AppError(
      'ResourceNotFoundException',
      `Secrets Manager can't find the specified secret value for staging label: ${label}`,
    );
  }
  return v;
}
