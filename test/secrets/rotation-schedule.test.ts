// RotationRules: day, hour and cron schedules, their windows, and every invalid rule AWS refuses.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import {
  nextRotationAt,
  type RotationRules,
  validateRotationRules,
  windowLength,
} from '../../src/secrets/rotation-schedule.js';

const HOUR = 3_600_000;
const utc = (y: number, m: number, d: number, h = 0, min = 0): number => Date.UTC(y, m - 1, d, h, min);
const iso = (ms: number): string => new Date(ms).toISOString();
/** Wednesday 2025-01-01 10:30 UTC. */
const NOW = utc(2025, 1, 1, 10, 30);

function occurrences(rules: RotationRules, from: number, count: number): string[] {
  const out: string[] = [];
  let t = from;
  for (let i = 0; i < count; i++) {
    t = nextRotationAt(rules, t);
    out.push(iso(t));
  }
  return out;
}

function expectInvalid(rules: RotationRules, message: RegExp): void {
  let caught: unknown;
  try {
    validateRotationRules(rules);
  } catch (e) {
    caught = e;
  }
  expect(caught, JSON.stringify(rules)).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe('InvalidParameterException');
  expect((caught as AppError).message).toMatch(message);
}

describe('day-based schedules', () => {
  it('AutomaticallyAfterDays opens the window at midnight UTC N days later', () => {
    const rules = { AutomaticallyAfterDays: 30 };
    validateRotationRules(rules);
    expect(iso(nextRotationAt(rules, NOW))).toBe('2025-01-31T00:00:00.000Z');
    expect(windowLength(rules)).toBe(24 * HOUR);
  });

  it('rate(N days) behaves like AutomaticallyAfterDays, singular unit included', () => {
    expect(iso(nextRotationAt({ ScheduleExpression: 'rate(10 days)' }, NOW))).toBe('2025-01-11T00:00:00.000Z');
    expect(iso(nextRotationAt({ ScheduleExpression: 'rate(1 day)' }, NOW))).toBe('2025-01-02T00:00:00.000Z');
    expect(windowLength({ ScheduleExpression: 'rate(10 days)' })).toBe(24 * HOUR);
  });

  it('is strictly after a time that is itself a window start', () => {
    expect(iso(nextRotationAt({ AutomaticallyAfterDays: 1 }, utc(2025, 3, 1)))).toBe('2025-03-02T00:00:00.000Z');
  });

  it('takes a Duration of up to 24h as the window', () => {
    const rules = { ScheduleExpression: 'rate(7 days)', Duration: '3h' };
    validateRotationRules(rules);
    expect(windowLength(rules)).toBe(3 * HOUR);
    validateRotationRules({ AutomaticallyAfterDays: 7, Duration: '24h' });
  });
});

describe('hour-based schedules', () => {
  it('rate(N hours) opens N hours later, aligned to the hour', () => {
    expect(iso(nextRotationAt({ ScheduleExpression: 'rate(4 hours)' }, NOW))).toBe('2025-01-01T14:00:00.000Z');
    expect(iso(nextRotationAt({ ScheduleExpression: 'rate(12 hours)' }, utc(2025, 1, 1, 14)))).toBe(
      '2025-01-02T02:00:00.000Z',
    );
    expect(iso(nextRotationAt({ ScheduleExpression: 'rate(24 hour)' }, NOW))).toBe('2025-01-02T10:00:00.000Z');
  });

  it('defaults to a one-hour window, and a Duration may fill the interval but not exceed it', () => {
    expect(windowLength({ ScheduleExpression: 'rate(6 hours)' })).toBe(HOUR);
    validateRotationRules({ ScheduleExpression: 'rate(6 hours)', Duration: '6h' });
    expect(windowLength({ ScheduleExpression: 'rate(6 hours)', Duration: '6h' })).toBe(6 * HOUR);
    expectInvalid({ ScheduleExpression: 'rate(6 hours)', Duration: '7h' }, /next rotation window/);
  });

  it('rejects rates below four hours', () => {
    expectInvalid({ ScheduleExpression: 'rate(2 hours)' }, /every 4 hours/);
    expectInvalid({ ScheduleExpression: 'rate(3 hours)' }, /every 4 hours/);
    validateRotationRules({ ScheduleExpression: 'rate(4 hours)' });
  });
});

