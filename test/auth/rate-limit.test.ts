// The failure counter behind login throttling: a one-minute window, and a table that a flood of keys cannot grow.
import { describe, expect, it } from 'vitest';
import { FailureLimiter } from '../../src/auth/rate-limit.js';
import { ManualClock } from '../../src/core/clock.js';

describe('FailureLimiter', () => {
  it('blocks a key at its limit and forgets its failures within a minute', () => {
    const clock = new ManualClock(1_000_000);
    const limiter = new FailureLimiter(3, () => clock.now());
    for (let i = 0; i < 3; i++) {
      expect(limiter.blocked('a')).toBe(false);
      limiter.fail('a');
      clock.advance(1000);
    }
    expect(limiter.blocked('a')).toBe(true);
    expect(limiter.failures('b')).toBe(0);
    clock.advance(54_000); // 57 s after the first failure: still counted
    expect(limiter.failures('a')).toBe(3);
    clock.advance(6_000);
    expect(limiter.failures('a')).toBeLessThan(3);
    clock.advance(60_000);
    expect(limiter.failures('a')).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it('keeps counting across the window as failures keep coming (sliding, not reset each minute)', () => {
    const clock = new ManualClock(0);
    const limiter = new FailureLimiter(1000, () => clock.now());
    for (let i = 0; i < 120; i++) {
      limiter.fail('a');
      clock.advance(1000);
    }
    // One failure a second: about the last minute's worth is counted, never the two minutes'.
    expect(limiter.failures('a')).toBeGreaterThanOrEqual(55);
    expect(limiter.failures('a')).toBeLessThanOrEqual(60);
  });

  it('tracks at most maxKeys keys under a flood of distinct keys, forgetting the stalest first', () => {
    const clock = new ManualClock(0);
    const limiter = new FailureLimiter(2, () => clock.now(), 1000);
    limiter.fail('victim-pair');
    limiter.fail('victim-pair');
    for (let i = 0; i < 999; i++) limiter.fail(`spray-${i}`);
    expect(limiter.size).toBe(1000);
    // A fresh failure keeps a key in the table: the stalest key goes, not the most recently failing.
    limiter.fail('victim-pair');
    for (let i = 0; i < 50_000; i++) limiter.fail(`spray-more-${i}`);
    expect(limiter.size).toBe(1000);
    expect(limiter.failures('spray-more-49999')).toBe(1);
    expect(limiter.failures('spray-0')).toBe(0);
  });
});
