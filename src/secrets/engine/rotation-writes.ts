// The writes a rotation makes, each one named: start, cancel, claim and advance a step, store the pending
// value, promote it, record a failure; and the one read it decrypts. Rotation reaches no other write.
import { AppError } from '../../core/errors.js';
import { retryConflicts } from '../../core/keyed-lock.js';
import { newUuid } from '../../crypto/index.js';
import {
  AWSCURRENT,
  AWSPENDING,
  applyStageChanges,
  type StageChanges,
  type StageMap,
  stagesForMove,
} from '../labels.js';
import { nextRotationOrNone } from '../rotation-schedule.js';
import type { RotationStep, SecretChange, SecretRecord, SecretRotationRecord, SecretVersionRecord } from '../store.js';
import type { EngineParts } from './parts.js';
import { planNewVersion } from './versions.js';

type InProgress = NonNullable<SecretRotationRecord['inProgress']>;
type LastFailure = NonNullable<SecretRotationRecord['lastFailure']>;

export interface StartRotationInput {
  /** RotateSecret's ClientRequestToken: the pending version's id (a new one when absent). */
  token?: string;
  /** RotateImmediately=false: only the settings and the schedule change. */
  scheduleOnly: boolean;
}

/** The rotation settings to record, decided from a fresh read of the secret and its stages; may refuse. */
export type RotationSettings = (secret: SecretRecord, stages: StageMap) => SecretRotationRecord;

/**
 * RotateSecret: records the settings and the next window; unless only the schedule changes, an
 * empty version named by the token takes AWSPENDING and the rotation starts at createSecret.
 */
export async function startRotation(
  { clock, commits, store }: EngineParts,
  secretId: string,
  input: StartRotationInput,
  settings: RotationSettings,
): Promise<{ secret: SecretRecord; versionId?: string }> {
  let versionId: string | undefined;
  const secret = await commits.change(secretId, async (s, stages) => {
    const rotation = settings(s, stages);
    const now = clock.now();
    const scheduled = { ...rotation, ...nextRotationOrNone(rotation.rules, now) };
    versionId = undefined;
    // Only the schedule changes; the first rotation runs in the next window.
    if (input.scheduleOnly) return { secret: withRotation(s, scheduled), events: [{ type: 'SecretUpdated' }] };
    const ip = s.rotation?.inProgress;
    if (ip && !s.rotation?.lastFailure) {
      if (input.token === ip.token) {
        versionId = ip.token;
        return undefined; // the same RotateSecret again: already under way
      }
      throw new AppError(
        'InvalidRequestException',
        "A previous rotation isn't complete. That rotation will be reattempted.",
      );
    }
    const token = input.token ?? newUuid();
    versionId = token;
    return planPending(store, s, stages, token, scheduled, now);
  });
  return { secret, ...(versionId && { versionId }) };
}

/** AWSPENDING moves to the token's version (an empty placeholder unless it exists); the rotation begins. */
async function planPending(
  store: EngineParts['store'],
  s: SecretRecord,
  stages: StageMap,
  token: string,
  rotation: SecretRotationRecord,
  now: number,
): Promise<SecretChange> {
  const ip = s.rotation?.inProgress;
  const holder = stages[AWSPENDING];
  // A failed rotation's leftover is superseded (AWSPENDING moves off it below); any other
  // AWSPENDING means one is under way.
  if (holder !== undefined && holder !== stages[AWSCURRENT] && holder !== ip?.token) {
    throw new AppError(
      'InvalidRequestException',
      "A previous rotation isn't complete: AWSPENDING is attached to another version.",
    );
  }
  const existing = await store.getVersion(s.arn, token);
  if (existing?.ciphertext && !existing.stages.includes(AWSPENDING)) {
    throw new AppError('ResourceExistsException', `A version with ClientRequestToken ${token} already exists.`);
  }
  // Retrying a failed rotation with its own token keeps the value that rotation made.
  const pendingMade = ip?.token === token && ip.pendingMade === true && existing?.ciphertext !== undefined;
  const inProgress: InProgress = {
    token,
    step: 'createSecret',
    attempts: 0,
    nextAttemptAt: now,
    ...(pendingMade && { pendingMade }),
  };
  return {
    secret: withRotation(s, { ...rotation, inProgress }),
    ...(!existing && { newVersion: { secretArn: s.arn, versionId: token, createdAt: now, binary: false } }),
    stages: { [AWSPENDING]: token },
    events: [
      { type: 'VersionCreated', versionId: token },
      { type: 'StagesMoved', versionId: token },
    ],
  };
}

/** CancelRotateSecret: rotation off, the one under way dropped with its AWSPENDING. */
export async function cancelRotation(
  { commits }: EngineParts,
  secretId: string,
): Promise<{ secret: SecretRecord; versionId?: string }> {
  let versionId: string | undefined;
  const secret = await commits.change(secretId, async (s, stages) => {
    const token = s.rotation?.inProgress?.token;
    versionId = token;
    const { nextRotationAt: _n, ...rest } = withoutInProgress(s.rotation ?? { enabled: false });
    return {
      secret: withRotation(s, { ...rest, enabled: false }),
      ...(token && stages[AWSPENDING] === token && { stages: { [AWSPENDING]: null } }),
      events: [{ type: 'SecretUpdated' }],
    };
  });
  return { secret, ...(versionId && { versionId }) };
}

/**
 * Claims the step under way by pushing its next attempt one lease ahead: a revision-checked
 * write, so one runner wins. Undefined when another runner (or replica) got there first.
 */
