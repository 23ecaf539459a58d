// Staging-label moves, exactly as AWS Secrets Manager makes them. Pure: stage maps in, changes out.
import { AppError } from '../core/errors.js';
import { ownRecord, ownValue, setOwn } from '../core/records.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';
export const MAX_STAGES_PER_VERSION = 20;

/** Stage → the version it labels (each stage labels at most one version of a secret). */
export type StageMap = Readonly<Record<string, string>>;
/** Stage → new version, or null to remove the stage. */
export type StageChanges = Record<string, string | null>;

/** Collects the stage map of a secret from its versions. */
export function stageMapOf(versions: readonly { versionId: string; stages: readonly string[] }[]): StageMap {
  // ownRecord/ownValue throughout: a label may be named "__proto__" or "constructor".
  return ownRecord(versions.flatMap((v) => v.stages.map((s): [string, string] => [s, v.versionId])));
}

/**
 * A new version (PutSecretValue, UpdateSecret with a value, CreateSecret): each requested stage
 * moves to it (default AWSCURRENT); when AWSCURRENT moves, AWSPREVIOUS follows to the old current.
 * The first version of a secret always gets AWSCURRENT.
 */
export function stagesForNewVersion(current: StageMap, versionId: string, requested?: readonly string[]): StageChanges {
  const stages = new Set(requested ?? [AWSCURRENT]);
  if (current[AWSCURRENT] === undefined) stages.add(AWSCURRENT);
  const changes: StageChanges = ownRecord([...stages].map((s) => [s, versionId]));
  const oldCurrent = current[AWSCURRENT];
  if (stages.has(AWSCURRENT) && oldCurrent !== undefined && oldCurrent !== versionId) {
    changes[AWSPREVIOUS] = oldCurrent;
    // A finished rotation's version can still carry AWSPENDING; it does not survive losing AWSCURRENT.
    if (current[AWSPENDING] === oldCurrent && !stages.has(AWSPENDING)) changes[AWSPENDING] = null;
  }
  return changes;
}

/**
 * UpdateSecretVersionStage. The stage is added to `moveTo`; if another version holds it, the caller
 * must name that version in `removeFrom`. Moving AWSCURRENT moves AWSPREVIOUS to the old current
 * version. AWSPENDING is never removed implicitly.
 */
export function stagesForMove(current: StageMap, stage: string, moveTo?: string, removeFrom?: string): StageChanges {
  const holder = ownValue(current, stage);
  if (removeFrom !== undefined && holder !== removeFrom) {
    throw new AppError(
      'InvalidRequestException',
      'You provided a VersionStage that is not associated to the provided VersionId.',
    );
  }
  if (moveTo === undefined) {
    if (removeFrom === undefined) {
      throw new AppError('InvalidParameterException', 'Give MoveToVersionId, RemoveFromVersionId, or both.');
    }
    if (stage === AWSCURRENT) {
      throw new AppError('InvalidParameterException', 'AWSCURRENT can only be moved to another version, not removed.');
    }
    return { [stage]: null };
  }
  if (holder !== undefined && holder !== moveTo && removeFrom === undefined) {
    throw new AppError(
      'InvalidParameterException',
      `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder}, so you must explicitly reference that version in RemoveFromVersionId.`,
    );
  }
  if (holder === moveTo) return {};
  const changes: StageChanges = { [stage]: moveTo };
  if (stage === AWSCURRENT && holder !== undefined) changes[AWSPREVIOUS] = holder;
  return changes;
}

/** The stage map after applying changes. */
export function applyStageChanges(current: StageMap, changes: StageChanges): StageMap {
  const next = ownRecord(Object.entries(current));
  for (const [stage, versionId] of Object.entries(changes)) {
    if (versionId === null) delete next[stage];
    else setOwn(next, stage, versionId);
  }
  return next;
}

/** Throws when a version would carry more than 20 labels. */
export function checkStageLimit(map: StageMap): void {
  const counts = new Map<string, number>();
  for (const versionId of Object.values(map)) counts.set(versionId, (counts.get(versionId) ?? 0) + 1);
  for (const count of counts.values()) {
    if (count > MAX_STAGES_PER_VERSION) {
      throw new AppError(
        'LimitExceededException',
        `A version can have at most ${MAX_STAGES_PER_VERSION} staging labels.`,
      );
    }
  }
}
