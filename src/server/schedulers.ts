// The maintenance jobs: KMS key rotation and deletion, secret rotation and purge in every region holding data,
// event trimming, on the lease holder.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Rotation } from '../secrets/index.js';
import type { Engines } from './engines.js';
import type { PerRegion } from './regions.js';
import { startScheduler } from './scheduler.js';

export interface SchedulerRun {
  rotated: number;
  deleted: number;
  materialsExpired: number;
  secretRotationsStarted: number;
  secretsPurged: number;
  /** Primaries whose replicas were not all in sync, synced again. */
  replicasReconciled: number;
}

/** How long change events stay readable for agents catching up after a disconnect. */
const EVENT_RETENTION_MS = 24 * 3_600_000;

/** How often a standby replica asks for the scheduler lease: how soon it takes over from a dead leader. */
const SCHEDULER_LEASE_CHECK_MS = 2000;

export interface SchedulersDeps {
  engines: Pick<Engines, 'store' | 'inRegion' | 'metrics' | 'replication'>;
  rotationIn: PerRegion<Rotation>;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
}

export interface Schedulers {
  /** Runs the jobs once, now, whoever leads (tests use it with a manual clock). */
  runNow(): Promise<SchedulerRun>;
  /** A tick of the lease-holding scheduler: at start-up, work that came due while down runs at once. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export function startSchedulers(deps: SchedulersDeps): Schedulers {
  const { store, metrics } = deps.engines;
  const runNow = () => runJobs(deps);
  const scheduler = startScheduler({
    run: runNow,
    lead: () => store.coordination?.lead() ?? Promise.resolve(true),
    intervalMs: deps.intervalMs,
    checkMs: SCHEDULER_LEASE_CHECK_MS,
    now: () => deps.clock.now(),
    logger: deps.logger,
  });
  metrics.gauge('keysafe_scheduler_leader', () => (scheduler.leading() ? 1 : 0));
  return { runNow, tick: scheduler.tick, stop: scheduler.stop };
}

async function runJobs({ engines, rotationIn, clock, logger }: SchedulersDeps): Promise<SchedulerRun> {
  const now = clock.now();
  const done: SchedulerRun = {
    rotated: 0,
    deleted: 0,
    materialsExpired: 0,
    secretRotationsStarted: 0,
    secretsPurged: 0,
    replicasReconciled: 0,
  };
  // One region's failure (its data, a bug) is logged and never keeps the others' jobs from running.
  let failed: unknown;
  for (const region of await engines.store.regions()) {
    try {
      const { kms, secrets } = engines.inRegion(region);
      const keys = await kms.runDueJobs();
      done.rotated += keys.rotated;
      done.deleted += keys.deleted;
      done.materialsExpired += keys.materialsExpired;
      done.secretsPurged += await secrets.purgeDue(now);
      done.secretRotationsStarted += await rotationIn(region).runDue(now);
    } catch (e) {
      failed ??= e;
      logger.error('scheduler failed in a region', { region, error: (e as Error)?.message });
    }
  }
  // Replicas a crash (or an unreachable key) left behind: synced again until InSync.
  done.replicasReconciled = await engines.replication.reconcile();
  await engines.store.secrets.trimEvents(now - EVENT_RETENTION_MS);
  if (failed !== undefined) throw failed;
  if (Object.values(done).some((n) => n > 0)) logger.info('scheduler ran', { ...done });
  return done;
}
