// The RotationContext a strategy's step receives: reads and the pending write of the one secret being
// rotated, each authorized as the rotation's principal and checked against the pinned connection.
import type { AccessCheck } from '../../core/access.js';
import { AppError } from '../../core/errors.js';
import { AWSCURRENT, AWSPENDING } from '../labels.js';
import { generatePassword } from '../random-password.js';
import { type RotationContext, RotationStepError, type Rotator, type VersionSelector } from '../rotators/types.js';
import type { RotationStep, SecretRecord, SecretVersionRecord } from '../store.js';
import { checkPinned } from './pin.js';
import type { RotationDeps } from './ports.js';
import { type PrincipalReads, secretCheck } from './principal.js';

type ContextDeps = Pick<RotationDeps, 'engine' | 'store' | 'authorizer'>;

/** One step of one rotation: what its context's calls act on and as whom. */
interface StepScope {
  claimed: SecretRecord;
  token: string;
  step: RotationStep;
  authorize(check: AccessCheck): Promise<void>;
  read(
    secret: SecretRecord,
    version: SecretVersionRecord | undefined,
    context: Record<string, string>,
  ): Promise<string | undefined>;
  pinned(what: string, value: string | undefined): void;
}

export type ContextFor = (
  claimed: SecretRecord,
  token: string,
  step: RotationStep,
  rotator: Rotator,
) => RotationContext;

export function createContextFor(deps: ContextDeps, reads: PrincipalReads): ContextFor {
  return (claimed, token, step, rotator) => {
    const principal = claimed.rotation?.principal;
    const scope: StepScope = {
      claimed,
      token,
      step,
      authorize: (check) => deps.authorizer.authorize(principal, check),
      read: (secret, version, context) => reads.readAs(principal, secret, version, context),
      pinned: checkPinned(rotator, claimed.rotation?.connection, step),
    };
    return {
      secretArn: claimed.arn,
      token,
      getValue: (selector) => getValue(deps, scope, selector),
      getPendingValue: () => getPendingValue(deps, scope),
      getOtherSecretValue: (secretId) => getOtherSecretValue(deps, scope, secretId),
      putPendingValue: (value) => putPendingValue(deps, reads, scope, value),
      generatePassword: (o) =>
        generatePassword({
          ...(o?.length !== undefined && { PasswordLength: o.length }),
          ...(o?.excludeCharacters !== undefined && { ExcludeCharacters: o.excludeCharacters }),
          ...(o?.excludePunctuation !== undefined && { ExcludePunctuation: o.excludePunctuation }),
        }),
    };
  };
}

async function getValue(deps: ContextDeps, scope: StepScope, sel: VersionSelector): Promise<string | undefined> {
  const { claimed, token } = scope;
  if ('versionId' in sel) {
    const version = await deps.store.getVersion(claimed.arn, sel.versionId);
    const value = await scope.read(claimed, version, { 'secretsmanager:versionid': sel.versionId });
    // By id, AWSCURRENT and the pending version are checked as they are by stage.
    if (version?.stages.includes(AWSCURRENT)) scope.pinned(AWSCURRENT, value);
    else if (sel.versionId === token) scope.pinned(AWSPENDING, value);
    return value;
  }
  const value = await scope.read(claimed, await deps.store.getVersionByStage(claimed.arn, sel.stage), {
    'secretsmanager:versionstage': sel.stage,
  });
  if (sel.stage === AWSCURRENT) scope.pinned(AWSCURRENT, value);
  else if (sel.stage === AWSPENDING) scope.pinned(AWSPENDING, value);
  return value;
}

async function getPendingValue(deps: ContextDeps, scope: StepScope): Promise<string | undefined> {
  const { claimed, token, step } = scope;
  const version = await deps.store.getVersion(claimed.arn, token);
  if (!version?.ciphertext) return undefined;
  // Versions never change once they hold a value, and the mark is set in the same commit as ours.
  const ip = (await deps.store.getSecretByArn(claimed.arn))?.rotation?.inProgress;
  if (ip?.token !== token || !ip.pendingMade) {
    throw new RotationStepError(
      `${step}: version ${token} holds a value this rotation did not make (a PutSecretValue); a pending value is made by the rotation. Call RotateSecret with a new ClientRequestToken.`,
    );
  }
  const value = await scope.read(claimed, version, { 'secretsmanager:versionid': token });
  scope.pinned(AWSPENDING, value);
  return value;
}

async function getOtherSecretValue(deps: ContextDeps, scope: StepScope, secretId: string): Promise<string> {
  let other: SecretRecord | undefined;
  try {
    other = await deps.engine.cachedSecret(secretId);
  } catch (e) {
    if (!(e instanceof AppError && e.code === 'ResourceNotFoundException')) throw e;
  }
  const context = { 'secretsmanager:versionstage': AWSCURRENT };
  if (!other) {
    // Checked against the ARN it would have: a principal without access learns nothing about what exists.
    await scope.authorize({
      action: 'secretsmanager:GetSecretValue',
      resource: deps.engine.arnForMissing(secretId),
      context,
    });
    throw new AppError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  }
  await scope.authorize(secretCheck(other, 'secretsmanager:GetSecretValue', context));
  const live = await deps.engine.findLive(other.arn);
  const value = await scope.read(live, await deps.store.getVersionByStage(live.arn, AWSCURRENT), context);
  if (value === undefined) throw new RotationStepError(`the secret ${live.arn} has no SecretString`);
  return value;
}

/** PutSecretValue (and kms:GenerateDataKey on a customer key) as the principal, then the engine's pending write. */
async function putPendingValue(deps: ContextDeps, reads: PrincipalReads, scope: StepScope, value: string) {
  const { claimed, token } = scope;
  const current = (await deps.store.getSecretByArn(claimed.arn)) ?? claimed;
  await scope.authorize(secretCheck(current, 'secretsmanager:PutSecretValue'));
  const encrypt = await reads.keyCheck(current, current.kmsKeyId, 'kms:GenerateDataKey', token);
  if (encrypt) await scope.authorize(encrypt);
  await deps.engine.putPendingValue(claimed.arn, token, value);
}
