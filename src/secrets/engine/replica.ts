// Replication's writes in one region: reading a primary as a source, bringing a replica up to date from it
// (idempotent: copies only what the replica lacks), removing and promoting replicas, the primary's replica list.
import { AppError } from '../../core/errors.js';
import { retryConflicts } from '../../core/keyed-lock.js';
import { ownValue, setOwn } from '../../core/records.js';
import type { SecretValue } from '../../core/secret-value.js';
import { namesDefaultKey } from '../envelope.js';
import { AWSCURRENT, type StageChanges, stageMapOf } from '../labels.js';
import { NAME_EXISTS_MESSAGE, replicaArn } from '../replication.js';
import type { ReplicaRecord, SecretChange, SecretEventType, SecretRecord, SecretVersionRecord } from '../store.js';
import { concurrentChange } from './commit.js';
import type { EngineParts } from './parts.js';
import { requireEncryptKey } from './validation.js';

/** A primary as replicas copy it: its record, its versions, and their values opened on demand. */
export interface ReplicaSource {
  secret: SecretRecord;
  versions: SecretVersionRecord[];
  open(version: SecretVersionRecord): Promise<SecretValue | undefined>;
}

export type ReplicaOutcome = { status: 'InSync' } | { status: 'Failed'; statusMessage: string };

/** The primary behind an ARN as a source, or undefined when it is gone. */
export async function replicaSource({ store, envelope }: EngineParts, arn: string): Promise<ReplicaSource | undefined> {
  const secret = await store.getSecretByArn(arn);
  if (!secret) return undefined;
  return { secret, versions: await store.listVersions(arn), open: (v) => envelope.open(v) };
}

/**
 * Brings this region's replica of `source` up to date: creates it (overwriting a secret of the name only
 * when `force`), seals each version it lacks under its own key, then matches labels and settings.
 */
export async function applyReplica(
  parts: EngineParts,
  region: string,
  source: ReplicaSource,
  target: { kmsKeyId?: string | undefined; force: boolean },
): Promise<ReplicaOutcome> {
  const { store, commits, clock, kms } = parts;
  let replica = await store.getSecretByName(source.secret.name);
  if (replica && replica.primary?.arn !== source.secret.arn) {
    if (!target.force) return { status: 'Failed', statusMessage: NAME_EXISTS_MESSAGE };
    if (!(await commits.purge(replica, clock.now()))) throw concurrentChange();
    replica = undefined;
  }
  if (!replica) {
    const kmsKeyId = namesDefaultKey(target.kmsKeyId) ? undefined : target.kmsKeyId;
    if (kmsKeyId !== undefined) await requireEncryptKey(kms, kmsKeyId);
    replica = await createReplica(parts, region, source, kmsKeyId);
  }
  const held = new Set((await store.listVersions(replica.arn)).map((v) => v.versionId));
  for (const version of source.versions) {
    if (held.has(version.versionId)) continue;
    const value = await source.open(version);
    if (!value) continue; // a rotation's empty placeholder: nothing to copy yet
    replica = await commitOrThrow(parts, {
      secret: replica,
      newVersion: {
        secretArn: replica.arn,
        versionId: version.versionId,
        createdAt: version.createdAt,
        ...(await parts.envelope.seal(replica, version.versionId, value)),
      },
      events: [{ type: 'VersionCreated', versionId: version.versionId }],
    });
  }
  const final = await finishingChange(parts, replica, source);
  if (final) await commitOrThrow(parts, final);
  return { status: 'InSync' };
}

async function createReplica(
  { store }: EngineParts,
  region: string,
  source: ReplicaSource,
  kmsKeyId: string | undefined,
): Promise<SecretRecord> {
  const p = source.secret;
  const secret: SecretRecord = {
    arn: replicaArn(p.arn, region),
    name: p.name,
    revision: 1,
    createdAt: p.createdAt,
    lastChangedAt: p.lastChangedAt,
    tags: [],
    primary: { arn: p.arn, region: p.arn.split(':')[3] ?? '' },
    ...(kmsKeyId !== undefined && { kmsKeyId }),
  };
  if (!(await store.createSecret({ secret, events: [{ type: 'SecretCreated' }] }))) throw concurrentChange();
  return secret;
}

/** The settings a replica takes from its primary (the key stays the replica's own; rotation runs on the primary). */
function settingsOf(p: SecretRecord) {
  return {
    description: p.description,
    tags: p.tags,
    everTagged: p.everTagged,
    resourcePolicy: p.resourcePolicy,
  };
}

