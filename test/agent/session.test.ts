// The workload session on its own: one login however many callers wait, renewal at 2/3 of the session's
// lifetime (ManualClock for the time, fake timers for the renewal timer), a new login after the server
// refuses the session, a new token file trying at once, and stop() leaving no timer behind.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentHealth } from '../../src/agent/health.js';
import { WorkloadSession } from '../../src/agent/session.js';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { createLogger } from '../../src/observability/logger.js';

const LIFETIME_MS = 15 * 60_000;

/** A session over a stub server: each login answers `t<n>`, good for LIFETIME_MS from the clock's now. */
function harness(options: { failFirst?: number } = {}) {
  const clock = new ManualClock();
  const logs: string[] = [];
  const logins: string[] = [];
  let jwt = 'jwt-1';
  let failures = options.failFirst ?? 0;
  const client = {
    server: 'http://127.0.0.1:1',
    login: async (_role: string, presented: string) => {
      logins.push(presented);
      if (failures-- > 0) throw new AppError('ExpiredTokenException', 'The web identity token is expired.');
      return { token: `t${logins.length}`, expiresAt: clock.now() + LIFETIME_MS };
    },
  };
  const health = new AgentHealth(() => clock.now());
  const session = new WorkloadSession({
    role: 'web',
    tokenFile: '/var/run/secrets/tokens/keysafe',
    client,
    health,
    logger: createLogger('debug', (line) => logs.push(line)),
    now: () => clock.now(),
    readJwt: async () => jwt,
  });
  return {
    clock,
    logs,
    logins,
    health,
    session,
    writeJwt: (next: string) => {
      jwt = next;
    },
  };
}

let stopLast: (() => void) | undefined;
afterEach(() => {
  stopLast?.();
  stopLast = undefined;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('the workload session', () => {
  it('logs in once however many callers wait, then answers from memory', async () => {
    const { session, logins } = harness();
    stopLast = () => session.stop();
    const tokens = await Promise.all([session.token(), session.token(), session.token()]);
    expect(tokens).toEqual(['t1', 't1', 't1']);
    expect(await session.token()).toBe('t1');
    expect(logins).toEqual(['jwt-1']);
  });

  it('renews once 2/3 of the lifetime has passed, not before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { session, logins, clock } = harness();
    stopLast = () => session.stop();
    await session.token();
    const renewAt = (LIFETIME_MS * 2) / 3;

    clock.advance(renewAt - 1);
    await vi.advanceTimersByTimeAsync(renewAt - 1);
    expect(logins).toHaveLength(1);
    clock.advance(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(logins).toHaveLength(2);
    expect(await session.token()).toBe('t2');

    // The next renewal counts from the new session's expiry.
    clock.advance(renewAt);
    await vi.advanceTimersByTimeAsync(renewAt);
    expect(logins).toHaveLength(3);
  });

  it('does not hand out a session within 5 s of its expiry: it logs in first', async () => {
    const { session, logins, clock } = harness();
    stopLast = () => session.stop();
    await session.token();
    clock.advance(LIFETIME_MS - 5_001);
    expect(await session.token()).toBe('t1');
    clock.advance(1);
    expect(await session.token()).toBe('t2');
    expect(logins).toHaveLength(2);
  });

  it('logs in again after invalidate() (the server answered 401)', async () => {
    const { session, logins } = harness();
    stopLast = () => session.stop();
    await session.token();
    session.invalidate();
    expect(await session.token()).toBe('t2');
    expect(logins).toHaveLength(2);
  });

  it('records a refused login, and a new token file ends the backoff at once', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999); // the first backoff is then ~250 ms
    const { session, logins, logs, health, writeJwt } = harness({ failFirst: 1 });
    stopLast = () => session.stop();
    const reconnects: number[] = [];
    session.onTokenLogin(() => reconnects.push(logins.length));
    const started = performance.now();
    const token = session.token();
    await vi.waitFor(() => expect(health.lastError).toMatch(/^ExpiredTokenException: .*expired/));
    expect(logs.join('')).toContain('"msg":"login failed; retrying"');

    writeJwt('jwt-2');
    session.tokenFileChanged();
    expect(await token).toBe('t2');
    expect(performance.now() - started).toBeLessThan(200);
    expect(logins).toEqual(['jwt-1', 'jwt-2']);
    // That login was already under way: the stream is not reconnected for it.
    expect(reconnects).toEqual([]);
  });

  it('logs in with a new token file while the old session stays in use, then reconnects the stream', async () => {
    const { session, logins, writeJwt } = harness();
    stopLast = () => session.stop();
    await session.token();
    let reconnected = false;
    session.onTokenLogin(() => {
      reconnected = true;
    });
    writeJwt('jwt-2');
    session.tokenFileChanged();
    expect(await session.token()).toBe('t1');
    await vi.waitFor(() => expect(reconnected).toBe(true));
    expect(await session.token()).toBe('t2');
    expect(logins).toEqual(['jwt-1', 'jwt-2']);
  });

  it('stop() leaves no timer behind and ends a login waiting to retry', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { session } = harness();
    await session.token(); // a renewal timer
    session.tokenFileChanged(); // a recheck timer, and a login
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    session.stop();
    expect(vi.getTimerCount()).toBe(0);

    vi.useRealTimers();
    const refused = harness({ failFirst: 1_000 });
    const token = refused.session.token();
    await vi.waitFor(() => expect(refused.logins.length).toBeGreaterThan(0));
    refused.session.stop();
    await expect(token).rejects.toMatchObject({ code: 'ServiceUnavailableException' });
  });
});
