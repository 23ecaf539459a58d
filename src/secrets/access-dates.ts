// LastAccessedDate: the UTC day a secret's value was last read, written at most once per secret and day,
// batched after the read has answered, and never able to fail or slow that read.
import { type Clock, DAY_MS } from '../core/clock.js';
import type { SecretRecord, SecretsStore } from './store.js';

/** The UTC midnight of the day `at` falls in: AWS reports LastAccessedDate truncated to the day. */
export const accessDay = (at: number): number => Math.floor(at / DAY_MS) * DAY_MS;

export type AccessDates = ReturnType<typeof createAccessDates>;

export function createAccessDates(store: Pick<SecretsStore, 'recordAccess'>, clock: Clock) {
  // The secrets recorded (or being recorded) today: a read of one of them costs a set lookup. Cleared
  // when the day turns, so it holds at most the secrets read in one day.
  let today = Number.NaN;
  const recorded = new Set<string>();
  // Secret → the day its read fell on: a batch that spans midnight writes each read's own day.
  const pending = new Map<string, number>();
  let flushing: Promise<void> = Promise.resolve();
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    const byDay = new Map<number, string[]>();
    for (const [arn, day] of pending) byDay.set(day, [...(byDay.get(day) ?? []), arn]);
    pending.clear();
    for (const [day, arns] of byDay) {
      try {
        await store.recordAccess(arns, day);
      } catch {
        // A full disk or an unreachable database must not touch the reads: a later read tries again.
        for (const arn of arns) recorded.delete(arn);
      }
    }
  }

  return {
    /** Notes a read of `secret` now; the write, when one is due, happens after the current turn. */
    read(secret: Pick<SecretRecord, 'arn' | 'lastAccessedAt'>): void {
      const day = accessDay(clock.now());
      if (day !== today) {
        today = day;
        recorded.clear();
      }
      if ((secret.lastAccessedAt ?? Number.NEGATIVE_INFINITY) >= day || recorded.has(secret.arn)) return;
      recorded.add(secret.arn);
      pending.set(secret.arn, day);
      if (scheduled) return;
      scheduled = true;
      const previous = flushing;
      flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => previous).then(flush);
    },

    /** Resolves once every access noted so far is written (or given up): tests and shutdown. */
    settled: (): Promise<void> => flushing,
  };
}
