// A server that goes silent without closing the watch stream (power loss, a network partition: no
// FIN, no RST) is given up after three missed heartbeats; the agent reconnects and catches up
// instead of waiting for its next full poll (minutes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProxiedAgent, startProxiedAgent, VALUE_MARK } from './agent-harness.js';
import type { FaultProxy } from './fault-proxy.js';

const HEARTBEAT_MS = 200;
let proxy: FaultProxy;
let agent: ProxiedAgent;

beforeAll(async () => {
  agent = await startProxiedAgent({ server: { watchHeartbeatMs: HEARTBEAT_MS } });
  proxy = agent.proxy;
});

afterAll(async () => {
  if (agent) expect(agent.log()).not.toContain(VALUE_MARK);
  await agent?.stop();
});

describe('a server gone silent', () => {
  it('is given up after three missed heartbeats, and the change made meanwhile arrives', async () => {
    proxy.silenceWatches();
    const silencedAt = Date.now();
    await agent.put(1);
    await agent.converged(1, 5000);
    expect(Date.now() - silencedAt).toBeLessThan(5000);
    expect(agent.log()).toContain(`no heartbeat for ${(3 * HEARTBEAT_MS) / 1000} s`);
    expect(agent.alive()).toBe(true);
  });
});