describe('cron schedules', () => {
  it('cron(0 16 1,15 * ? *) opens at 16:00 UTC on the 1st and the 15th', () => {
    const rules = { ScheduleExpression: 'cron(0 16 1,15 * ? *)' };
    validateRotationRules(rules);
    expect(occurrences(rules, NOW, 4)).toEqual([
      '2025-01-01T16:00:00.000Z',
      '2025-01-15T16:00:00.000Z',
      '2025-02-01T16:00:00.000Z',
      '2025-02-15T16:00:00.000Z',
    ]);
    // Strictly after: a window start gives the following one.
    expect(iso(nextRotationAt(rules, utc(2025, 1, 1, 16)))).toBe('2025-01-15T16:00:00.000Z');
  });

  it('cron(0 8 ? * MON-FRI *) opens at 08:00 on weekdays only', () => {
    const rules = { ScheduleExpression: 'cron(0 8 ? * MON-FRI *)' };
    validateRotationRules(rules);
    // Friday 2025-01-03 09:00: the next one is Monday.
    expect(occurrences(rules, utc(2025, 1, 3, 9), 6)).toEqual([
      '2025-01-06T08:00:00.000Z',
      '2025-01-07T08:00:00.000Z',
      '2025-01-08T08:00:00.000Z',
      '2025-01-09T08:00:00.000Z',
      '2025-01-10T08:00:00.000Z',
      '2025-01-13T08:00:00.000Z',
    ]);
  });

  it('numbers weekdays like AWS, 1 = SUN to 7 = SAT', () => {
    expect(occurrences({ ScheduleExpression: 'cron(0 8 ? * 2-6 *)' }, utc(2025, 1, 3, 9), 6)).toEqual(
      occurrences({ ScheduleExpression: 'cron(0 8 ? * MON-FRI *)' }, utc(2025, 1, 3, 9), 6),
    );
    expect(new Date(nextRotationAt({ ScheduleExpression: 'cron(0 0 ? * 1 *)' }, NOW)).getUTCDay()).toBe(0);
    expect(new Date(nextRotationAt({ ScheduleExpression: 'cron(0 0 ? * 7 *)' }, NOW)).getUTCDay()).toBe(6);
  });

  it('cron(0 0 L * ? *) opens on the last day of each month, leap years included', () => {
    const rules = { ScheduleExpression: 'cron(0 0 L * ? *)' };
    expect(occurrences(rules, utc(2024, 1, 15), 3)).toEqual([
      '2024-01-31T00:00:00.000Z',
      '2024-02-29T00:00:00.000Z',
      '2024-03-31T00:00:00.000Z',
    ]);
    expect(iso(nextRotationAt(rules, utc(2025, 2, 1)))).toBe('2025-02-28T00:00:00.000Z');
  });

  it('supports # (nth weekday), weekday L and W', () => {
    // First Monday, last Friday, nearest weekday to the 15th (2025-02-15 is a Saturday).
    expect(iso(nextRotationAt({ ScheduleExpression: 'cron(0 0 ? * MON#1 *)' }, NOW))).toBe('2025-01-06T00:00:00.000Z');
    expect(iso(nextRotationAt({ ScheduleExpression: 'cron(0 0 ? * 6L *)' }, NOW))).toBe('2025-01-31T00:00:00.000Z');
    expect(iso(nextRotationAt({ ScheduleExpression: 'cron(0 0 15W * ? *)' }, utc(2025, 2, 1)))).toBe(
      '2025-02-14T00:00:00.000Z',
    );
  });

  it('reads AWS start/step increments, which restart each day', () => {
    const rules = { ScheduleExpression: 'cron(0 4/12 * * ? *)' };
    validateRotationRules(rules);
    expect(occurrences(rules, utc(2025, 1, 1), 3)).toEqual([
      '2025-01-01T04:00:00.000Z',
      '2025-01-01T16:00:00.000Z',
      '2025-01-02T04:00:00.000Z',
    ]);
  });

  it('honours the year field', () => {
    const rules = { ScheduleExpression: 'cron(0 0 1 1 ? 2030)' };
    validateRotationRules(rules);
    expect(iso(nextRotationAt(rules, NOW))).toBe('2030-01-01T00:00:00.000Z');
    expect(() => nextRotationAt(rules, utc(2030, 1, 1))).toThrow(/no rotation date after/);
    expect(occurrences({ ScheduleExpression: 'cron(0 0 1 1 ? 2030,2032-2033)' }, NOW, 3)).toEqual([
      '2030-01-01T00:00:00.000Z',
      '2032-01-01T00:00:00.000Z',
      '2033-01-01T00:00:00.000Z',
    ]);
  });

  it('keeps a day-based cron window open to midnight and an hour-based one for an hour', () => {
    expect(windowLength({ ScheduleExpression: 'cron(0 16 1,15 * ? *)' })).toBe(8 * HOUR);
    expect(windowLength({ ScheduleExpression: 'cron(0 0 L * ? *)' })).toBe(24 * HOUR);
    expect(windowLength({ ScheduleExpression: 'cron(0 4/12 * * ? *)' })).toBe(HOUR);
    expect(windowLength({ ScheduleExpression: 'cron(0 4/12 * * ? *)', Duration: '5h' })).toBe(5 * HOUR);
  });

  it('rejects a Duration that runs into the next UTC day or the next window', () => {
    validateRotationRules({ ScheduleExpression: 'cron(0 16 1,15 * ? *)', Duration: '8h' });
    expectInvalid({ ScheduleExpression: 'cron(0 16 1,15 * ? *)', Duration: '9h' }, /next UTC day/);
    validateRotationRules({ ScheduleExpression: 'cron(0 0/6 * * ? *)', Duration: '6h' });
    expectInvalid({ ScheduleExpression: 'cron(0 0/6 * * ? *)', Duration: '7h' }, /next rotation window/);
  });

  it('rejects schedules that open windows less than four hours apart', () => {
    expectInvalid({ ScheduleExpression: 'cron(0 * * * ? *)' }, /every 4 hours/);
    expectInvalid({ ScheduleExpression: 'cron(0 0,2 * * ? *)' }, /2 hour\(s\) apart/);
    // 22:00 then 01:00 the next day: the short gap crosses midnight.
    expectInvalid({ ScheduleExpression: 'cron(0 1,22 * * ? *)' }, /3 hour\(s\) apart/);
    validateRotationRules({ ScheduleExpression: 'cron(0 0/4 * * ? *)' });
    // On the 1st only, 22:00 is followed by 01:00 a month later.
    validateRotationRules({ ScheduleExpression: 'cron(0 1,22 1 * ? *)' });
  });
});

