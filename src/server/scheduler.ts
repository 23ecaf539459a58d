// Runs the maintenance jobs on one replica at a time: the one holding the store's lease.
//
// Standby replicas ask for the lease every `checkMs`, so when the leader dies another takes over
// within seconds and runs at once whatever came due meanwhile. The jobs themselves stay safe to
// run twice (each change is conditional on the revision read), so a lease lost without notice
// costs at most a wasted attempt, never a double rotation.
import { AppError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';

export interface SchedulerDeps {
  run(): Promise<unknown>;
  /** Whether this replica may run the jobs now (always true for a single-process store). */
  lead(): Promise<boolean>;
  intervalMs: number;
  checkMs: number;
  now(): number;
  logger: Logger;
}

export function startScheduler(deps: SchedulerDeps) {
  let leading = false;
  let lastRun = Number.NEGATIVE_INFINITY;
  let ticking: Promise<void> | undefined;

  async function tickOnce(): Promise<void> {
    const was = leading;
    leading = await deps.lead();
    if (leading !== was) deps.logger.info(leading ? 'this replica now runs the schedulers' : 'scheduler lease lost');
    if (!leading) return;
    const now = deps.now();
    if (!was || now - lastRun >= deps.intervalMs) {
      lastRun = now;
      await deps.run();
    }
  }

  const tick = (): Promise<void> => {
    ticking ??= tickOnce()
      .catch((e: unknown) =>
        // An expected failure (the store unavailable) says so; only a bug needs its stack.
        e instanceof AppError
          ? deps.logger.error('scheduler failed', { error: e.code, message: e.message })
          : deps.logger.error('scheduler failed', { error: (e as Error)?.name, stack: (e as Error)?.stack }),
      )
      .finally(() => {
        ticking = undefined;
      });
    return ticking;
  };

  const timer = setInterval(tick, Math.min(deps.checkMs, deps.intervalMs));
  timer.unref();

  return {
    /** Runs a tick now: at start-up, work that came due while the server was down runs at once. */
    tick,
    leading: () => leading,
    async stop(): Promise<void> {
      clearInterval(timer);
      await ticking;
    },
  };
}
