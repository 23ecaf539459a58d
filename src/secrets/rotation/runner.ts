// Running rotations: one background runner per secret per process that claims each due step (so only one
// replica runs it) and runs it; the scheduler's due rotations and resumed steps; waiting for them.
import type { AppError } from '../../core/errors.js';
import { DEFAULT_ROTATION_LEASE_MS, type RotationDeps } from './ports.js';
import type { RunStep } from './steps.js';

export type RotationRunner = ReturnType<typeof createRotationRunner>;

export function createRotationRunner(deps: RotationDeps, runStep: RunStep) {
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

  /** Claims and runs due steps until none is due, the claim is lost, or a step stops the run. */
  async function drive(arn: string): Promise<void> {
    for (;;) {
      const secret = await store.getSecretByArn(arn);
      const ip = secret?.rotation?.inProgress;
      if (!secret || !ip || ip.nextAttemptAt > clock.now() || secret.deletedAt !== undefined) return;
      const claimed = await engine.claimRotationStep(secret, leaseMs);
      if (!claimed) return; // another replica (or runner) holds it
      if (!(await runStep(claimed))) return;
    }
  }

  /**
   * Starts due scheduled rotations (with `start`) and resumes due steps (after a crash or a
   * failure's backoff); returns how many rotations started.
   */
  async function runDue(now: number, limit: number, start: (arn: string) => Promise<unknown>): Promise<number> {
    let started = 0;
    for (const s of await store.dueSecrets(now, limit)) {
      if (s.deletedAt !== undefined) continue;
      if (s.rotation?.inProgress) {
        void kick(s.arn);
      } else if (s.rotation?.enabled && s.rotation.nextRotationAt !== undefined && s.rotation.nextRotationAt <= now) {
        try {
          await start(s.arn);
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
  }

  /** Waits for the rotations this process is running (tests and graceful shutdown). */
  async function idle(): Promise<void> {
    while (running.size > 0) await Promise.all([...running.values()]);
  }

  return { kick, runDue, idle };
}
