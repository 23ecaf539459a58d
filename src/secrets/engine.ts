// The secrets engine: composes lookups, versions and labels, the secret lifecycle, settings and the named
// rotation writes (engine/) over one store, one read cache and envelope encryption through the KMS engine.
import type { Partition } from '../core/arn.js';
import type { Clock } from '../core/clock.js';
import type { SecretValue } from '../core/secret-value.js';
import type { KmsEngine } from '../kms/index.js';
import { createAccessDates } from './access-dates.js';
import { createSecretCommits } from './engine/commit.js';
import { createSecret, deleteSecret, purgeDue, restoreSecret } from './engine/lifecycle.js';
import { createSecretLookup } from './engine/lookup.js';
import { type EngineParts, partsBinder } from './engine/parts.js';
import * as replicas from './engine/replica.js';
import * as rotationWrites from './engine/rotation-writes.js';
import { putResourcePolicy, tagResource, untagResource, updateSecret } from './engine/settings.js';
import {
  getSecretValue,
  listVersions,
  putSecretValue,
  updateSecretVersionStage,
  versionKey,
} from './engine/versions.js';
import { createSecretEnvelope } from './envelope.js';
import { SecretReadCache } from './read-cache.js';
import type { SecretRecord, SecretsStore } from './store.js';

// The one SecretValue (core/secret-value.ts), re-exported for the Secrets Manager operations.
export type { SecretValue };

export interface SecretsEngineDeps {
  store: SecretsStore;
  kms: KmsEngine;
  clock: Clock;
  partition: Partition;
  /** How long GetSecretValue may serve a cached secret record and stage lookup (ms). */
  cacheTtlMs?: number;
  /** Called after each committed change of a primary with replicas (the server's replication syncs them). */
  primaryChanged?: (primary: SecretRecord) => void;
}

export type SecretsEngine = ReturnType<typeof createSecretsEngine>;

export function createSecretsEngine(deps: SecretsEngineDeps) {
  const { store, kms, clock, partition } = deps;
  // The read path's caches: every write through this engine drops the secret's entries; another
  // replica's writes are dropped on its change notification, or after at most the TTL. Decrypted
  // values are memory only and bounded: holding the data key beside the ciphertext would expose as
  // much, and the AES-GCM setup per read costs more than the rest of GetSecretValue (bench/secrets.ts).
  const cache = new SecretReadCache(deps.cacheTtlMs ?? 1000, 10_000, () => clock.now());
  const lookup = createSecretLookup(store, cache, partition);
  const commits = createSecretCommits(store, cache, clock, lookup, deps.primaryChanged);
  const envelope = createSecretEnvelope(kms, cache);
  const parts: EngineParts = { store, kms, clock, envelope, lookup, commits };
  const bind = partsBinder(parts);
  const accessDates = createAccessDates(store, clock);
  const readValue = bind(getSecretValue);

  return {
    partition,
    find: lookup.find,
    findLive: lookup.findLive,
    onChange: commits.onChange,

    /** Drops the read caches of a secret another process changed, or of every secret. */
    invalidate(arn?: string): void {
      if (arn === undefined) cache.clear();
      else cache.invalidate(arn);
    },

    /** The secret behind an id, from the read cache (deleted ones too): what authorization reads. */
    cachedSecret: async (secretId: string): Promise<SecretRecord> => lookup.cachedRecord(secretId),
    /** The ARN a name or ARN refers to when no such secret exists (no random suffix). */
    arnForMissing: (secretId: string): string => lookup.missing(secretId).arn,
    defaultKey: envelope.defaultKey,
    listAll: () => store.listSecrets(),

    // Versions and staging labels.
    /** A version's value; the read counts for LastAccessedDate (written apart, at most once a day). */
    async getSecretValue(...args: Parameters<typeof readValue>): ReturnType<typeof readValue> {
      const read = await readValue(...args);
      accessDates.read(read.secret);
      return read;
    },
    /** Resolves once the LastAccessedDate writes of the reads so far are done. */
    accessDatesSettled: accessDates.settled,
    versionKey: bind(versionKey),
    putSecretValue: bind(putSecretValue),
    updateSecretVersionStage: bind(updateSecretVersionStage),
    listVersions: bind(listVersions),
    // The secret's life and settings.
    createSecret: bind(createSecret),
    deleteSecret: bind(deleteSecret),
    restoreSecret: bind(restoreSecret),
    purgeDue: bind(purgeDue),
    updateSecret: bind(updateSecret),
    tagResource: bind(tagResource),
    untagResource: bind(untagResource),
    putResourcePolicy: bind(putResourcePolicy),
    // Rotation's writes, each named (rotation/ reaches no other write).
    startRotation: bind(rotationWrites.startRotation),
    cancelRotation: bind(rotationWrites.cancelRotation),
    claimRotationStep: bind(rotationWrites.claimRotationStep),
    advanceRotationStep: bind(rotationWrites.advanceRotationStep),
    putPendingValue: bind(rotationWrites.putPendingValue),
    promotePending: bind(rotationWrites.promotePending),
    recordRotationFailure: bind(rotationWrites.recordRotationFailure),
    readRotationValue: bind(rotationWrites.readRotationValue),
    // Replication (the server's replication module drives these across regions).
    replicaSource: bind(replicas.replicaSource),
    applyReplica: (source: replicas.ReplicaSource, target: { kmsKeyId?: string | undefined; force: boolean }) =>
      replicas.applyReplica(parts, partition.region, source, target),
    removeReplica: bind(replicas.removeReplica),
    promoteReplica: bind(replicas.promoteReplica),
    updateReplicas: bind(replicas.updateReplicas),
  };
}