export async function claimRotationStep(
  { clock, commits }: EngineParts,
  secret: SecretRecord,
  leaseMs: number,
): Promise<SecretRecord | undefined> {
  const rotation = secret.rotation!;
  const inProgress = { ...rotation.inProgress!, nextAttemptAt: clock.now() + leaseMs };
  return commits.commit({ secret: withRotation(secret, { ...rotation, inProgress }), events: [] }, clock.now());
}

/** Moves the rotation on to `next` if the same rotation is still at `step`; false when it moved on. */
export async function advanceRotationStep(
  { store, clock, commits }: EngineParts,
  arn: string,
  token: string,
  step: RotationStep,
  next: RotationStep,
) {
  const done = await retryConflicts(async () => {
    const current = await store.getSecretByArn(arn);
    const ip = current?.rotation?.inProgress;
    if (!current || ip?.token !== token || ip.step !== step) return false;
    const inProgress: InProgress = { ...ip, step: next, attempts: 0, nextAttemptAt: clock.now() };
    const saved = await commits.commit(
      { secret: withRotation(current, { ...current.rotation!, inProgress }), events: [] },
      clock.now(),
    );
    return saved ? true : undefined;
  });
  return done ?? false;
}

/**
 * Stores the rotation's new value as the AWSPENDING version `token` (PutSecretValue with
 * VersionStages [AWSPENDING]), marked in the same commit as made by this rotation.
 */
export async function putPendingValue(parts: EngineParts, arn: string, token: string, value: string): Promise<void> {
  await parts.commits.change(arn, async (s, stages) => {
    const planned = await planNewVersion(parts, markPendingMade(s, token), stages, {
      value: { string: value },
      token,
      stages: [AWSPENDING],
    });
    return planned.change;
  });
}

/**
 * finishSecret: AWSCURRENT (and AWSPREVIOUS) move to the tested version, AWSPENDING is removed,
 * the rotation is recorded done. False, changing nothing, when the pending version has no value.
 */
export async function promotePending(
  { store, clock, commits }: EngineParts,
  arn: string,
  token: string,
): Promise<boolean> {
  let hasValue = true;
  await commits.change(arn, async (s, stages) => {
    hasValue = Boolean((await store.getVersion(arn, token))?.ciphertext);
    if (!hasValue) return undefined;
    const current = stages[AWSCURRENT];
    const changes: StageChanges = stagesForMove(stages, AWSCURRENT, token, current === token ? undefined : current);
    if (applyStageChanges(stages, changes)[AWSPENDING] === token) changes[AWSPENDING] = null;
    const now = clock.now();
    const rotation: SecretRotationRecord = {
      ...withoutInProgress(s.rotation!),
      lastRotatedAt: now,
      ...nextRotationOrNone(s.rotation?.rules, now),
    };
    delete rotation.lastFailure;
    return {
      secret: withRotation(s, rotation),
      stages: changes,
      events: [{ type: 'StagesMoved', versionId: token }],
    };
  });
  return hasValue;
}

/**
 * Records a failed step of the rotation `claimed` holds: with `retry`, the attempt to come;
 * without, the rotation is abandoned (AWSPENDING removed from its version, the next window set).
 * Done once recorded, or when that rotation moved on meanwhile; a lost write is retried.
 */
export async function recordRotationFailure(
  { store, clock, commits }: EngineParts,
  claimed: SecretRecord,
  lastFailure: LastFailure,
  retry?: Pick<InProgress, 'attempts' | 'nextAttemptAt'>,
): Promise<void> {
  const token = claimed.rotation!.inProgress!.token;
  await retryConflicts(async (n) => {
    const current = n === 0 ? claimed : await store.getSecretByArn(claimed.arn);
    if (!current?.rotation?.inProgress || current.rotation.inProgress.token !== token) return true;
    const base = current.rotation;
    const next: SecretRotationRecord = retry
      ? // On the record as it is now: the step may have committed its pending value (and its mark) before failing.
        { ...base, lastFailure, inProgress: { ...base.inProgress!, ...retry } }
      : { ...withoutInProgress(base), lastFailure, ...nextRotationOrNone(base.rules, clock.now()) };
    const stages = retry ? undefined : await pendingRemoval(commits, current.arn, token);
    const saved = await commits.commit(
      {
        secret: withRotation(current, next),
        ...(stages && { stages }),
        events: stages ? [{ type: 'StagesMoved', versionId: token }] : [],
      },
      clock.now(),
    );
    return saved ? true : undefined;
  });
}

async function pendingRemoval(
  commits: EngineParts['commits'],
  arn: string,
  token: string,
): Promise<StageChanges | undefined> {
  const stages = await commits.stageMap(arn);
  return stages[AWSPENDING] === token ? { [AWSPENDING]: null } : undefined;
}

/** A version's SecretString, decrypted for a step that has authorized the read as its principal. */
export async function readRotationValue(
  { envelope }: EngineParts,
  version: SecretVersionRecord,
): Promise<string | undefined> {
  return (await envelope.open(version))?.string;
}

function markPendingMade(s: SecretRecord, token: string): SecretRecord {
  const ip = s.rotation?.inProgress;
  if (ip?.token !== token) return s;
  return withRotation(s, { ...s.rotation!, inProgress: { ...ip, pendingMade: true } });
}

function withRotation(s: SecretRecord, rotation: SecretRotationRecord): SecretRecord {
  return { ...s, rotation };
}

function withoutInProgress(r: SecretRotationRecord): SecretRotationRecord {
  const { inProgress: _, ...rest } = r;
  return rest;
}
