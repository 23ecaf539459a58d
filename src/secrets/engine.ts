// The secrets engine: secrets, versions, staging labels and envelope encryption through the KMS engine.
import type { Partition } from '../core/arn.js';
import type { Clock } from '../core/clock.js';
import { DAY_MS } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { keyedLock, retryConflicts } from '../core/keyed-lock.js';
import type { SecretValue } from '../core/secret-value.js';
import { constantTimeEqual, newUuid, randomIndex } from '../crypto/index.js';
import type { KmsEngine } from '../kms/index.js';
import { createSecretEnvelope } from './envelope.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  applyStageChanges,
  checkStageLimit,
  type StageChanges,
  type StageMap,
  stageMapOf,
  stagesForMove,
  stagesForNewVersion,
} from './labels.js';
import { SecretReadCache } from './read-cache.js';
import type {
  SecretChange,
  SecretEventType,
  SecretRecord,
  SecretRotationRecord,
  SecretsStore,
  SecretTag,
  SecretVersionRecord,
} from './store.js';

export type { SecretValue };

import { nextRotationAt } from './rotation-schedule.js';

export const MAX_VALUE_BYTES = 65_536;
/** AWS keeps about 100 versions: older deprecated ones (no labels, over a day old) are deleted. */
export const MAX_KEPT_VERSIONS = 100;
const DEPRECATED_GRACE_MS = DAY_MS;
const MAX_TAGS = 50;
const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface SecretsEngineDeps {
  store: SecretsStore;
  kms: KmsEngine;
  clock: Clock;
  partition: Partition;
  /** How long GetSecretValue may serve a cached secret record and stage lookup (ms). */
  cacheTtlMs?: number;
}

export interface NewVersionInput {
  value: SecretValue;
  token?: string;
  stages?: string[];
}

export type SecretsEngine = ReturnType<typeof createSecretsEngine>;

