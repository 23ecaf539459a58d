// Secrets Manager RotationRules: validation, the next rotation window's start and its length (all UTC).
import { Cron } from 'croner';
import { AppError } from '../core/errors.js';

export interface RotationRules {
  AutomaticallyAfterDays?: number;
  ScheduleExpression?: string;
  Duration?: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MIN_INTERVAL_HOURS = 4;
const MAX_DAYS = 1000;
const MAX_RATE_HOURS = 24 * MAX_DAYS;
const MAX_EXPRESSION_LENGTH = 256;
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;
/** Bounds on the occurrences sampled to measure a cron schedule's shortest gap. */
const SAMPLE_OCCURRENCES = 1500;
const SAMPLE_SPAN_MS = 4 * 366 * DAY_MS;

type Schedule =
  | { kind: 'days'; days: number }
  | { kind: 'hours'; hours: number }
  | { kind: 'cron'; expression: string; cron: Cron; minGapMs: number; hours: number[] };

/** Throws AppError('InvalidParameterException', clear message) for invalid rules. */
export function validateRotationRules(rules: RotationRules): void {
  const schedule = parseSchedule(rules);
  if (rules.Duration == null) return;
  const hours = parseDuration(rules.Duration);
  switch (schedule.kind) {
    case 'days':
      // Day-based windows open at midnight UTC, so any 1–24 h window stays inside the day.
      return;
    case 'hours':
      if (hours > schedule.hours) {
        throw invalid(
          `The rotation window (Duration ${rules.Duration}) must not extend into the next rotation window, which opens ${schedule.hours} hours later.`,
        );
      }
      return;
    case 'cron': {
      if (hours * HOUR_MS > schedule.minGapMs) {
        throw invalid(
          `The rotation window (Duration ${rules.Duration}) must not extend into the next rotation window, which can open ${schedule.minGapMs / HOUR_MS} hours later.`,
        );
      }
      const latest = Math.max(...schedule.hours);
      if (latest + hours > 24) {
        throw invalid(
          `The rotation window (Duration ${rules.Duration}) must not extend into the next UTC day: a window opening at ${latest}:00 can last at most ${24 - latest}h.`,
        );
      }
      return;
    }
  }
}

/**
 * Start (ms) of the next rotation window strictly after `after` (ms). Throws AppError for invalid
 * rules, and for a cron schedule whose allowed years are all over.
 */
export function nextRotationAt(rules: RotationRules, after: number): number {
  const schedule = parseSchedule(rules);
  switch (schedule.kind) {
    case 'days':
      // Counted from `after`, then moved back to midnight: day-based windows open at 00:00 UTC.
      return startOfUtcDay(after + schedule.days * DAY_MS);
    case 'hours':
      return Math.floor((after + schedule.hours * HOUR_MS) / HOUR_MS) * HOUR_MS;
    case 'cron': {
      const next = schedule.cron.nextRun(new Date(after));
      if (next === null) {
        throw invalid(`The schedule expression ${schedule.expression} has no rotation date after ${isoDate(after)}.`);
      }
      return next.getTime();
    }
  }
}

/** The next window as a record field, or none when the schedule has ended (a cron limited to past years). */
export function nextRotationOrNone(rules: RotationRules | undefined, after: number): { nextRotationAt?: number } {
  if (!rules) return {};
  try {
    return { nextRotationAt: nextRotationAt(rules, after) };
  } catch {
    return {};
  }
}

/** Length of the rotation window in ms (Duration, or the AWS default). */
export function windowLength(rules: RotationRules): number {
  const schedule = parseSchedule(rules);
  if (rules.Duration != null) return parseDuration(rules.Duration) * HOUR_MS;
  switch (schedule.kind) {
    case 'days':
      return DAY_MS;
    case 'hours':
      return HOUR_MS;
    case 'cron': {
      // AWS: a cron schedule "in days" (one opening hour a day) keeps its window open to the end
      // of the UTC day; one "in hours" (several opening hours a day) closes it after an hour.
      const [only] = schedule.hours;
      return schedule.hours.length === 1 && only !== undefined ? (24 - only) * HOUR_MS : HOUR_MS;
    }
  }
}

function parseSchedule(rules: RotationRules): Schedule {
  const days = rules.AutomaticallyAfterDays;
  const expression = rules.ScheduleExpression;
  if (days != null && expression != null) {
    throw invalid('Specify either AutomaticallyAfterDays or ScheduleExpression in RotationRules, not both.');
  }
  if (days != null) {
    if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
      throw invalid(`AutomaticallyAfterDays must be an integer from 1 to ${MAX_DAYS}.`);
    }
    return { kind: 'days', days };
  }
  if (expression == null) {
    throw invalid('RotationRules must contain AutomaticallyAfterDays or ScheduleExpression.');
  }
  if (typeof expression !== 'string' || expression.length < 1 || expression.length > MAX_EXPRESSION_LENGTH) {
    throw invalid(`ScheduleExpression must be a string of 1 to ${MAX_EXPRESSION_LENGTH} characters.`);
  }
  const rate = /^rate\(\s*(\d+)\s+(hours?|days?)\s*\)$/.exec(expression);
  if (rate) return parseRate(expression, Number(rate[1]), rate[2]!);
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return parseCron(expression, cron[1]!);
  throw invalid(`ScheduleExpression ${expression} is not a rate() or cron() expression.`);
}

