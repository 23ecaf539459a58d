// Secret rotation: RotateSecret, the scheduler's due rotations, and the crash-safe four-step runner.
//
// A rotation is persisted on the secret as `rotation.inProgress = {token, step, attempts,
// nextAttemptAt}`. Before running a step the runner claims it by pushing nextAttemptAt one lease
// ahead (a revision-checked write, so only one replica wins); after the step it records the next
// step. A crash leaves the claim to expire and the step runs again: steps are idempotent, as AWS
// requires of rotation Lambdas. A failed step keeps AWSCURRENT untouched, records the failure and
// retries with backoff; after MAX_ATTEMPTS it is abandoned and AWSPENDING removed.
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { backoffDelay } from '../core/retry.js';
import { newUuid } from '../crypto/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RotationStep, SecretRecord, SecretRotationRecord, SecretsStore } from '../storage/index.js';
import type { SecretsEngine } from './engine.js';
import { AWSCURRENT, AWSPENDING, applyStageChanges, type StageChanges, stagesForMove } from './labels.js';
import { generatePassword } from './random-password.js';
import { nextRotationAt, type RotationRules, validateRotationRules } from './rotation-schedule.js';
import { postgresAlternatingUsers, postgresSingleUser } from './rotators/postgres.js';
import { randomPasswordRotator } from './rotators/random-password.js';
import { type RotationContext, RotationStepError, type Rotator } from './rotators/types.js';
import { webhookRotator } from './rotators/webhook.js';

export const MAX_ATTEMPTS = 5;
const RETRY_POLICY = { baseMs: 30_000, capMs: 30 * 60_000 };
const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const STRATEGY_PREFIX = 'keysafe:rotation:';

/**
 * Parses RotationLambdaARN, which names a Keysafe strategy:
 *   keysafe:rotation:random-password[?field=password&length=32&exclude-characters=…&exclude-punctuation=true]
 *   keysafe:rotation:postgres:single-user | keysafe:rotation:postgres:alternating-users
 *   keysafe:rotation:webhook:<http(s) URL>
 */
export function rotatorFor(lambdaArn: string): Rotator {
  const spec = lambdaArn.startsWith(STRATEGY_PREFIX) ? lambdaArn.slice(STRATEGY_PREFIX.length) : undefined;
  if (spec?.startsWith('random-password')) {
    const rest = spec.slice('random-password'.length);
    if (rest !== '' && !rest.startsWith('?')) throw badStrategy(lambdaArn);
    const q = new URLSearchParams(rest.slice(1));
    const length = q.has('length') ? Number(q.get('length')) : undefined;
    if (length !== undefined && !(Number.isInteger(length) && length >= 1 && length <= 4096))
      throw badStrategy(lambdaArn);
    return randomPasswordRotator({
      field: q.get('field') ?? 'password',
      ...(length !== undefined && { length }),
      ...(q.has('exclude-characters') && { excludeCharacters: q.get('exclude-characters')! }),
      ...(q.get('exclude-punctuation') === 'true' && { excludePunctuation: true }),
    });
  }
  if (spec === 'postgres:single-user') return postgresSingleUser();
  if (spec === 'postgres:alternating-users') return postgresAlternatingUsers();
  if (spec?.startsWith('webhook:')) {
    const url = spec.slice('webhook:'.length);
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw badStrategy(lambdaArn);
    return webhookRotator(url);
  }
  throw badStrategy(lambdaArn);
}

function badStrategy(value: string): AppError {
  return new AppError(
    'InvalidParameterException',
    `RotationLambdaARN '${value.slice(0, 256)}' names no Keysafe rotation strategy; use keysafe:rotation:random-password, keysafe:rotation:postgres:single-user, keysafe:rotation:postgres:alternating-users or keysafe:rotation:webhook:<url>.`,
  );
}

export interface RotationDeps {
  engine: SecretsEngine;
  store: SecretsStore;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  /** How long a claimed step may run before another runner may take it over (after a crash). */
  leaseMs?: number;
}

export const DEFAULT_ROTATION_LEASE_MS = 5 * 60_000;

