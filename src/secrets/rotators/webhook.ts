// The webhook strategy: the AWS rotation Lambda protocol over HTTP, one POST per step.
import { TransientError, withRetry } from '../../core/retry.js';
import { type RotationContext, RotationStepError, type Rotator } from './types.js';

const STEP_TIMEOUT_MS = 30_000;

/**
 * POSTs `{"Step","SecretId","ClientRequestToken"}` (the Lambda event) to `url` for each step. The
 * endpoint does the work with its own Keysafe credentials, as a rotation Lambda would; a 2xx
 * answer means the step succeeded. Network errors and 5xx are retried with backoff.
 */
export function webhookRotator(url: string): Rotator {
  const step = (name: string) => async (ctx: RotationContext) => {
    await withRetry(async () => {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ Step: name, SecretId: ctx.secretArn, ClientRequestToken: ctx.token }),
          signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
          redirect: 'error',
        });
      } catch (e) {
        throw new TransientError(`${name}: the rotation webhook did not answer (${(e as Error).name})`);
      }
      await res.body?.cancel();
      if (res.status >= 500) throw new TransientError(`${name}: the rotation webhook answered ${res.status}`);
      if (res.status < 200 || res.status >= 300) {
        throw new RotationStepError(`${name}: the rotation webhook answered ${res.status}`);
      }
    }).catch((e: unknown) => {
      throw e instanceof RotationStepError ? e : new RotationStepError((e as Error).message);
    });
  };
  return {
    createSecret: step('createSecret'),
    setSecret: step('setSecret'),
    testSecret: step('testSecret'),
    finishSecret: step('finishSecret'),
  };
}
