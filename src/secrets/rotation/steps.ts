// One claimed rotation step: the strategy's createSecret, setSecret, testSecret, then finishSecret, which
// promotes the pending version; a failure is recorded for a retry.
import { AWSCURRENT } from '../labels.js';
import { RotationStepError } from '../rotators/types.js';
import type { RotationStep, SecretRecord } from '../store.js';
import type { ContextFor } from './context.js';
import { recordFailure } from './failure.js';
import type { RotationDeps } from './ports.js';
import { secretCheck } from './principal.js';
import { strategyFor } from './strategies.js';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

/** Runs the claimed step; resolves true when the rotation should continue with the next step. */
export type RunStep = (claimed: SecretRecord) => Promise<boolean>;

export function createStepRunner(deps: RotationDeps, contextFor: ContextFor): RunStep {
  const { engine, clock, logger, authorizer } = deps;
  const elapsed = (started: number) => (performance.now() - started) / 1000;

  return async (secret) => {
    const rotation = secret.rotation!;
    const ip = rotation.inProgress!;
    const started = performance.now();
    try {
      const rotator = strategyFor(deps, rotation.lambdaArn!, secret.arn);
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
        // AWSCURRENT (and AWSPREVIOUS) move to the tested version; AWSPENDING is removed.
        if (!(await engine.promotePending(secret.arn, ip.token))) {
          throw new RotationStepError('finishSecret: the pending version has no value');
        }
        deps.metrics?.observe('rotation.finishSecret', 'ok', elapsed(started));
        logger.info('secret rotated', { secret: secret.arn, versionId: ip.token });
        return false;
      }
      await rotator[ip.step](ctx);
      deps.metrics?.observe(`rotation.${ip.step}`, 'ok', elapsed(started));
      // The step itself may have changed the secret (createSecret stores the pending value).
      return await engine.advanceRotationStep(secret.arn, ip.token, ip.step, STEPS[STEPS.indexOf(ip.step) + 1]!);
    } catch (e) {
      deps.metrics?.observe(`rotation.${ip.step}`, 'failed', elapsed(started));
      await recordFailure({ engine, clock, logger }, secret, e);
      return false;
    }
  };
}
