// Secret versions and their staging labels: new versions (token idempotency, label moves, the kept-version
// limit), reads by version or stage, UpdateSecretVersionStage, re-encryption under a new key.
import { DAY_MS } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { setOwn } from '../../core/records.js';
import type { SecretValue } from '../../core/secret-value.js';
import { newUuid } from '../../crypto/index.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  applyStageChanges,
  checkStageLimit,
  type StageChanges,
  type StageMap,
  stagesForMove,
  stagesForNewVersion,
} from '../labels.js';
import { nextRotationAt } from '../rotation-schedule.js';
import type {
  SecretChange,
  SecretEventType,
  SecretRecord,
  SecretRotationRecord,
  SecretVersionRecord,
} from '../store.js';
import { versionNotFound } from './lookup.js';
import type { EngineParts } from './parts.js';
import { checkValue, sameValue } from './validation.js';

/** AWS keeps about 100 versions: older deprecated ones (no labels, over a day old) are deleted. */
export const MAX_KEPT_VERSIONS = 100;
const DEPRECATED_GRACE_MS = DAY_MS;

export interface NewVersionInput {
  value: SecretValue;
  token?: string;
  stages?: string[];
}

/** A planned new version: the change to commit (none when the token's version already holds this value). */
export interface PlannedVersion {
  change?: SecretChange;
  versionId: string;
  stages: string[];
}

/** Plans a new version: idempotent on the token, AWS's label moves, envelope-encrypted value. */
export async function planNewVersion(
  parts: EngineParts,
  secret: SecretRecord,
  stages: StageMap,
  input: NewVersionInput,
  extra: Partial<SecretRecord> = {},
): Promise<PlannedVersion> {
  const { store, clock, envelope } = parts;
  checkValue(input.value);
  const versionId = input.token ?? newUuid();
  const existing = await store.getVersion(secret.arn, versionId);
  if (existing?.ciphertext) {
    const same = await envelope.open(existing).then((v) => sameValue(v, input.value));
    if (!same) {
      // AWS's answer to PutSecretValue and UpdateSecret reusing a token with another value.
      throw new AppError(
        'ResourceExistsException',
        "You can't modify an existing version, you can only create a new version.",
      );
    }
    return { versionId, stages: existing.stages };
  }
  const changes = stagesForNewVersion(stages, versionId, input.stages);
  if (existing)
    for (const s of existing.stages) if (!Object.hasOwn(changes, s)) setOwn<string | null>(changes, s, versionId);
  const next = applyStageChanges(stages, changes);
  checkStageLimit(next);
  const sealed = await envelope.seal(secret, versionId, input.value);
  const rotation = stagesMovedCurrent(changes) ? rotatedNow(parts, secret.rotation) : secret.rotation;
  const deleteVersions = await deprecatedBeyondLimit(parts, secret.arn, next, existing ? 0 : 1);
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
async function deprecatedBeyondLimit(
  { store, clock }: EngineParts,
  arn: string,
  stagesAfter: StageMap,
  added: number,
): Promise<string[]> {
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
function rotatedNow(
  { clock }: EngineParts,
  rotation: SecretRotationRecord | undefined,
): SecretRotationRecord | undefined {
  if (!rotation?.rules?.AutomaticallyAfterDays || rotation.inProgress) return rotation;
  const now = clock.now();
  return { ...rotation, lastRotatedAt: now, nextRotationAt: nextRotationAt(rotation.rules, now) };
}

/** The labelled versions (AWSCURRENT, AWSPENDING, AWSPREVIOUS) sealed again under the secret's key. */
export async function reencryptLabelled({ store, envelope }: EngineParts, secret: SecretRecord, stages: StageMap) {
  const ids = new Set([AWSCURRENT, AWSPENDING, AWSPREVIOUS].map((l) => stages[l]).filter((v) => v !== undefined));
  const out: Omit<SecretVersionRecord, 'stages'>[] = [];
  for (const id of ids) {
    const version = await store.getVersion(secret.arn, id);
    const value = version && (await envelope.open(version));
    if (!version || !value) continue;
    const { stages: _, ...row } = version;
    out.push({ ...row, ...(await envelope.seal(secret, id, value)) });
  }
  return out;
}

export async function getSecretValue(
  { lookup, envelope }: EngineParts,
  secretId: string,
  versionId?: string,
  stage?: string,
) {
  const secret = await lookup.findLiveCached(secretId);
  const version = await lookup.selectVersion(secret, versionId, stage);
  const value = await envelope.open(version);
  if (!value) throw versionNotFound(version.versionId);
  return { secret, version, value };
}

/**
 * The KMS key (ARN) the version a read would select is sealed under, from the read cache;
 * undefined when there is no such version (the read itself then answers not found).
 */
export async function versionKey(
  { lookup }: EngineParts,
  secretId: string,
  versionId?: string,
  stage?: string,
): Promise<string | undefined> {
  try {
    return (await lookup.selectVersion(await lookup.cachedRecord(secretId), versionId, stage)).kmsKeyArn;
  } catch (e) {
    if (e instanceof AppError) return undefined;
    throw e;
  }
}

export async function putSecretValue(parts: EngineParts, secretId: string, input: NewVersionInput) {
  let result: { versionId: string; stages: string[] } | undefined;
  const secret = await parts.commits.change(secretId, async (s, stages) => {
    const planned = await planNewVersion(parts, s, stages, input);
    result = planned;
    return planned.change;
  });
  return { secret, ...result! };
}

export async function updateSecretVersionStage(
  parts: EngineParts,
  secretId: string,
  stage: string,
  moveTo?: string,
  removeFrom?: string,
) {
  return parts.commits.change(secretId, async (s, stages) => {
    for (const id of [moveTo, removeFrom]) {
      if (id !== undefined && !(await parts.store.getVersion(s.arn, id))) throw versionNotFound(id);
    }
    const changes = stagesForMove(stages, stage, moveTo, removeFrom);
    if (Object.keys(changes).length === 0) return undefined;
    checkStageLimit(applyStageChanges(stages, changes));
    const rotation = stagesMovedCurrent(changes) ? rotatedNow(parts, s.rotation) : s.rotation;
    return {
      secret: { ...s, ...(rotation && { rotation }) },
      stages: changes,
      events: [stageEvent(moveTo ?? removeFrom)],
    };
  });
}

export async function listVersions({ lookup, store }: EngineParts, secretId: string) {
  const secret = await lookup.find(secretId);
  return { secret, versions: await store.listVersions(secret.arn) };
}

function stagesOf(map: StageMap, versionId: string): string[] {
  return Object.entries(map)
    .filter(([, v]) => v === versionId)
    .map(([s]) => s);
}

const stagesMovedCurrent = (changes: StageChanges) => typeof changes[AWSCURRENT] === 'string';

const stageEvent = (versionId?: string): { type: SecretEventType; versionId?: string } =>
  versionId === undefined ? { type: 'StagesMoved' } : { type: 'StagesMoved', versionId };
