// LastAccessedDate: one write per secret and UTC day, batched after the read, never failing or slowing it.
import { describe, expect, it } from 'vitest';
import { DAY_MS, ManualClock } from '../../src/core/clock.js';
import { accessDay, createAccessDates } from '../../src/secrets/access-dates.js';
import { createSecretsEngine, type SecretsStore } from '../../src/secrets/index.js';
import { engineOnStore, T0 } from '../support/secrets-engine.js';

/** The engine on the test's real store, its recordAccess replaced. */
async function engineWith(recordAccessOf: (real: SecretsStore) => SecretsStore['recordAccess']) {
  const on = await engineOnStore();
  const real = on.store.secrets;
  const recordAccess = recordAccessOf(real);
  // The driver's methods are its own (non-enumerable) properties: inherit them, override one.
  const store: SecretsStore = Object.create(real, { recordAccess: { value: recordAccess } });
  const partition = { region: 'us-east-1', accountId: '000000000000' };
  return { ...on, real, secrets: createSecretsEngine({ store, kms: on.kms, clock: on.clock, partition }) };
}

function recorder() {
  const writes: [string[], number][] = [];
  let fail = false;
  const store = {
    recordAccess: async (arns: readonly string[], day: number) => {
      if (fail) throw new Error('SQLITE_FULL: database or disk is full');
      writes.push([[...arns], day]);
    },
  };
  const clock = new ManualClock(T0 + 5 * 3_600_000);
  const dates = createAccessDates(store, clock);
  return { dates, clock, writes, failNext: (f: boolean) => (fail = f) };
}

describe('accessDay', () => {
  it('is the UTC midnight of the day', () => {
    expect(accessDay(Date.UTC(2026, 2, 4, 23, 59, 59, 999))).toBe(Date.UTC(2026, 2, 4));
    expect(accessDay(Date.UTC(2026, 2, 5))).toBe(Date.UTC(2026, 2, 5));
  });
});

describe('createAccessDates', () => {
  it('writes nothing during the read, then once per secret and day, reads of one turn in one batch', async () => {
    const { dates, clock, writes } = recorder();
    dates.read({ arn: 'a' });
    dates.read({ arn: 'b' });
    dates.read({ arn: 'a' });
    expect(writes).toEqual([]); // the read answers first
    await dates.settled();
    expect(writes).toEqual([[['a', 'b'], T0]]);
    dates.read({ arn: 'a' });
    clock.advance(10 * 3_600_000);
    dates.read({ arn: 'a' });
    await dates.settled();
    expect(writes).toHaveLength(1);
    clock.advance(9 * 3_600_000); // the next day (UTC)
    dates.read({ arn: 'a' });
    await dates.settled();
    expect(writes).toEqual([
      [['a', 'b'], T0],
      [['a'], T0 + DAY_MS],
    ]);
  });

  it('skips a secret whose stored date is already today (another process or an earlier run wrote it)', async () => {
    const { dates, writes } = recorder();
    dates.read({ arn: 'a', lastAccessedAt: T0 });
    dates.read({ arn: 'b', lastAccessedAt: T0 - DAY_MS });
    await dates.settled();
    expect(writes).toEqual([[['b'], T0]]);
  });

  it('a failed write is swallowed and tried again by a later read', async () => {
    const { dates, writes, failNext } = recorder();
    failNext(true);
    dates.read({ arn: 'a' });
    await expect(dates.settled()).resolves.toBeUndefined();
    failNext(false);
    dates.read({ arn: 'a' });
    await dates.settled();
    expect(writes).toEqual([[['a'], T0]]);
  });
});

describe('the engine', () => {
  it('GetSecretValue sets LastAccessedDate to the day, with no revision or change event', async () => {
    const calls: number[] = [];
    const { secrets, real, clock } = await engineWith((real) => (arns, day) => {
      calls.push(day);
      return real.recordAccess(arns, day);
    });
    await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    clock.advance(DAY_MS + 3_600_000);
    const before = await real.eventCursors();
    expect((await secrets.find('app/db')).lastAccessedAt).toBeUndefined();
    await secrets.getSecretValue('app/db');
    await secrets.getSecretValue('app/db');
    await secrets.accessDatesSettled();
    const s = await secrets.find('app/db');
    expect(s.lastAccessedAt).toBe(T0 + DAY_MS);
    expect(s.revision).toBe(1);
    expect(await real.eventCursors()).toEqual(before);
    expect(calls).toEqual([T0 + DAY_MS]);
  });

  it('a store that cannot record the date does not fail the read', async () => {
    const { secrets } = await engineWith(() => async () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    });
    await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    expect((await secrets.getSecretValue('app/db')).value.string).toBe('v');
    await secrets.accessDatesSettled();
    expect((await secrets.find('app/db')).lastAccessedAt).toBeUndefined();
  });
});
