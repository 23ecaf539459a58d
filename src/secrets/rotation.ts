// Secret rotation: RotateSecret, the scheduler's due rotations, and the crash-safe four-step runner.
//
// A rotation is persisted on the secret as `rotation.inProgress = {token, step, attempts,
// nextAttemptAt}`. Before running a step the runner claims it by pushing nextAttemptAt one lease
// ahead (a revision-checked write, so only one replica wins); after the step it records the next
// step. A crash leaves the claim to expire and the step runs again: steps are idempotent, as AWS
// requires of rotation Lambdas. A failed step keeps AWSCURRENT untouched, records the failure and
// retries with backoff; after MAX_ATTEMPTS it is abandoned and AWSPENDING removed.
//
// A rotation acts as the principal that called RotateSecret last (recorded on the secret), never
// with the server's rights: every read and write a step makes goes through the injected
// authorizer, which evaluates that principal's policy as it stands now and audits the decision.
//
// A strategy that acts on a destination named in the value (PostgreSQL: server, database, user,
// master secret) has it pinned by that same RotateSecret, read as its caller; every step refuses an
// AWSCURRENT or AWSPENDING that names another. Otherwise whoever may only PutSecretValue could point
// a rotation configured by a more privileged principal at another team's master secret and role.
import type { Identity } from '../auth/index.js';
import { type AccessCheck, encryptionContextKeys } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { retryConflicts } from '../core/keyed-lock.js';
import { backoffDelay } from '../core/retry.js';
import { newUuid } from '../crypto/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SecretsEngine } from './engine.js';
import { AWSCURRENT, AWSPENDING, applyStageChanges, type StageChanges, stagesForMove } from './labels.js';
import { generatePassword } from './random-password.js';
import { nextRotationAt, type RotationRules, validateRotationRules } from './rotation-schedule.js';
import { postgresAlternatingUsers, postgresSingleUser } from './rotators/postgres.js';
import { changedPinFields } from './rotators/postgres-connection.js';
import { randomPasswordRotator } from './rotators/random-password.js';
import { type RotationContext, RotationStepError, type Rotator } from './rotators/types.js';
import { type WebhookPolicy, webhookAllowed, webhookRefused, webhookRotator } from './rotators/webhook.js';
import type {
  RotationConnectionPin,
  RotationPrincipalRecord,
  RotationStep,
  SecretRecord,
  SecretRotationRecord,
  SecretsStore,
  SecretVersionRecord,
} from './store.js';

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
export function rotatorFor(lambdaArn: string, webhooks: WebhookPolicy): Rotator {
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
    if (!webhookAllowed(url, webhooks.allow) || webhooks.secret === undefined) throw webhookRefused();
    return webhookRotator(url, webhooks);
  }
  throw badStrategy(lambdaArn);
}

function badStrategy(value: string): AppError {
  return new AppError(
    'InvalidParameterException',
    `RotationLambdaARN '${value.slice(0, 256)}' names no Keysafe rotation strategy; use keysafe:rotation:random-password, keysafe:rotation:postgres:single-user, keysafe:rotation:postgres:alternating-users or keysafe:rotation:webhook:<url>.`,
  );
}

/** Authorizes one check as a rotation's principal and appends its audit record (source `rotation`). */
export interface RotationAuthorizer {
  /**
   * Resolves when `principal` may, by its policy as it stands now; otherwise (or with no principal,
   * or when the decision cannot be audited) throws an AppError whose message names the action and
   * the resource, never a value.
   */
  authorize(principal: RotationPrincipalRecord | undefined, check: AccessCheck): Promise<void>;
}

/** The KMS key checks a rotation needs: the key's ARN and policy, or undefined when there is no such key. */
export interface RotationKeys {
  keyCheck(ref: string): Promise<{ resource: string; policy: string } | undefined>;
}

export interface RotationDeps {
  engine: SecretsEngine;
  store: SecretsStore;
  clock: Clock;
  logger: Logger;
  authorizer: RotationAuthorizer;
  keys: RotationKeys;
  webhooks: Omit<WebhookPolicy, 'logFailure'>;
  metrics?: Metrics;
  /** How long a claimed step may run before another runner may take it over (after a crash). */
  leaseMs?: number;
}

/**
 * What RotateSecret records about its caller: enough to evaluate its policy again at each step,
 * conditions included (a role session's subject and all its claims, so a condition on a claim
 * decides as it did for that session, Deny statements too).
 */
