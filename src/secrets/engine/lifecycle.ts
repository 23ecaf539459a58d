// A secret's life: CreateSecret (with its first version), DeleteSecret's recovery window or forced purge,
// RestoreSecret, and purging secrets whose window ended.
import { DAY_MS } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { retryConflicts } from '../../core/keyed-lock.js';
import type { SecretValue } from '../../core/secret-value.js';
import { newUuid } from '../../crypto/index.js';
import { AWSCURRENT } from '../labels.js';
import { replicaWriteRefused } from '../replication.js';
import type { SecretChange, SecretRecord, SecretTag } from '../store.js';
import { concurrentChange } from './commit.js';
import { markedForDeletion } from './lookup.js';
import type { EngineParts } from './parts.js';
import { checkName, checkTags, checkValue, nameTaken, requireEncryptKey, sameValue } from './validation.js';

export interface CreateSecretInput {
  name: string;
  description?: string;
  kmsKeyId?: string;
  tags?: SecretTag[];
  value?: SecretValue;
  token?: string;
}

export async function createSecret(
  parts: EngineParts,
  input: CreateSecretInput,
): Promise<{ secret: SecretRecord; versionId?: string }> {
  const { store, kms, envelope } = parts;
  checkName(input.name);
  checkTags(input.tags ?? []);
  const existing = await store.getSecretByName(input.name);
  if (existing) {
    // Same name and token again: the SDK retrying a CreateSecret that succeeded.
    if (input.token && existing.deletedAt === undefined) {
      const v = await store.getVersion(existing.arn, input.token);
      if (v && sameValue(await envelope.open(v), input.value ?? {}))
        return { secret: existing, versionId: input.token };
      if (v) throw tokenInUse(input.token, existing.arn);
    }
    throw nameTaken(existing);
  }
  if (input.kmsKeyId !== undefined) await requireEncryptKey(kms, input.kmsKeyId);
  const { change, versionId } = await newSecretChange(parts, input);
  if (!(await store.createSecret(change))) {
    const raced = await store.getSecretByName(input.name);
    throw raced
      ? nameTaken(raced)
      : new AppError('InternalServiceError', 'The secret could not be created; try again.');
  }
  return { secret: change.secret, ...(versionId && { versionId }) };
}

/** CreateSecret again with a token of the existing secret's version but another value. */
const tokenInUse = (token: string, arn: string) =>
  new AppError(
    'ResourceExistsException',
    `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${arn}.`,
  );

/** The new secret's record and, with a value, its first version labelled AWSCURRENT. */
async function newSecretChange(
  { clock, lookup, envelope }: EngineParts,
  input: CreateSecretInput,
): Promise<{ change: SecretChange; versionId?: string }> {
  const now = clock.now();
  const secret: SecretRecord = {
    arn: lookup.newArn(input.name),
    name: input.name,
    revision: 1,
    createdAt: now,
    lastChangedAt: now,
    tags: input.tags ?? [],
    ...(input.tags?.length && { everTagged: true as const }),
    ...(input.description !== undefined && { description: input.description }),
    ...(input.kmsKeyId !== undefined && { kmsKeyId: input.kmsKeyId }),
  };
  const change: SecretChange = { secret, events: [{ type: 'SecretCreated' }] };
  if (!input.value) return { change };
  checkValue(input.value);
  const versionId = input.token ?? newUuid();
  change.newVersion = {
    secretArn: secret.arn,
    versionId,
    createdAt: now,
    ...(await envelope.seal(secret, versionId, input.value)),
  };
  change.stages = { [AWSCURRENT]: versionId };
  change.events.push({ type: 'VersionCreated', versionId });
  return { change, versionId };
}

/** AWS's refusals, before the secret is looked up: the window's range first, then the window with a forced delete. */
export function checkDeletionOptions(recoveryWindowInDays: number | undefined, force: boolean): void {
  if (recoveryWindowInDays !== undefined && (recoveryWindowInDays < 7 || recoveryWindowInDays > 30)) {
    throw new AppError(
      'InvalidParameterException',
      'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
    );
  }
  if (force && recoveryWindowInDays !== undefined) {
    throw new AppError(
      'InvalidParameterException',
      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    );
  }
}

export async function deleteSecret(
  parts: EngineParts,
  secretId: string,
  recoveryWindowInDays: number | undefined,
  force: boolean,
) {
  const { clock, lookup, commits } = parts;
  checkDeletionOptions(recoveryWindowInDays, force);
  const now = clock.now();
  const secret = await lookup.find(secretId).catch((e: unknown) => {
    // AWS answers a forced delete of a missing secret as if it had existed.
    if (force && e instanceof AppError && e.code === 'ResourceNotFoundException') return undefined;
    throw e;
  });
  if (!secret) return { secret: lookup.missing(secretId), deletionDate: now };
  if (secret.primary) throw replicaWriteRefused();
  if (secret.replicas?.length) {
    // AWS: the replicas go first (RemoveRegionsFromReplication), then the primary.
    throw new AppError(
      'InvalidRequestException',
      "You can't delete a primary secret that is replicated to other Regions. Remove the replicas with RemoveRegionsFromReplication first.",
    );
  }
  if (force) return { secret: await forcePurge(parts, secretId, secret, now), deletionDate: now };
  if (secret.deletedAt !== undefined) throw markedForDeletion();
  const purgeAt = now + (recoveryWindowInDays ?? 30) * DAY_MS;
  const saved = await commits.change(secretId, async (s) => ({
    secret: { ...s, deletedAt: now, purgeAt },
    events: [{ type: 'SecretDeleted' }],
  }));
  return { secret: saved, deletionDate: purgeAt };
}

/** ForceDeleteWithoutRecovery: purged now, re-read after a lost revision check. */
async function forcePurge(
  { lookup, commits }: EngineParts,
  secretId: string,
  secret: SecretRecord,
  now: number,
): Promise<SecretRecord> {
  const purged = await retryConflicts(async (n) => {
    const s = n === 0 ? secret : await lookup.find(secretId);
    return (await commits.purge(s, now)) ? s : undefined;
  });
  if (!purged) throw concurrentChange();
  return purged;
}

export async function restoreSecret({ commits }: EngineParts, secretId: string) {
  return commits.change(
    secretId,
    async (s) => {
      if (s.deletedAt === undefined) return undefined;
      const { deletedAt: _d, purgeAt: _p, ...rest } = s;
      return { secret: rest, events: [{ type: 'SecretRestored' }] };
    },
    true,
  );
}

/** Purges secrets whose recovery window ended; returns how many. */
export async function purgeDue({ store, commits }: EngineParts, now: number, limit = 100): Promise<number> {
  let purged = 0;
  for (const s of await store.dueSecrets(now, limit)) {
    if (s.purgeAt !== undefined && s.purgeAt <= now && (await commits.purge(s, now))) purged++;
  }
  return purged;
}
