// The connection pin of a strategy that names its destination in the value (PostgreSQL): read by
// RotateSecret as its caller, then checked against AWSCURRENT and AWSPENDING at every step.
//
// Otherwise whoever may only PutSecretValue could point a rotation configured by a more privileged
// principal at another team's master secret and role.
import { AppError } from '../../core/errors.js';
import { AWSCURRENT } from '../labels.js';
import { changedPinFields } from '../rotators/postgres-connection.js';
import { RotationStepError, type Rotator } from '../rotators/types.js';
import type { RotationConnectionPin, RotationPrincipalRecord, RotationStep } from '../store.js';
import type { RotationDeps } from './ports.js';
import type { PrincipalReads } from './principal.js';
import { strategyFor } from './strategies.js';

/**
 * RotateSecret's pin, for a strategy that names its destination in the value: AWSCURRENT's
 * connection, read as the caller (authorized and audited as the steps' reads are), and the
 * version it was read from. Undefined when the strategy has nothing to pin.
 */
export async function pinConnection(
  deps: Pick<RotationDeps, 'engine' | 'store' | 'webhooks' | 'logger'>,
  reads: PrincipalReads,
  request: { secretId: string; lambdaArn: string | undefined; principal: RotationPrincipalRecord },
): Promise<{ pin: RotationConnectionPin; versionId: string } | undefined> {
  const secret = await deps.engine.findLive(request.secretId);
  const arn = request.lambdaArn ?? secret.rotation?.lambdaArn;
  const rotator = arn === undefined ? undefined : strategyFor(deps, arn, secret.arn);
  if (!rotator?.connectionOf) return undefined;
  const version = await deps.store.getVersionByStage(secret.arn, AWSCURRENT);
  const value = await reads.readAs(request.principal, secret, version, { 'secretsmanager:versionstage': AWSCURRENT });
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

/**
 * Refuses a value of this secret (AWSCURRENT or AWSPENDING) that does not name the connection
 * RotateSecret pinned, or any value when nothing was pinned. Names fields, never their values.
 */
export function checkPinned(rotator: Rotator, pin: RotationConnectionPin | undefined, step: RotationStep) {
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
