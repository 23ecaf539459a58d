// RotateSecret: checks the strategy and rules, pins the connection as the caller, records the settings
// (through the engine's startRotation) and sets the runner going.
import { AppError } from '../../core/errors.js';
import type { StageMap } from '../labels.js';
import { AWSCURRENT } from '../labels.js';
import { type RotationRules, validateRotationRules } from '../rotation-schedule.js';
import type { RotationConnectionPin, RotationPrincipalRecord, SecretRecord, SecretRotationRecord } from '../store.js';
import { pinConnection } from './pin.js';
import type { RotationDeps } from './ports.js';
import type { PrincipalReads } from './principal.js';
import { strategyFor } from './strategies.js';

export interface RotateSecretInput {
  token?: string;
  lambdaArn?: string;
  rules?: RotationRules;
  rotateImmediately?: boolean;
  /** The caller of RotateSecret: the rotation acts as it from now on. Absent for scheduled starts. */
  principal?: RotationPrincipalRecord;
}

type Pinned = { pin: RotationConnectionPin; versionId: string } | undefined;

/** Starts a rotation: an empty AWSPENDING version named by the token, then the steps in the background. */
export async function startRotation(
  deps: RotationDeps,
  reads: PrincipalReads,
  kick: (arn: string) => Promise<void>,
  secretId: string,
  input: RotateSecretInput,
): Promise<{ secret: SecretRecord; versionId?: string }> {
  if (input.rules) validateRotationRules(input.rules);
  if (input.lambdaArn !== undefined) strategyFor(deps, input.lambdaArn, '');
  // Only RotateSecret (which names its caller) pins; a scheduled start keeps the pin it had.
  const pinned =
    input.principal &&
    (await pinConnection(deps, reads, { secretId, lambdaArn: input.lambdaArn, principal: input.principal }));
  const started = await deps.engine.startRotation(
    secretId,
    { token: input.token, scheduleOnly: input.rotateImmediately === false },
    (s, stages) => rotationSettings(deps, input, pinned, s, stages),
  );
  if (started.versionId) void kick(started.secret.arn);
  return started;
}

/** The settings to record, from the request and the secret as it is now: strategy, rules, principal, pin. */
function rotationSettings(
  deps: RotationDeps,
  input: RotateSecretInput,
  pinned: Pinned,
  s: SecretRecord,
  stages: StageMap,
): SecretRotationRecord {
  const lambdaArn = input.lambdaArn ?? s.rotation?.lambdaArn;
  if (!lambdaArn)
    throw new AppError('InvalidRequestException', 'No Lambda rotation function ARN is associated with this secret.');
  const rules = input.rules ?? s.rotation?.rules;
  // The strategy may have been configured under another server config (a webhook no longer allowed).
  const rotator = strategyFor(deps, lambdaArn, s.arn);
  const settings: SecretRotationRecord = {
    ...(s.rotation ?? { enabled: false }),
    enabled: rules !== undefined,
    lambdaArn,
    ...(input.principal && { principal: input.principal }),
  };
  if (input.principal) {
    // The pin goes with the principal: both are this caller's, or the rotation does not run.
    delete settings.connection;
    if (rotator.connectionOf) {
      if (!pinned || stages[AWSCURRENT] !== pinned.versionId) {
        throw new AppError(
          'InvalidRequestException',
          "The secret's AWSCURRENT version or rotation strategy changed while RotateSecret read it; call RotateSecret again.",
        );
      }
      settings.connection = pinned.pin;
    }
  }
  if (rules) settings.rules = rules;
  return settings;
}
