// A failed rotation step: its message (never a value), the retry with backoff, or abandoning the rotation.
import { AppError } from '../../core/errors.js';
import { backoffDelay } from '../../core/retry.js';
import { RotationStepError } from '../rotators/types.js';
import type { SecretRecord } from '../store.js';
import type { RotationDeps } from './ports.js';

/** After this many failed attempts of one step the rotation is abandoned and AWSPENDING removed. */
export const MAX_ATTEMPTS = 5;
const RETRY_POLICY = { baseMs: 30_000, capMs: 30 * 60_000 };

/**
 * Records the failure of the step `claimed` holds, keeping AWSCURRENT untouched: the step runs
 * again after a backoff, or after MAX_ATTEMPTS the rotation is abandoned.
 */
export async function recordFailure(
  deps: Pick<RotationDeps, 'engine' | 'clock' | 'logger'>,
  claimed: SecretRecord,
  e: unknown,
): Promise<void> {
  const { clock } = deps;
  const ip = claimed.rotation!.inProgress!;
  const message =
    e instanceof RotationStepError || e instanceof AppError
      ? e.message
      : `${ip.step} failed (${(e as Error)?.name ?? 'error'})`;
  const attempts = ip.attempts + 1;
  const lastFailure = { at: clock.now(), step: ip.step, message };
  deps.logger.warn('rotation step failed', { secret: claimed.arn, step: ip.step, attempts, message });
  const retry =
    attempts >= MAX_ATTEMPTS
      ? undefined
      : { attempts, nextAttemptAt: clock.now() + RETRY_POLICY.baseMs + backoffDelay(attempts, RETRY_POLICY) };
  await deps.engine.recordRotationFailure(claimed, lastFailure, retry);
}
