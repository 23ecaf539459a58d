// Waiting in tests: poll a condition until it holds or a deadline passes, and plain sleeps.

/**
 * Polls `check` every `everyMs` until it holds; throws naming `what` after `ms`. Resolves with the time it
 * took, for tests that bound a latency.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what = 'condition',
  everyMs = 10,
): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(everyMs);
  }
  return Date.now() - started;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