describe('invalid rules', () => {
  it('rejects both rules, and neither', () => {
    expectInvalid({ AutomaticallyAfterDays: 30, ScheduleExpression: 'rate(30 days)' }, /not both/);
    expectInvalid({}, /AutomaticallyAfterDays or ScheduleExpression/);
    expectInvalid({ Duration: '2h' }, /AutomaticallyAfterDays or ScheduleExpression/);
  });

  it('rejects AutomaticallyAfterDays outside 1–1000 or fractional', () => {
    for (const days of [0, -1, 1001, 1.5]) expectInvalid({ AutomaticallyAfterDays: days }, /1 to 1000/);
    validateRotationRules({ AutomaticallyAfterDays: 1000 });
  });

  it('rejects rates outside their ranges and unknown units', () => {
    expectInvalid({ ScheduleExpression: 'rate(0 days)' }, /1 to 1000 days/);
    expectInvalid({ ScheduleExpression: 'rate(1001 days)' }, /1 to 1000 days/);
    expectInvalid({ ScheduleExpression: 'rate(2 weeks)' }, /not a rate\(\) or cron\(\) expression/);
    expectInvalid({ ScheduleExpression: 'rate(-4 hours)' }, /not a rate\(\) or cron\(\) expression/);
  });

  it('rejects malformed cron expressions', () => {
    const cases: Array<[string, RegExp]> = [
      ['cron(0 12 * * ?)', /6 fields/],
      ['cron(0 12 * * ? * *)', /6 fields/],
      ['cron(0 12 1 * MON *)', /exactly one of day-of-month and day-of-week must be \?/],
      ['cron(0 12 ? * ? *)', /exactly one of day-of-month and day-of-week must be \?/],
      ['cron(30 12 * * ? *)', /minutes field must be 0/],
      ['cron(0 25 * * ? *)', /hours value 25 is outside 0-23/],
      ['cron(0 12 32 * ? *)', /day-of-month value 32 is outside 1-31/],
      ['cron(0 12 1 13 ? *)', /month value 13 is outside 1-12/],
      ['cron(0 12 ? * 0 *)', /day-of-week value 0 is outside 1-7/],
      ['cron(0 12 ? * 2-8 *)', /day-of-week value 8 is outside 1-7/],
      ['cron(0 12 * FOO ? *)', /not a valid cron expression/],
      ['cron(0 12 ? * MON+ *)', /not a valid cron expression/],
      ['cron(0 12 1-x * ? *)', /not a valid cron expression/],
      ['cron(0 12 * * ? 1800)', /outside 1970-2199/],
      ['cron(0 12 * * ? soon)', /year field/],
      ['cron(0 0 30 2 ? *)', /never matches/],
      ['cron(0 12 * * ? *', /not a rate\(\) or cron\(\) expression/],
      ['every tuesday', /not a rate\(\) or cron\(\) expression/],
      ['', /1 to 256 characters/],
      [`cron(0 12 * * ? *)${' '.repeat(250)}`, /1 to 256 characters/],
    ];
    for (const [expression, message] of cases) expectInvalid({ ScheduleExpression: expression }, message);
  });

  it('rejects a Duration that is not 1h to 24h', () => {
    for (const duration of ['0h', '25h', '100h', '3', 'h', '3 h', '1.5h', 'bad']) {
      expectInvalid({ AutomaticallyAfterDays: 10, Duration: duration }, /Duration .* is not valid/);
    }
  });

  it('makes nextRotationAt and windowLength throw for invalid rules too', () => {
    expect(() => nextRotationAt({ ScheduleExpression: 'rate(2 hours)' }, NOW)).toThrow(AppError);
    expect(() => windowLength({ AutomaticallyAfterDays: 30, ScheduleExpression: 'rate(30 days)' })).toThrow(AppError);
  });
});