function parseRate(expression: string, value: number, unit: string): Schedule {
  if (unit.startsWith('day')) {
    if (value < 1 || value > MAX_DAYS) {
      throw invalid(`ScheduleExpression ${expression}: a rate in days must be from 1 to ${MAX_DAYS} days.`);
    }
    return { kind: 'days', days: value };
  }
  if (value < MIN_INTERVAL_HOURS || value > MAX_RATE_HOURS) {
    throw invalid(
      `ScheduleExpression ${expression}: a rate in hours must be from ${MIN_INTERVAL_HOURS} to ${MAX_RATE_HOURS} hours; rotations can't run more often than every ${MIN_INTERVAL_HOURS} hours.`,
    );
  }
  return { kind: 'hours', hours: value };
}

// Parsing and sampling a cron schedule costs milliseconds; rules are re-read on every scheduler
// pass, so the (immutable) result is kept per expression.
const cronCache = new Map<string, Schedule>();
const CRON_CACHE_LIMIT = 512;

function parseCron(expression: string, body: string): Schedule {
  const cached = cronCache.get(expression);
  if (cached) return cached;
  const schedule = analyseCron(expression, body);
  if (cronCache.size >= CRON_CACHE_LIMIT) cronCache.clear();
  cronCache.set(expression, schedule);
  return schedule;
}