export function rotationPrincipalOf(identity: Identity): RotationPrincipalRecord {
  if (identity.kind === 'admin') return { kind: 'admin' };
  return {
    kind: 'role',
    role: identity.role,
    sessionName: identity.sessionName,
    subject: identity.subject,
    claims: { ...identity.claims },
    sessionIssuedAt: identity.issuedAt,
  };
}

export const DEFAULT_ROTATION_LEASE_MS = 5 * 60_000;

export type Rotation = ReturnType<typeof createRotation>;

export function createRotation(deps: RotationDeps) {
  const { engine, store, clock, logger, authorizer } = deps;
  const leaseMs = deps.leaseMs ?? DEFAULT_ROTATION_LEASE_MS;
  const running = new Map<string, Promise<void>>();
  const webhooksFor = (arn: string): WebhookPolicy => ({
    ...deps.webhooks,
    logFailure: (d) => logger.warn('rotation webhook failed', { secret: arn, ...d }),
  });

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
      const rotator = rotatorFor(rotation.lambdaArn!, webhooksFor(secret.arn));
      const ctx = contextFor(secret, ip.token, ip.step, rotator);
      if (rotator.connectionOf) {
        // Before anything is done: AWSCURRENT and AWSPENDING still name the pinned connection (the
        // context checks every later read of them again, so the step acts on what was checked).
        if ((await ctx.getValue({ stage: AWSCURRENT })) === undefined) {
          throw new RotationStepError(`${ip.step}: the secret has no AWSCURRENT value`);
        }
        await ctx.getPendingValue();
      }
      if (ip.step === 'finishSecret') {
        await rotator.finishSecret?.(ctx);
        await authorizer.authorize(rotation.principal, secretCheck(secret, 'secretsmanager:UpdateSecretVersionStage'));
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
    // Done when recorded, or when the rotation moved on without this failure; undefined retries a lost write
    await retryConflicts(async (n) => {
      const current = n === 0 ? secret : await store.getSecretByArn(secret.arn);
      if (!current?.rotation?.inProgress || current.rotation.inProgress.token !== ip.token) return true;
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
      return saved ? true : undefined;
    });
  }

  /** Rewrites the rotation record if the same rotation is still at `step`; false when it moved on. */
  async function updateInProgress(
    arn: string,
    token: string,
    step: RotationStep,
    update: (r: SecretRotationRecord) => SecretRotationRecord,
  ): Promise<boolean> {
    const done = await retryConflicts(async () => {
      const current = await store.getSecretByArn(arn);
      const ip = current?.rotation?.inProgress;
      if (!current || ip?.token !== token || ip.step !== step) return false;
      const saved = await engine.commit(
        { secret: withRotation(current, update(current.rotation!)), events: [] },
        clock.now(),
      );
      return saved ? true : undefined;
    });
    return done ?? false;
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

  /** The check for `action` on a secret, with its resource policy and the request's condition keys. */
  function secretCheck(secret: SecretRecord, action: string, context?: Record<string, string>): AccessCheck {
    return {
      action,
      resource: secret.arn,
      ...(secret.resourcePolicy !== undefined && {
        resourcePolicy: { document: secret.resourcePolicy, kind: 'secret' as const },
      }),
      ...(context && { context }),
    };
  }

  /** kms:<action> on a customer-managed key (none for the managed default key, as AWS's aws/secretsmanager). */
  async function keyCheck(
    secret: SecretRecord,
    ref: string | undefined,
    action: string,
    versionId: string,
  ): Promise<AccessCheck | undefined> {
    if (secret.kmsKeyId === undefined || ref === undefined) return undefined;
    const key = await deps.keys.keyCheck(ref);
    const context = encryptionContextKeys({ SecretARN: secret.arn, SecretVersionId: versionId });
    return key
      ? { action, resource: key.resource, resourcePolicy: { document: key.policy, kind: 'kms-key' }, context }
      : { action, resource: ref, context };
  }

  /** A version's SecretString, read as `principal`: GetSecretValue on the secret, kms:Decrypt on its key. */
  async function readAs(
    principal: RotationPrincipalRecord | undefined,
    secret: SecretRecord,
    version: SecretVersionRecord | undefined,
    context: Record<string, string>,
  ): Promise<string | undefined> {
    await authorizer.authorize(principal, secretCheck(secret, 'secretsmanager:GetSecretValue', context));
    if (!version?.ciphertext) return undefined;
    const decrypt = await keyCheck(secret, version.kmsKeyArn, 'kms:Decrypt', version.versionId);
    if (decrypt) await authorizer.authorize(principal, decrypt);
    return (await engine.open(version))?.string;
  }

  /**
   * Refuses a value of this secret (AWSCURRENT or AWSPENDING) that does not name the connection
   * RotateSecret pinned, or any value when nothing was pinned. Names fields, never their values.
   */
  function checkPinned(rotator: Rotator, pin: RotationConnectionPin | undefined, step: RotationStep) {
    return (what: string, value: string | undefined): void => {
      if (value === undefined || !rotator.connectionOf) return;
      if (!pin) {
        throw new RotationStepError(
          `${step}: the secret's connection (host/port/dbname/username/masterarn) was not pinned when this rotation was configured; call RotateSecret again to rotate with the current one`,
        );
      }
      const changed = changedPinFields(pin, rotator.connectionOf(value, step, what));
      if (changed.length > 0) {
        throw new RotationStepError(
          `${step}: the secret's connection (host/port/dbname/username/masterarn) changed since RotateSecret (${what}: ${changed.join(', ')}); call RotateSecret again to rotate with the new one`,
        );
      }
    };
  }

  function contextFor(claimed: SecretRecord, token: string, step: RotationStep, rotator: Rotator): RotationContext {
    const principal = claimed.rotation?.principal;
    const authorize = (check: AccessCheck) => authorizer.authorize(principal, check);
    const read = (secret: SecretRecord, version: SecretVersionRecord | undefined, context: Record<string, string>) =>
      readAs(principal, secret, version, context);
    const pinned = checkPinned(rotator, claimed.rotation?.connection, step);

    return {
      secretArn: claimed.arn,
      token,
      getValue: async (sel) => {
        if ('versionId' in sel) {
          const version = await store.getVersion(claimed.arn, sel.versionId);
          const value = await read(claimed, version, { 'secretsmanager:versionid': sel.versionId });
          // By id, AWSCURRENT and the pending version are checked as they are by stage.
          if (version?.stages.includes(AWSCURRENT)) pinned(AWSCURRENT, value);
          else if (sel.versionId === token) pinned(AWSPENDING, value);
          return value;
        }
        const value = await read(claimed, await store.getVersionByStage(claimed.arn, sel.stage), {
          'secretsmanager:versionstage': sel.stage,
        });
        if (sel.stage === AWSCURRENT) pinned(AWSCURRENT, value);
        else if (sel.stage === AWSPENDING) pinned(AWSPENDING, value);
        return value;
      },
      getPendingValue: async () => {
        const version = await store.getVersion(claimed.arn, token);
        if (!version?.ciphertext) return undefined;
        // Versions never change once they hold a value, and the mark is set in the same commit as ours.
        const ip = (await store.getSecretByArn(claimed.arn))?.rotation?.inProgress;
        if (ip?.token !== token || !ip.pendingMade) {
          throw new RotationStepError(
            `${step}: version ${token} holds a value this rotation did not make (a PutSecretValue); a pending value is made by the rotation. Call RotateSecret with a new ClientRequestToken.`,
          );
        }
        const value = await read(claimed, version, { 'secretsmanager:versionid': token });
        pinned(AWSPENDING, value);
        return value;
      },
      getOtherSecretValue: async (secretId) => {
        let other: SecretRecord | undefined;
        try {
          other = await engine.cachedSecret(secretId);
        } catch (e) {
          if (!(e instanceof AppError && e.code === 'ResourceNotFoundException')) throw e;
        }
        const context = { 'secretsmanager:versionstage': AWSCURRENT };
        if (!other) {
          // Checked against the ARN it would have: a principal without access learns nothing about what exists.
          await authorize({
            action: 'secretsmanager:GetSecretValue',
            resource: engine.arnForMissing(secretId),
            context,
          });
          throw new AppError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
        }
        await authorize(secretCheck(other, 'secretsmanager:GetSecretValue', context));
        const live = await engine.findLive(other.arn);
        const value = await read(live, await store.getVersionByStage(live.arn, AWSCURRENT), context);
        if (value === undefined) throw new RotationStepError(`the secret ${live.arn} has no SecretString`);
        return value;
      },
      putPendingValue: async (value) => {
        const current = (await store.getSecretByArn(claimed.arn)) ?? claimed;
        await authorize(secretCheck(current, 'secretsmanager:PutSecretValue'));
        const encrypt = await keyCheck(current, current.kmsKeyId, 'kms:GenerateDataKey', token);
        if (encrypt) await authorize(encrypt);
        await engine.putSecretValue(claimed.arn, { value: { string: value }, token, stages: [AWSPENDING] }, (s) => {
          const ip = s.rotation?.inProgress;
          if (ip?.token !== token) return s;
          return withRotation(s, { ...s.rotation!, inProgress: { ...ip, pendingMade: true } });
        });
      },
      generatePassword: (o) =>
        generatePassword({
          ...(o?.length !== undefined && { PasswordLength: o.length }),
          ...(o?.excludeCharacters !== undefined && { ExcludeCharacters: o.excludeCharacters }),
          ...(o?.excludePunctuation !== undefined && { ExcludePunctuation: o.excludePunctuation }),
        }),
    };
  }

  /**
   * RotateSecret's pin, for a strategy that names its destination in the value: AWSCURRENT's
   * connection, read as the caller (authorized and audited as the steps' reads are), and the
   * version it was read from. Undefined when the strategy has nothing to pin.
   */
  async function pinConnection(
    secretId: string,
    lambdaArn: string | undefined,
    principal: RotationPrincipalRecord,
  ): Promise<{ pin: RotationConnectionPin; versionId: string } | undefined> {
    const secret = await engine.findLive(secretId);
    const arn = lambdaArn ?? secret.rotation?.lambdaArn;
    const rotator = arn === undefined ? undefined : rotatorFor(arn, webhooksFor(secret.arn));
    if (!rotator?.connectionOf) return undefined;
    const version = await store.getVersionByStage(secret.arn, AWSCURRENT);
    const value = await readAs(principal, secret, version, { 'secretsmanager:versionstage': AWSCURRENT });
    if (value === undefined || !version) {
      // Pinning needs the connection; AWS's own strategies need a value to rotate too.
      throw new AppError(
        'InvalidRequestException',
        'The secret has no AWSCURRENT SecretString. A PostgreSQL rotation pins the connection AWSCURRENT names (host, port, dbname, username, and masterarn for alternating users) when RotateSecret is called: put that value first.',
      );
    }
    try {
      return { pin: rotator.connectionOf(value, 'RotateSecret', AWSCURRENT), versionId: version.versionId };
    } catch (e) {
      if (e instanceof RotationStepError) throw new AppError('InvalidRequestException', e.message);
      throw e;
    }
  }

  /** Starts a rotation: an empty AWSPENDING version named by the token, then the steps in the background. */
  async function start(
    secretId: string,
    input: {
      token?: string;
      lambdaArn?: string;
      rules?: RotationRules;
      rotateImmediately?: boolean;
      /** The caller of RotateSecret: the rotation acts as it from now on. Absent for scheduled starts. */
      principal?: RotationPrincipalRecord;
    },
  ): Promise<{ secret: SecretRecord; versionId?: string }> {
    if (input.rules) validateRotationRules(input.rules);
    if (input.lambdaArn !== undefined) rotatorFor(input.lambdaArn, webhooksFor(''));
    // Only RotateSecret (which names its caller) pins; a scheduled start keeps the pin it had.
    const pinned = input.principal && (await pinConnection(secretId, input.lambdaArn, input.principal));
    let versionId: string | undefined;
    const secret = await engine.change(secretId, async (s, stages) => {
      const lambdaArn = input.lambdaArn ?? s.rotation?.lambdaArn;
      if (!lambdaArn)
        throw new AppError(
          'InvalidRequestException',
          'No Lambda rotation function ARN is associated with this secret.',
        );
      const rules = input.rules ?? s.rotation?.rules;
      // The strategy may have been configured under another server config (a webhook no longer allowed).
      const rotator = rotatorFor(lambdaArn, webhooksFor(s.arn));
      const base: SecretRotationRecord = {
        ...(s.rotation ?? { enabled: false }),
        enabled: rules !== undefined,
        lambdaArn,
        ...(input.principal && { principal: input.principal }),
      };
      if (input.principal) {
        // The pin goes with the principal: both are this caller's, or the rotation does not run.
        delete base.connection;
        if (rotator.connectionOf) {
          if (!pinned || stages[AWSCURRENT] !== pinned.versionId) {
            throw new AppError(
              'InvalidRequestException',
              "The secret's AWSCURRENT version or rotation strategy changed while RotateSecret read it; call RotateSecret again.",
            );
          }
          base.connection = pinned.pin;
        }
      }
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
      // Retrying a failed rotation with its own token keeps the value that rotation made.
      const pendingMade = ip?.token === token && ip.pendingMade === true && existing?.ciphertext !== undefined;
      return {
        secret: withRotation(s, {
          ...base,
          ...nextOrNone(rules, now),
          inProgress: {
            token,
            step: 'createSecret',
            attempts: 0,
            nextAttemptAt: now,
            ...(pendingMade && { pendingMade }),
          },
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
