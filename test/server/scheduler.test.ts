// The scheduler runs its jobs only while it holds the lease, at once when it gets it, then on its interval.
import { describe, expect, it } from 'vitest';
import { coalesced } from '../../src/core/coalesce.js';
import { keyedLock, retryConflicts } from '../../src/core/keyed-lock.js';
import { createLogger } from '../../src/observability/logger.js';
import { startScheduler } from '../../src/server/scheduler.js';
import { parseChange } from '../../src/storage/postgres/coordination.js';

const quiet = createLogger('error', () => {});

describe('startScheduler', () => {
  it('runs only while leading: at once on taking the lease, then once per interval', async () => {
    let now = 0;
    let lease = false;
    const runs: number[] = [];
    const scheduler = startScheduler({
      run: async () => runs.push(now),
      lead: async () => lease,
      intervalMs: 60_000,
      checkMs: 60_000,
      now: () => now,
      logger: quiet,
    });
    await scheduler.tick();
    expect(runs).toEqual([]); // standby
    lease = true;
    now = 1000;
    await scheduler.tick();
    expect(runs).toEqual([1000]); // took over: runs what came due at once
    now = 2000;
    await scheduler.tick();
    expect(runs).toEqual([1000]); // not again before the interval
    now = 61_000;
    await scheduler.tick();
    expect(runs).toEqual([1000, 61_000]);
    expect(scheduler.leading()).toBe(true);
    lease = false;
    now = 200_000;
    await scheduler.tick();
    expect(runs).toHaveLength(2);
    expect(scheduler.leading()).toBe(false);
    await scheduler.stop();
  });

  it('keeps going after a failed run, and never runs two ticks at once', async () => {
    let calls = 0;
    let release: () => void = () => {};
    const scheduler = startScheduler({
      run: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        await new Promise<void>((r) => {
          release = r;
        });
      },
      lead: async () => true,
      intervalMs: 0,
      checkMs: 60_000,
      now: () => calls,
      logger: quiet,
    });
    await scheduler.tick(); // fails, logged
    const second = scheduler.tick();
    const third = scheduler.tick(); // joins the running tick
    expect(third).toBe(second);
    await new Promise((r) => setImmediate(r));
    release();
    await second;
    expect(calls).toBe(2);
    await scheduler.stop();
  });
});

describe('parseChange', () => {
  it('reads the triggers payloads and ignores what it does not know', () => {
    expect(parseChange('key:1234abcd')).toEqual({ kind: 'key', keyId: '1234abcd' });
    expect(parseChange('alias:alias/a:b')).toEqual({ kind: 'alias', name: 'alias/a:b' });
    expect(parseChange('secret:arn:aws:secretsmanager:us-east-1:0:secret:x-AbCdEf')).toEqual({
      kind: 'secret',
      arn: 'arn:aws:secretsmanager:us-east-1:0:secret:x-AbCdEf',
    });
    expect(parseChange('events')).toEqual({ kind: 'events' });
    expect(parseChange('auth')).toEqual({ kind: 'auth' });
    expect(parseChange('terraform:x')).toBeUndefined();
  });
});

describe('keyedLock', () => {
  it('runs jobs on one key one after another in call order, and others alongside', async () => {
    const withLock = keyedLock();
    const log: string[] = [];
    const job = (name: string, ms: number) => async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      if (name === 'a1') throw new Error('a1 failed');
      return name;
    };
    const results = await Promise.allSettled([
      withLock('a', job('a1', 20)),
      withLock('a', job('a2', 1)),
      withLock('b', job('b1', 5)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(log.indexOf('a2+')).toBeGreaterThan(log.indexOf('a1-')); // a failure does not break the queue
    expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-'));
  });
});

describe('retryConflicts', () => {
  it('retries while an attempt lost its revision check (undefined), passing each attempt its index', async () => {
    const seen: number[] = [];
    const result = await retryConflicts(async (n) => {
      seen.push(n);
      return n < 2 ? undefined : false; // a decided answer, even false, ends the retries
    });
    expect(result).toBe(false);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('gives up with undefined after a bounded number of lost attempts, for the caller to report', async () => {
    let attempts = 0;
    const result = await retryConflicts(async () => {
      attempts++;
      return undefined;
    });
    expect(result).toBeUndefined();
    expect(attempts).toBe(12);
  });
});

describe('coalesced', () => {
  it('runs once more after the current run for any number of calls made during it', async () => {
    let runs = 0;
    let release: () => void = () => {};
    const refresh = coalesced(async () => {
      runs++;
      if (runs === 1)
        await new Promise<void>((r) => {
          release = r;
        });
    });
    const first = refresh();
    const during = [refresh(), refresh(), refresh()];
    release();
    await Promise.all([first, ...during]);
    expect(runs).toBe(2);
  });
});