function analyseCron(expression: string, body: string): Schedule {
  const bad = (why: string): AppError =>
    invalid(`ScheduleExpression ${expression} is not a valid cron expression: ${why}`);
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw bad('it needs 6 fields (minutes hours day-of-month month day-of-week year).');
  }
  const [minutes, hours, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  // Windows open on the hour, so AWS only accepts 0 here.
  if (minutes !== '0') throw bad('the minutes field must be 0.');
  if ((dom === '?') === (dow === '?')) {
    throw bad('exactly one of day-of-month and day-of-week must be ?.');
  }
  if (!/^[0-9*,/-]+$/.test(hours)) throw bad(`hours field ${hours} has characters other than 0-9 , - * /.`);
  if (dom !== '?' && !/^[0-9*,/LW-]+$/.test(dom)) throw bad(`day-of-month field ${dom} is not valid.`);
  if (!/^[0-9A-Za-z*,/-]+$/.test(month)) throw bad(`month field ${month} is not valid.`);
  if (dow !== '?' && !/^[0-9A-Za-z*,/L#-]+$/.test(dow)) throw bad(`day-of-week field ${dow} is not valid.`);
  checkValues('hours', hours, 0, 23, bad);
  checkValues('day-of-month', dom, 1, 31, bad);
  checkValues('month', month, 1, 12, bad);
  checkValues('day-of-week', dow, 1, 7, bad);
  checkYearField(year, bad);

  // AWS numbers weekdays 1 (SUN) to 7 (SAT), like Quartz; a lone L there is the last weekday, SAT.
  const croneDow = dow === 'L' ? '7' : dow;
  let cron: Cron;
  try {
    // `?` is croner's `*`; with the other day field `*`, AND-combining the two is exactly AWS's
    // "use the other field" meaning. utcOffset 0 is UTC without croner's (slow) time-zone path.
    cron = new Cron(`0 0 ${hours} ${dom} ${month} ${croneDow} ${year}`, {
      utcOffset: 0,
      mode: '7-part',
      alternativeWeekdays: true,
      domAndDow: true,
      sloppyRanges: true,
    });
  } catch (e) {
    throw bad(e instanceof Error ? e.message.replace(/^CronPattern: /, '') : String(e));
  }

  // The hard "at most every 4 hours" rule, checked on real occurrences: a schedule is periodic,
  // so a few years of them show every same-day and across-midnight gap it can produce.
  let previous = cron.nextRun(new Date(Date.UTC(MIN_YEAR, 0, 1) - 1));
  if (previous === null) throw bad('it never matches a date.');
  const first = previous.getTime();
  const firstDay = startOfUtcDay(first);
  const openingHours = new Set<number>([previous.getUTCHours()]);
  let minGapMs = Number.POSITIVE_INFINITY;
  for (let i = 1; i < SAMPLE_OCCURRENCES; i++) {
    const next = cron.nextRun(previous);
    if (next === null || next.getTime() - first > SAMPLE_SPAN_MS) break;
    const gap = next.getTime() - previous.getTime();
    if (gap < MIN_INTERVAL_HOURS * HOUR_MS) {
      throw bad(
        `it opens rotation windows ${gap / HOUR_MS} hour(s) apart; rotations can't run more often than every ${MIN_INTERVAL_HOURS} hours.`,
      );
    }
    minGapMs = Math.min(minGapMs, gap);
    // Every matching day opens at the same hours, so the first day shows them all.
    if (startOfUtcDay(next.getTime()) === firstDay) openingHours.add(next.getUTCHours());
    previous = next;
  }
  return { kind: 'cron', expression, cron, minGapMs, hours: [...openingHours].sort((a, b) => a - b) };
}

/** Range-checks a field's plain numbers here, since croner reports them shifted to its 0-based indexes. */
function checkValues(name: string, field: string, min: number, max: number, bad: (why: string) => AppError): void {
  for (const item of field.split(',')) {
    // Only the values: not a /step, a #nth or the L and W modifiers.
    const values = item.replace(/[/#].*$/, '').replace(/[LW]/g, '');
    for (const v of values.split('-')) {
      if (/^\d+$/.test(v) && (Number(v) < min || Number(v) > max)) {
        throw bad(`${name} value ${v} is outside ${min}-${max}.`);
      }
    }
  }
}

function checkYearField(year: string, bad: (why: string) => AppError): void {
  if (year === '*') return;
  for (const part of year.split(',')) {
    const m = /^(\*|\d{4})(?:-(\d{4}))?(?:\/(\d+))?$/.exec(part);
    if (!m || (m[1] === '*' && m[2] !== undefined))
      throw bad(`year field ${year} is not *, a year, a list or a range.`);
    for (const y of [m[1], m[2]]) {
      if (y !== undefined && y !== '*' && (Number(y) < MIN_YEAR || Number(y) > MAX_YEAR)) {
        throw bad(`year ${y} is outside ${MIN_YEAR}-${MAX_YEAR}.`);
      }
    }
    if (m[3] !== undefined && Number(m[3]) < 1) throw bad(`year step ${m[3]} must be at least 1.`);
  }
}

function parseDuration(duration: string): number {
  const m = typeof duration === 'string' ? /^([0-9]{1,2})h$/.exec(duration) : null;
  const hours = m ? Number(m[1]) : Number.NaN;
  if (!(hours >= 1 && hours <= 24)) {
    throw invalid(`Duration ${String(duration)} is not valid: use a whole number of hours from 1h to 24h, e.g. 3h.`);
  }
  return hours;
}

function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

function isoDate(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

function invalid(message: string): AppError {
  return new AppError('InvalidParameterException', message);
}