export function createSecretsEngine(deps: SecretsEngineDeps) {
  const { store, kms, clock, partition } = deps;
  const ttl = deps.cacheTtlMs ?? 1000;
  // The read path's caches: every write through this engine drops the secret's entries; another
  // replica's writes are dropped on its change notification, or after at most `ttl`. Decrypted values are memory only and bounded:
  // holding the data key beside the ciphertext would expose as much, and the AES-GCM setup per
  // read costs more than the rest of GetSecretValue (bench/secrets.ts).
  const cache = new SecretReadCache(ttl, 10_000, () => clock.now());
  const arnPrefix = `arn:aws:secretsmanager:${partition.region}:${partition.accountId}:secret:`;

  // --- lookups -------------------------------------------------------------------------------

  /** By name, full ARN, or partial ARN (an ARN without the 6-character suffix). */
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

  // One store read per secret however many ask at once (a rotation seen by 1,000 watchers whose
  // access is checked together); a lookup started before the latest write is not joined.
  const recordLookups = new Map<string, { stamp: number; secret: Promise<SecretRecord> }>();

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
    if (secret.deletedAt !== undefined) throw new AppError('InvalidRequestException', MARKED_FOR_DELETION);
    return secret;
  }

  async function versionByStageCached(arn: string, stage: string): Promise<SecretVersionRecord | undefined> {
    let version = cache.version(arn, stage);
    if (!version) {
      const stamp = cache.stamp();
      version = await store.getVersionByStage(arn, stage);
      if (version) cache.putVersion(arn, stage, version, stamp);
    }
    return version;
  }

  /** Commits a change and drops the read caches of its secret. */
  // Rung after every committed change: the watch stream's doorbell (the events table is the truth).
  const changeListeners = new Set<() => void>();
  // Deferred: the writer's answer goes out before the fan-out to the watchers starts.
  const ring = () =>
    setImmediate(() => {
      for (const listener of changeListeners) listener();
    });

  async function commit(change: SecretChange, at: number): Promise<SecretRecord | undefined> {
    const saved = await store.commit(change, at);
    cache.invalidate(change.secret.arn);
    if (saved && change.events.length > 0) ring();
    return saved;
  }

  async function purge(secret: SecretRecord, at: number): Promise<boolean> {
    const purged = await store.purgeSecret(secret, at);
    cache.invalidate(secret.arn);
    if (purged) ring();
    return purged;
  }

  async function findLive(secretId: string): Promise<SecretRecord> {
    const secret = await find(secretId);
    if (secret.deletedAt !== undefined) throw new AppError('InvalidRequestException', MARKED_FOR_DELETION);
    return secret;
  }

  async function stageMap(arn: string): Promise<StageMap> {
    return stageMapOf(await store.listVersions(arn));
  }

  const { seal, open, defaultKey } = createSecretEnvelope(kms, cache);

  // --- writes --------------------------------------------------------------------------------

  /**
   * Commits a change computed from a fresh read, retrying when another writer got there first.
   * `plan` returns undefined when there is nothing to change.
   */
  const withSecretLock = keyedLock();

  async function change(
    secretId: string,
    plan: (secret: SecretRecord, stages: StageMap) => Promise<SecretChange | undefined>,
    allowDeleted = false,
  ): Promise<SecretRecord> {
    const saved = await withSecretLock((await find(secretId)).arn, () =>
      retryConflicts(async () => {
        const secret = allowDeleted ? await find(secretId) : await findLive(secretId);
        const planned = await plan(secret, await stageMap(secret.arn));
        if (!planned) return secret;
        return commit({ ...planned, secret: { ...planned.secret, lastChangedAt: clock.now() } }, clock.now());
      }),
    );
    if (!saved) throw new AppError('InternalServiceError', 'The secret is being changed concurrently; try again.');
    return saved;
  }

  /** Plans a new version: idempotent on the token, AWS's label moves, envelope-encrypted value. */
  async function planNewVersion(
    secret: SecretRecord,
    stages: StageMap,
    input: NewVersionInput,
    extra: Partial<SecretRecord> = {},
  ): Promise<{ change?: SecretChange; versionId: string; stages: string[] }> {
    checkValue(input.value);
    const versionId = input.token ?? newUuid();
    const existing = await store.getVersion(secret.arn, versionId);
    if (existing?.ciphertext) {
      const same = await open(existing).then((v) => sameValue(v, input.value));
      if (!same) {
        throw new AppError(
          'ResourceExistsException',
          `You can't use ClientRequestToken ${versionId} because that value is already in use for a version of secret ${secret.arn}.`,
        );
      }
      return { versionId, stages: existing.stages };
    }
    const changes = stagesForNewVersion(stages, versionId, input.stages);
    if (existing) for (const s of existing.stages) changes[s] ??= versionId;
    const next = applyStageChanges(stages, changes);
    checkStageLimit(next);
    const sealed = await seal(secret, versionId, input.value);
    const rotation = stagesMovedCurrent(changes) ? rotatedNow(secret.rotation) : secret.rotation;
    const deleteVersions = await deprecatedBeyondLimit(secret.arn, next, existing ? 0 : 1);
    return {
      versionId,
      stages: stagesOf(next, versionId),
      change: {
        secret: { ...secret, ...extra, ...(rotation && { rotation }) },
        newVersion: { secretArn: secret.arn, versionId, createdAt: clock.now(), ...sealed },
        stages: changes,
        ...(deleteVersions.length > 0 && { deleteVersions }),
        events: [{ type: 'VersionCreated', versionId }, stageEvent(versionId)],
      },
    };
  }

  /** The oldest deprecated versions over the limit, once `added` versions are in. */
  async function deprecatedBeyondLimit(arn: string, stagesAfter: StageMap, added: number): Promise<string[]> {
    const versions = await store.listVersions(arn);
    const excess = versions.length + added - MAX_KEPT_VERSIONS;
    if (excess <= 0) return [];
    const labelled = new Set(Object.values(stagesAfter));
    const cutoff = clock.now() - DEPRECATED_GRACE_MS;
    return versions
      .filter((v) => !labelled.has(v.versionId) && v.createdAt < cutoff)
      .slice(0, excess)
      .map((v) => v.versionId);
  }

  /** A manual value change counts as a rotation for AutomaticallyAfterDays (AWS does the same). */
  function rotatedNow(rotation: SecretRotationRecord | undefined): SecretRotationRecord | undefined {
    if (!rotation?.rules?.AutomaticallyAfterDays || rotation.inProgress) return rotation;
    const now = clock.now();
    return { ...rotation, lastRotatedAt: now, nextRotationAt: nextRotationAt(rotation.rules, now) };
  }

  function newArn(name: string): string {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomIndex(SUFFIX_ALPHABET.length)];
    return `${arnPrefix}${name}-${suffix}`;
  }

  return {
    partition,
    find,
    findLive,

    /** Calls `listener` after each committed change that recorded events; returns the unsubscribe. */
    onChange(listener: () => void): () => void {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },

    /** Drops the read caches of a secret another process changed, or of every secret. */
    invalidate(arn?: string): void {
      if (arn === undefined) cache.clear();
      else cache.invalidate(arn);
    },

    /** The secret behind an id, from the read cache (deleted ones too): what authorization reads. */
    cachedSecret: async (secretId: string): Promise<SecretRecord> => cachedRecord(secretId),

    /**
     * The KMS key (ARN) the version a read would select is sealed under, from the read cache;
     * undefined when there is no such version (the read itself then answers not found).
     */
    async versionKey(secretId: string, versionId?: string, stage?: string): Promise<string | undefined> {
      try {
        return (await selectVersion(await cachedRecord(secretId), versionId, stage)).kmsKeyArn;
      } catch (e) {
        if (e instanceof AppError) return undefined;
        throw e;
      }
    },

    /** The ARN a name or ARN refers to when no such secret exists (no random suffix). */
    arnForMissing: (secretId: string): string => (secretId.startsWith('arn:') ? secretId : `${arnPrefix}${secretId}`),

    open,
    stageMap,
    change,
    commit,
    defaultKey,
    listAll: () => store.listSecrets(),

    async createSecret(input: {
      name: string;
      description?: string;
      kmsKeyId?: string;
      tags?: SecretTag[];
      value?: SecretValue;
      token?: string;
    }): Promise<{ secret: SecretRecord; versionId?: string }> {
      checkName(input.name);
      checkTags(input.tags ?? []);
      const existing = await store.getSecretByName(input.name);
      if (existing) {
        // Same name and token again: the SDK retrying a CreateSecret that succeeded.
        if (input.token && existing.deletedAt === undefined) {
          const v = await store.getVersion(existing.arn, input.token);
          if (v && sameValue(await open(v), input.value ?? {})) return { secret: existing, versionId: input.token };
        }
        throw nameTaken(existing);
      }
      if (input.kmsKeyId !== undefined) await requireEncryptKey(input.kmsKeyId);
      const now = clock.now();
      const secret: SecretRecord = {
        arn: newArn(input.name),
        name: input.name,
        revision: 1,
        createdAt: now,
        lastChangedAt: now,
        tags: input.tags ?? [],
        ...(input.description !== undefined && { description: input.description }),
        ...(input.kmsKeyId !== undefined && { kmsKeyId: input.kmsKeyId }),
      };
      const events: { type: SecretEventType; versionId?: string }[] = [{ type: 'SecretCreated' }];
      let versionId: string | undefined;
      const change: SecretChange = { secret, events };
      if (input.value) {
        checkValue(input.value);
        versionId = input.token ?? newUuid();
        change.newVersion = {
          secretArn: secret.arn,
          versionId,
          createdAt: now,
          ...(await seal(secret, versionId, input.value)),
        };
        change.stages = { [AWSCURRENT]: versionId };
        events.push({ type: 'VersionCreated', versionId });
      }
      if (!(await store.createSecret(change))) {
        const raced = await store.getSecretByName(input.name);
        throw raced
          ? nameTaken(raced)
          : new AppError('InternalServiceError', 'The secret could not be created; try again.');
      }
      return { secret, ...(versionId && { versionId }) };
    },

    async getSecretValue(secretId: string, versionId?: string, stage?: string) {
      const secret = await findLiveCached(secretId);
      const version = await selectVersion(secret, versionId, stage);
      const value = await open(version);
      if (!value) {
        throw new AppError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for VersionId: ${version.versionId}`,
        );
      }
      return { secret, version, value };
    },

    /** `mark` rewrites the secret record in the same commit as the new version (rotation marks its own values). */
    async putSecretValue(secretId: string, input: NewVersionInput, mark?: (s: SecretRecord) => SecretRecord) {
      let result: { versionId: string; stages: string[] } | undefined;
      const secret = await change(secretId, async (s, stages) => {
        const planned = await planNewVersion(mark ? mark(s) : s, stages, input);
        result = planned;
        return planned.change;
      });
      return { secret, ...result! };
    },

    async updateSecret(
      secretId: string,
      input: { description?: string; kmsKeyId?: string; value?: SecretValue; token?: string },
    ) {
      if (input.kmsKeyId !== undefined) await requireEncryptKey(input.kmsKeyId);
      let versionId: string | undefined;
      const secret = await change(secretId, async (s, stages) => {
        const extra: Partial<SecretRecord> = {
          ...(input.description !== undefined && { description: input.description }),
          ...(input.kmsKeyId !== undefined && { kmsKeyId: input.kmsKeyId }),
        };
        if (input.value) {
          // KmsKeyId applies to this new version too.
          const planned = await planNewVersion(
            { ...s, ...extra },
            stages,
            { value: input.value, token: input.token },
            extra,
          );
          versionId = planned.versionId;
          return planned.change;
        }
        const updated = { ...s, ...extra };
        // A new key without a new value: AWS re-encrypts the labelled versions under it.
        const reencrypted = input.kmsKeyId === undefined ? [] : await reencryptLabelled(updated, stages);
        return { secret: updated, reencrypted, events: [{ type: 'SecretUpdated' }] };
      });
      return { secret, versionId };
    },

    async updateSecretVersionStage(secretId: string, stage: string, moveTo?: string, removeFrom?: string) {
      return change(secretId, async (s, stages) => {
        for (const id of [moveTo, removeFrom]) {
          if (id !== undefined && !(await store.getVersion(s.arn, id))) {
            throw new AppError(
              'ResourceNotFoundException',
              `Secrets Manager can't find the specified secret value for VersionId: ${id}`,
            );
          }
        }
        const changes = stagesForMove(stages, stage, moveTo, removeFrom);
        if (Object.keys(changes).length === 0) return undefined;
        checkStageLimit(applyStageChanges(stages, changes));
        const rotation = stagesMovedCurrent(changes) ? rotatedNow(s.rotation) : s.rotation;
        return {
          secret: { ...s, ...(rotation && { rotation }) },
          stages: changes,
          events: [stageEvent(moveTo ?? removeFrom)],
        };
      });
    },

    async listVersions(secretId: string) {
      const secret = await find(secretId);
      return { secret, versions: await store.listVersions(secret.arn) };
    },

    async deleteSecret(secretId: string, recoveryWindowInDays: number | undefined, force: boolean) {
      if (force && recoveryWindowInDays !== undefined) {
        throw new AppError(
          'InvalidParameterException',
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        );
      }
      const now = clock.now();
      const secret = await find(secretId).catch((e: unknown) => {
        // AWS answers a forced delete of a missing secret as if it had existed.
        if (force && e instanceof AppError && e.code === 'ResourceNotFoundException') return undefined;
        throw e;
      });
      if (!secret) {
        const arn = secretId.startsWith('arn:') ? secretId : `${arnPrefix}${secretId}`;
        const name = secretId.startsWith(arnPrefix) ? secretId.slice(arnPrefix.length) : secretId;
        return { secret: { arn, name }, deletionDate: now };
      }
      if (recoveryWindowInDays !== undefined && (recoveryWindowInDays < 7 || recoveryWindowInDays > 30)) {
        throw new AppError('InvalidParameterException', 'RecoveryWindowInDays must be between 7 and 30 days.');
      }
      if (force) {
        const purged = await retryConflicts(async (n) => {
          const s = n === 0 ? secret : await find(secretId);
          return (await purge(s, now)) ? s : undefined;
        });
        if (!purged) throw new AppError('InternalServiceError', 'The secret is being changed concurrently; try again.');
        return { secret: purged, deletionDate: now };
      }
      if (secret.deletedAt !== undefined) throw new AppError('InvalidRequestException', MARKED_FOR_DELETION);
      const purgeAt = now + (recoveryWindowInDays ?? 30) * DAY_MS;
      const saved = await change(secretId, async (s) => ({
        secret: { ...s, deletedAt: now, purgeAt },
        events: [{ type: 'SecretDeleted' }],
      }));
      return { secret: saved, deletionDate: purgeAt };
    },

    async restoreSecret(secretId: string) {
      return change(
        secretId,
        async (s) => {
          if (s.deletedAt === undefined) return undefined;
          const { deletedAt: _d, purgeAt: _p, ...rest } = s;
          return { secret: rest, events: [{ type: 'SecretRestored' }] };
        },
        true,
      );
    },

    async tagResource(secretId: string, tags: SecretTag[]) {
      checkTags(tags);
      return change(secretId, async (s) => {
        const merged = new Map(s.tags.map((t) => [t.Key, t.Value]));
        for (const t of tags) merged.set(t.Key, t.Value);
        if (merged.size > MAX_TAGS)
          throw new AppError('LimitExceededException', `A secret can have at most ${MAX_TAGS} tags.`);
        return {
          secret: { ...s, tags: [...merged].map(([Key, Value]) => ({ Key, Value })) },
          events: [{ type: 'SecretUpdated' }],
        };
      });
    },

    async untagResource(secretId: string, keys: string[]) {
      return change(secretId, async (s) => ({
        secret: { ...s, tags: s.tags.filter((t) => !keys.includes(t.Key)) },
        events: [{ type: 'SecretUpdated' }],
      }));
    },

    async putResourcePolicy(secretId: string, policy: string | undefined) {
      return change(secretId, async (s) => {
        const { resourcePolicy: _, ...rest } = s;
        return {
          secret: policy === undefined ? rest : { ...rest, resourcePolicy: policy },
          events: [{ type: 'SecretUpdated' }],
        };
      });
    },

    /** Purges secrets whose recovery window ended; returns how many. */
    async purgeDue(now: number, limit = 100): Promise<number> {
      let purged = 0;
      for (const s of await store.dueSecrets(now, limit)) {
        if (s.purgeAt !== undefined && s.purgeAt <= now && (await purge(s, now))) purged++;
      }
      return purged;
    },
  };

  async function reencryptLabelled(secret: SecretRecord, stages: StageMap) {
    const ids = new Set([AWSCURRENT, AWSPENDING, AWSPREVIOUS].map((l) => stages[l]).filter((v) => v !== undefined));
    const out: Omit<SecretVersionRecord, 'stages'>[] = [];
    for (const id of ids) {
      const version = await store.getVersion(secret.arn, id);
      const value = version && (await open(version));
      if (!version || !value) continue;
      const { stages: _, ...row } = version;
      out.push({ ...row, ...(await seal(secret, id, value)) });
    }
    return out;
  }

  async function selectVersion(secret: SecretRecord, versionId?: string, stage?: string): Promise<SecretVersionRecord> {
    if (versionId !== undefined) {
      const v = await store.getVersion(secret.arn, versionId);
      if (!v) {
        throw new AppError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
        );
      }
      if (stage !== undefined && !v.stages.includes(stage)) {
        throw new AppError(
          'InvalidRequestException',
          'You provided a VersionStage that is not associated to the provided VersionId.',
        );
      }
      return v;
    }
    const label = stage ?? AWSCURRENT;
    const v = await versionByStageCached(secret.arn, label);
    if (!v) {
      throw new AppError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for staging label: ${label}`,
      );
    }
    return v;
  }

  async function requireEncryptKey(ref: string): Promise<void> {
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

  function nameTaken(existing: SecretRecord): AppError {
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
}

function stagesOf(map: StageMap, versionId: string): string[] {
  return Object.entries(map)
    .filter(([, v]) => v === versionId)
    .map(([s]) => s);
}

const stagesMovedCurrent = (changes: StageChanges) => typeof changes[AWSCURRENT] === 'string';

const stageEvent = (versionId?: string): { type: SecretEventType; versionId?: string } =>
  versionId === undefined ? { type: 'StagesMoved' } : { type: 'StagesMoved', versionId };

function sameValue(a: SecretValue | undefined, b: SecretValue): boolean {
  if (!a) return false;
  if (a.string !== undefined && b.string !== undefined) return constantTimeEqual(a.string, b.string);
  if (a.binary && b.binary) return constantTimeEqual(a.binary.toString('base64'), b.binary.toString('base64'));
  return false;
}

function checkValue(v: SecretValue): void {
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

function checkName(name: string): void {
  if (!/^[a-zA-Z0-9/_+=.@-]{1,512}$/.test(name)) {
    throw new AppError(
      'ValidationException',
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    );
  }
}

function checkTags(tags: readonly SecretTag[]): void {
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.Key.startsWith('aws:'))
      throw new AppError('InvalidParameterException', 'Tag keys beginning with aws: are reserved.');
    if (seen.has(t.Key)) throw new AppError('InvalidParameterException', `Duplicate tag key: ${t.Key}`);
    seen.add(t.Key);
  }
  if (tags.length > MAX_TAGS)
    throw new AppError('LimitExceededException', `A secret can have at most ${MAX_TAGS} tags.`);
}
