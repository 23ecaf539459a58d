// Network faults between the agent and the server, injected by a TCP proxy: a server answering seconds
// late (below and beyond the agent's 10 s request timeout), and one whose watch stream is cut every
// 1.5 s. Each: the last good value served whole meanwhile, a clear log line where a request fails, and
// the current value reached once the fault ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until } from '../support/wait.js';
import { expectOnlyWholeValues, type ProxiedAgent, startProxiedAgent, VALUE_MARK } from './agent-harness.js';
import type { FaultProxy } from './fault-proxy.js';

let proxy: FaultProxy;
let agent: ProxiedAgent;

beforeAll(async () => {
  agent = await startProxiedAgent();
  proxy = agent.proxy;
});

afterAll(async () => {
  // Through every fault: no secret value in any log line.
  if (agent) expect(agent.log()).not.toContain(VALUE_MARK);
  if (process.env.FAULT_DEBUG) console.log(agent?.log());
  await agent?.stop();
});

describe('agent network faults', () => {
  it('serves the last value while the server answers 2.5 s late, and takes the new one when it arrives', async () => {
    const before = agent.fileVersion();
    const readers = await agent.readers();
    proxy.delayMs = 2500;
    try {
      const started = Date.now();
      await agent.put(before + 1);
      await sleep(1500);
      expect(agent.fileVersion()).toBe(before); // the change event itself is late
      await agent.converged(before + 1, 10_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    } finally {
      proxy.delayMs = 0;
    }

    const seen = await readers.stop();
    expectOnlyWholeValues(seen);
    expect(seen.files.versions).toEqual([before, before + 1]);
    expect(seen.endpoint.versions).toEqual([before, before + 1]);
    expect(agent.alive()).toBe(true);
  });

  it('logs a fetch that times out and keeps the last value meanwhile, then takes the new one', async () => {
    const before = agent.fileVersion();
    const readers = await agent.readers();
    // The change event arrives at once; the fetch it starts is answered after the 10 s timeout (the
    // fetch for the change's second event, stages moved, is answered at once).
    proxy.slowFetches(1, 11_000);
    try {
      await agent.put(before + 1);
      await sleep(5000);
      expect(agent.fileVersion()).toBe(before); // still waiting for the answer
      await until(
        () =>
          /"msg":"could not fetch secret; keeping the last good value"[^\n]*no answer within 10 s/.test(agent.log()),
        12_000,
        'the timed-out fetch is logged',
      );
    } finally {
      proxy.slowFetches(0, 0);
    }
    await agent.converged(before + 1, 6000);

    const seen = await readers.stop();
    expectOnlyWholeValues(seen);
    expect(seen.files.versions).toEqual([before, before + 1]);
    expect(agent.alive()).toBe(true);
  }, 30_000);

  it('fetches again by itself when the fetches a change asked for failed while the stream stayed up', async () => {
    const before = agent.fileVersion();
    const readers = await agent.readers();
    const failures = () => agent.log().split('"msg":"could not fetch secret').length - 1;
    const failed = failures();
    // PutSecretValue sends two events (version created, stages moved): both fetches fail.
    proxy.resetFetches = true;
    try {
      await agent.put(before + 1);
      await until(() => failures() >= failed + 2, 5000, 'both failed fetches are logged');
      await sleep(300);
      expect(agent.fileVersion()).toBe(before);
    } finally {
      proxy.resetFetches = false;
    }
    // No further change comes and the poll is minutes away: the agent retries the fetch itself.
    await agent.converged(before + 1, 6000);

    const seen = await readers.stop();
    expectOnlyWholeValues(seen);
    expect(seen.files.versions).toEqual([before, before + 1]);
    expect(agent.alive()).toBe(true);
  });

  it('reconnects a watch stream cut every 1.5 s, resuming where it was, and misses no change', async () => {
    const before = agent.fileVersion();
    const readers = await agent.readers();
    proxy.cutWatches(1500);
    let last = before;
    try {
      for (let i = 1; i <= 6; i++) {
        last = before + i;
        await agent.put(last);
        await sleep(500);
      }
      await agent.converged(last, 5000);
      expect(proxy.cuts).toBeGreaterThanOrEqual(3);
      expect(agent.log()).toMatch(/"msg":"watch stream lost; reconnecting"[^\n]*"error":"watch stream broke/);
    } finally {
      proxy.cutWatches(undefined);
    }
    await agent.put(last + 1);
    await agent.converged(last + 1, 3000);

    const seen = await readers.stop();
    expectOnlyWholeValues(seen);
    expect(seen.files.versions.at(0)).toBe(before);
    expect(seen.files.versions.at(-1)).toBe(last + 1);
    expect(agent.alive()).toBe(true);
  });
});