/** Labels, deletions and settings the replica still lacks; undefined when it has them all. */
async function finishingChange(
  { store }: EngineParts,
  replica: SecretRecord,
  source: ReplicaSource,
): Promise<SecretChange | undefined> {
  const held = await store.listVersions(replica.arn);
  const want = stageMapOf(source.versions);
  const have = stageMapOf(held);
  const heldIds = new Set(held.map((v) => v.versionId));
  const stages: StageChanges = {};
  for (const [stage, versionId] of Object.entries(want))
    if (ownValue(have, stage) !== versionId && heldIds.has(versionId)) setOwn<string | null>(stages, stage, versionId);
  for (const stage of Object.keys(have))
    if (ownValue(want, stage) === undefined) setOwn<string | null>(stages, stage, null);
  const sourceIds = new Set(source.versions.map((v) => v.versionId));
  const deleteVersions = held.filter((v) => !sourceIds.has(v.versionId)).map((v) => v.versionId);
  const settings = settingsOf(source.secret);
  const settingsChanged = JSON.stringify(settings) !== JSON.stringify(settingsOf(replica));
  const stagesChanged = Object.keys(stages).length > 0;
  if (!settingsChanged && !stagesChanged && deleteVersions.length === 0) return undefined;
  const events: { type: SecretEventType; versionId?: string }[] = [];
  if (settingsChanged) events.push({ type: 'SecretUpdated' });
  const current = ownValue(stages, AWSCURRENT);
  if (stagesChanged) events.push(current ? { type: 'StagesMoved', versionId: current } : { type: 'StagesMoved' });
  const { description: _d, resourcePolicy: _r, everTagged: _e, ...rest } = replica;
  const secret: SecretRecord = {
    ...rest,
    tags: settings.tags,
    lastChangedAt: source.secret.lastChangedAt,
    ...(settings.description !== undefined && { description: settings.description }),
    ...(settings.resourcePolicy !== undefined && { resourcePolicy: settings.resourcePolicy }),
    ...(settings.everTagged && { everTagged: true as const }),
  };
  return {
    secret,
    ...(stagesChanged && { stages }),
    ...(deleteVersions.length > 0 && { deleteVersions }),
    events: events.length ? events : [{ type: 'SecretUpdated' }],
  };
}

async function commitOrThrow({ commits, clock }: EngineParts, change: SecretChange): Promise<SecretRecord> {
  const saved = await commits.commit(change, clock.now());
  if (!saved) throw concurrentChange();
  return saved;
}

/** RemoveRegionsFromReplication in the replica's region: the replica goes at once (no recovery window). */
export async function removeReplica({ store, commits, clock }: EngineParts, primaryArn: string, name: string) {
  const replica = await store.getSecretByName(name);
  if (replica?.primary?.arn !== primaryArn) return false;
  return commits.purge(replica, clock.now());
}

/** StopReplicationToReplica: the replica drops its link and becomes a standalone primary. */
export async function promoteReplica({ lookup, commits, clock }: EngineParts, secretId: string) {
  const promoted = await retryConflicts(async () => {
    const s = await lookup.find(secretId);
    if (!s.primary)
      throw new AppError('InvalidRequestException', 'The secret is not a replica secret; there is nothing to stop.');
    const { primary, ...rest } = s;
    const change: SecretChange = {
      secret: { ...rest, lastChangedAt: clock.now() },
      events: [{ type: 'SecretUpdated' }],
    };
    const secret = await commits.commit(change, clock.now());
    return secret && { secret, formerPrimary: primary };
  });
  if (!promoted) throw concurrentChange();
  return promoted;
}

/**
 * Changes a primary's replica list (no event: nothing a watcher reads changed). `expected`, when given, is
 * the revision the statuses were computed from: a primary changed since keeps its InProgress marks.
 */
export async function updateReplicas(
  { store, commits, clock }: EngineParts,
  arn: string,
  update: (replicas: readonly ReplicaRecord[], s: SecretRecord) => ReplicaRecord[],
  expected?: number,
): Promise<SecretRecord | undefined> {
  return retryConflicts(async (): Promise<SecretRecord | false | undefined> => {
    const s = await store.getSecretByArn(arn);
    if (!s || (expected !== undefined && s.revision !== expected)) return false;
    const { replicas: _, ...rest } = s;
    const replicas = update(s.replicas ?? [], s);
    return commits.commit({ secret: replicas.length ? { ...rest, replicas } : rest, events: [] }, clock.now());
  }).then((r) => (r === false ? undefined : r));
}
