// Counts failures per key over the last minute in bounded memory; the caller decides what to refuse. Pure.

/** Failures are counted in 5-second buckets: one falls out of the count 55 to 60 s after it happened. */
const BUCKET_MS = 5_000;
const BUCKETS = 12;
const DEFAULT_MAX_KEYS = 100_000;

interface Entry {
  /** The bucket number (time / BUCKET_MS) of the last failure. */
  last: number;
  /** Failures per bucket, indexed by bucket number modulo BUCKETS. */
  counts: number[];
}

export class FailureLimiter {
  readonly #limit: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  // In order of last failure (a failure moves its key to the end), so the first is the stalest.
  readonly #entries = new Map<string, Entry>();

  /**
   * At most `maxKeys` keys are tracked, whatever a flood of distinct keys does: when full, the key
   * whose last failure is oldest is forgotten. Memory per key is fixed, whatever the limit.
   */
  constructor(limitPerMinute: number, now: () => number, maxKeys = DEFAULT_MAX_KEYS) {
    this.#limit = limitPerMinute;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** True when `key` has had `limit` failures within the last minute. */
  blocked(key: string): boolean {
    return this.failures(key) >= this.#limit;
  }

  /** Failures of `key` within the last minute. */
  failures(key: string): number {
    const entry = this.#entries.get(key);
    if (!entry) return 0;
    const now = this.#bucket();
    if (now - entry.last >= BUCKETS) {
      this.#entries.delete(key);
      return 0;
    }
    let sum = 0;
    for (let b = Math.max(0, now - BUCKETS + 1, entry.last - BUCKETS + 1); b <= entry.last; b++) {
      sum += entry.counts[b % BUCKETS]!;
    }
    return sum;
  }

  fail(key: string): void {
    const now = this.#bucket();
    let entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
      // Clear the buckets that went by since the last failure; they now stand for new time.
      for (let b = entry.last + 1; b <= Math.min(now, entry.last + BUCKETS); b++) entry.counts[b % BUCKETS] = 0;
      entry.last = Math.max(entry.last, now);
    } else {
      if (this.#entries.size >= this.#maxKeys) this.#entries.delete(this.#entries.keys().next().value!);
      entry = { last: now, counts: new Array<number>(BUCKETS).fill(0) };
    }
    entry.counts[now % BUCKETS]!++;
    this.#entries.set(key, entry);
  }

  /** Keys tracked now (expired ones are dropped lazily). */
  get size(): number {
    return this.#entries.size;
  }

  #bucket(): number {
    return Math.floor(this.#now() / BUCKET_MS);
  }
}
