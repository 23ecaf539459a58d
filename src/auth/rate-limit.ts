// Counts failures per key in a sliding one-minute window; refuses a key once it reaches its limit. Pure.

const WINDOW_MS = 60_000;
const MAX_KEYS = 100_000;

export class FailureLimiter {
  readonly #limit: number;
  readonly #now: () => number;
  readonly #failures = new Map<string, number[]>();

  constructor(limitPerMinute: number, now: () => number) {
    this.#limit = limitPerMinute;
    this.#now = now;
  }

  /** True when `key` has had `limit` failures within the last minute. */
  blocked(key: string): boolean {
    return this.#recent(key).length >= this.#limit;
  }

  fail(key: string): void {
    const times = this.#recent(key);
    times.push(this.#now());
    if (!this.#failures.has(key)) {
      // Bounded memory under a flood of distinct keys: forget the oldest.
      if (this.#failures.size >= MAX_KEYS) this.#failures.delete(this.#failures.keys().next().value!);
      this.#failures.set(key, times);
    }
  }

  #recent(key: string): number[] {
    const times = this.#failures.get(key);
    if (!times) return [];
    const since = this.#now() - WINDOW_MS;
    while (times.length > 0 && times[0]! <= since) times.shift();
    if (times.length === 0) this.#failures.delete(key);
    return times;
  }
}
