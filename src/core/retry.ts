// The one retry policy: exponential backoff with full jitter, retrying only transient failures.

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseMs: 200, capMs: 10_000 };

/** Full jitter: a uniform delay in [0, min(cap, base·2^attempt)) — spreads retrying clients apart. */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'baseMs' | 'capMs'> = DEFAULT_RETRY): number {
  return Math.random() * Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
}

/** A failure worth retrying (network errors, timeouts, 5xx); anything else is permanent. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!(e instanceof TransientError) || attempt + 1 >= policy.attempts) throw e;
      await sleep(backoffDelay(attempt, policy));
    }
  }
}