export type Rotation = ReturnType<typeof createRotation>;

export function createRotation(deps: RotationDeps) {
  const { engine, store, clock, logger } = deps;
  const leaseMs = deps.leaseMs ?? DEFAULT_ROTATION_LEASE_MS;
  const running = new Map<string, Promise<void>>();

  /** Runs the steps of a secret's rotation in the background; one runner per secret per process. */
  function kick(arn: string): Promise<void> {
    let run = running.get(arn);
    if (!run) {
      run = drive(arn)
        .catch((e: unknown) =>
          logger.error('rotation runner failed', {
            secret: arn,
            error: (e as Error)?.name,
            stack: (e as Error)?.stack,
          }),
        )
        .finally(() => running.delete(arn));
      running.set(arn, run);
    }
    return run;
  }

  async function drive(arn: string): Promise<void> {
    for (;;) {
      const secret = await store.getSecretByArn(arn);
      const ip = secret?.rotation?.inProgress;
      if (!secret || !ip || ip.nextAttemptAt > clock.now() || secret.deletedAt !== undefined) return;
      const claimed = await engine.commit(
        {
          secret: withRotation(secret, {
            ...secret.rotation!,
            inProgress: { ...ip, nextAttemptAt: clock.now() + leaseMs },
          }),
          events: [],
        },
        clock.now(),
      );
      if (!claimed) return; // another replica (or runner) holds it
      if (!(await runStep(claimed))) return;
    }
  }

  /** Runs the claimed step; returns true when the rotation should continue with the next step. */
  async function runStep(secret: SecretRecord): Promise<boolean> {
    const rotation = secret.rotation!;
    const ip = rotation.inProgress!;
    const started = performance.now();
    try {
      const rotator = rotatorFor(rotation.lambdaArn!);
      const ctx = contextFor(secret, ip.token);
      if (ip.step === 'finishSecret') {
        await rotator.finishSecret?.(ctx);
        await finish(secret.arn, ip.token);
        deps.metrics?.observe('rotation.finishSecret', 'ok', (performance.now() - started) / 1000);
        logger.info('secret rotated', { secret: secret.arn, versionId: ip.token });
        return false;
      }
      await rotator[ip.step](ctx);
      deps.metrics?.observe(`rotation.${ip.step}`, 'ok', (performance.now() - started) / 1000);
      const next = STEPS[STEPS.indexOf(ip.step) + 1]!;
      // The step itself may have changed the secret (createSecret stores the pending value).
      return await updateInProgress(secret.arn, ip.token, ip.step, (r) => ({
        ...r,
        inProgress: { ...r.inProgress!, step: next, attempts: 0, nextAttemptAt: clock.now() },
      }));
    } catch (e) {
      deps.metrics?.observe(`rotation.${ip.step}`, 'failed', (performance.now() - started) / 1000);
      await recordFailure(secret, e);
      return false;
    }
  }

  async function recordFailure(secret: SecretRecord, e: unknown): Promise<void> {
    const rotation = secret.rotation!;
    const ip = rotation.inProgress!;
    const message =
      e instanceof RotationStepError || e instanceof AppError
        ? e.message
        : `${ip.step} failed (${(e as Error)?.name ?? 'error'})`;
    const attempts = ip.attempts + 1;
    const lastFailure = { at: clock.now(), step: ip.step, message };
    logger.warn('rotation step failed', { secret: secret.arn, step: ip.step, attempts, message });
    const abandon = attempts >= MAX_ATTEMPTS;
    for (let attempt = 0; attempt < 8; attempt++) {
      const current = attempt === 0 ? secret : await store.getSecretByArn(secret.arn);
      if (!current?.rotation?.inProgress || current.rotation.inProgress.token !== ip.token) return;
      const base = current.rotation;
      const next: SecretRotationRecord = abandon
        ? { ...withoutInProgress(base), lastFailure, ...nextOrNone(base.rules, clock.now()) }
        : {
            ...base,
            lastFailure,
            inProgress: {
              ...ip,
              attempts,
              nextAttemptAt: clock.now() + RETRY_POLICY.baseMs + backoffDelay(attempts, RETRY_POLICY),
            },
          };
      const stages = abandon ? await pendingRemoval(current.arn, ip.token) : undefined;
      const saved = await engine.commit(
        {
          secret: withRotation(current, next),
          ...(stages && { stages }),
          events: stages ? [{ type: 'StagesMoved', versionId: ip.token }] : [],
        },
        clock.now(),
      );
      if (saved) return;
    }
  }

  /** Rewrites the rotation record if the same rotation is still at `step`; false when it moved on. */
  async function updateInProgress(
    arn: string,
    token: string,
    step: RotationStep,
    update: (r: SecretRotationRecord) => SecretRotationRecord,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const current = await store.getSecretByArn(arn);
      const ip = current?.rotation?.inProgress;
      if (!current || ip?.token !== token || ip.step !== step) return false;
      if (await engine.commit({ secret: withRotation(current, update(current.rotation!)), events: [] }, clock.now()))
        return true;
    }
    return false;
  }

  async function pendingRemoval(arn: string, token: string): Promise<StageChanges | undefined> {
    const stages = await engine.stageMap(arn);
    return stages[AWSPENDING] === token ? { [AWSPENDING]: null } : undefined;
  }

  /** finishSecret: AWSCURRENT (and AWSPREVIOUS) move to the tested version; AWSPENDING is removed. */
  async function finish(arn: string, token: string): Promise<void> {
    await engine.change(arn, async (s, stages) => {
      const pending = await store.getVersion(arn, token);
      if (!pending?.ciphertext) throw new RotationStepError('finishSecret: the pending version has no value');
      const changes: StageChanges = stagesForMove(
        stages,
        AWSCURRENT,
        token,
        stages[AWSCURRENT] === token ? undefined : stages[AWSCURRENT],
      );
      if (applyStageChanges(stages, changes)[AWSPENDING] === token) changes[AWSPENDING] = null;
      const now = clock.now();
      const rotation: SecretRotationRecord = {
        ...withoutInProgress(s.rotation!),
        lastRotatedAt: now,
        ...nextOrNone(s.rotation?.rules, now),
      };
      delete rotation.lastFailure;
      return {
        secret: withRotation(s, rotation),
        stages: changes,
        events: [{ type: 'StagesMoved', versionId: token }],
      };
    });
  }

  function contextFor(secret: SecretRecord, token: string): RotationContext {
    const stringOf = async (v: Awaited<ReturnType<SecretsStore['getVersion']>>) => {
      if (!v) return undefined;
      return (await engine.open(v))?.string;
    };
    return {
      secretArn: secret.arn,
      token,
      getValue: async (sel) =>
        stringOf(
          'stage' in sel
            ? await store.getVersionByStage(secret.arn, sel.stage)
            : await store.getVersion(secret.arn, sel.versionId),
        ),
      getOtherSecretValue: async (secretId) => {
        const { value } = await engine.getSecretValue(secretId);
        if (value.string === undefined) throw new RotationStepError(`the secret ${secretId} has no SecretString`);
        return value.string;
      },
      putPendingValue: async (value) => {
        await engine.putSecretValue(secret.arn, { value: { string: value }, token, stages: [AWSPENDING] });
      },
      generatePassword: (o) =>
        generatePassword({
          ...(o?.length !== undefined && { PasswordLength: o.length }),
          ...(o?.excludeCharacters !== undefined && { ExcludeCharacters: o.excludeCharacters }),
          ...(o?.excludePunctuation !== undefined && { ExcludePunctuation: o.excludePunctuation }),
        }),
    };
  }

  /** Starts a rotation: an empty AWSPENDING version named by the token, then the steps in the background. */
  async function start(
    secretId: string,
    input: { token?: string; lambdaArn?: string; rules?: RotationRules; rotateImmediately?: boolean },
  ): Promise<{ secret: SecretRecord; versionId?: string }> {
    if (input.rules) validateRotationRules(input.rules);
    if (input.lambdaArn !== undefined) rotatorFor(input.lambdaArn);
    let versionId: string | undefined;
    const secret = await engine.change(secretId, async (s, stages) => {
      const lambdaArn = input.lambdaArn ?? s.rotation?.lambdaArn;
      if (!lambdaArn)
        throw new AppError(
          'InvalidRequestException',
          'No Lambda rotation function ARN is associated with this secret.',
        );
      const rules = input.rules ?? s.rotation?.rules;
      const base: SecretRotationRecord = {
        ...(s.rotation ?? { enabled: false }),
        enabled: rules !== undefined,
        lambdaArn,
      };
      if (rules) base.rules = rules;
      const now = clock.now();
      if (input.rotateImmediately === false) {
        // Only the schedule changes; the first rotation runs in the next window.
        versionId = undefined;
        return { secret: withRotation(s, { ...base, ...nextOrNone(rules, now) }), events: [{ type: 'SecretUpdated' }] };
      }
      const ip = s.rotation?.inProgress;
      const changes: StageChanges = {};
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
      const pendingHolder = stages[AWSPENDING];
      if (pendingHolder !== undefined && pendingHolder !== stages[AWSCURRENT]) {
        // A failed rotation's leftover is superseded; any other AWSPENDING means one is under way.
        if (pendingHolder !== ip?.token) {
          throw new AppError(
            'InvalidRequestException',
            "A previous rotation isn't complete: AWSPENDING is attached to another version.",
          );
        }
        changes[AWSPENDING] = null;
      }
      const token = input.token ?? newUuid();
      versionId = token;
      const existing = await store.getVersion(s.arn, token);
      if (existing?.ciphertext && !existing.stages.includes(AWSPENDING)) {
        throw new AppError('ResourceExistsException', `A version with ClientRequestToken ${token} already exists.`);
      }
      changes[AWSPENDING] = token;
      return {
        secret: withRotation(s, {
          ...base,
          ...nextOrNone(rules, now),
          inProgress: { token, step: 'createSecret', attempts: 0, nextAttemptAt: now },
        }),
        ...(!existing && { newVersion: { secretArn: s.arn, versionId: token, createdAt: now, binary: false } }),
        stages: changes,
        events: [
          { type: 'VersionCreated', versionId: token },
          { type: 'StagesMoved', versionId: token },
        ],
      };
    });
    if (versionId) void kick(secret.arn);
    return { secret, ...(versionId && { versionId }) };
  }

  return {
    rotateSecret: start,

    async cancelRotateSecret(secretId: string): Promise<{ secret: SecretRecord; versionId?: string }> {
      let versionId: string | undefined;
      const secret = await engine.change(secretId, async (s, stages) => {
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
    },

    /** Starts due scheduled rotations and resumes due steps (after a crash or a failure's backoff). */
    async runDue(now: number, limit = 100): Promise<number> {
      let started = 0;
      for (const s of await store.dueSecrets(now, limit)) {
        if (s.deletedAt !== undefined) continue;
        if (s.rotation?.inProgress) {
          void kick(s.arn);
        } else if (s.rotation?.enabled && s.rotation.nextRotationAt !== undefined && s.rotation.nextRotationAt <= now) {
          try {
            await start(s.arn, {});
            started++;
          } catch (e) {
            logger.warn('scheduled rotation could not start', {
              secret: s.arn,
              error: (e as AppError).code ?? 'error',
            });
          }
        }
      }
      return started;
    },

    /** Waits for the rotations this process is running (tests and graceful shutdown). */
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.all([...running.values()]);
    },
  };
}

/** The next window, or none when the schedule has ended (a cron limited to past years). */
function nextOrNone(rules: RotationRules | undefined, after: number): { nextRotationAt?: number } {
  if (!rules) return {};
  try {
    return { nextRotationAt: nextRotationAt(rules, after) };
  } catch {
    return {};
  }
}

function withRotation(s: SecretRecord, rotation: SecretRotationRecord): SecretRecord {
  return { ...s, rotation };
}

function withoutInProgress(r: SecretRotationRecord): SecretRotationRecord {
  const { inProgress: _, ...rest } = r;
  return rest;
}
