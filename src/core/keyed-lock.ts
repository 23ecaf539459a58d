// Read-modify-write under optimistic concurrency, made fair: writers to one record queue per
// process, so a lost revision check can only mean another process (replica) got there first, and
// that is retried after a random, growing pause that keeps two replicas from colliding in lockstep.
import { setTimeout as sleep } from 'node:timers/promises';

const MAX_ATTEMPTS = 12;

/** Runs async jobs one at a time per key, in call order; jobs on different keys run freely. */
export function keyedLock() {
  const tails = new Map<string, Promise<unknown>>();
  return async function withLock<T>(key: string, job: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const run = previous.then(job, job);
    const tail = run.catch(() => {});
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/**
 * Calls `attempt` (read, decide, conditional write) until it returns a result; undefined means its
 * write lost a revision check. Returns undefined if every attempt lost. `n` is the attempt's index,
 * so the first one may reuse a record the caller has just read.
 */
export async function retryConflicts<T>(attempt: (n: number) => Promise<T | undefined>): Promise<T | undefined> {
  for (let n = 0; n < MAX_ATTEMPTS; n++) {
    if (n > 0) await sleep(Math.random() * 2 ** Math.min(n, 7)); // jitter, not a secret
    const result = await attempt(n);
    if (result !== undefined) return result;
  }
  return undefined;
}
