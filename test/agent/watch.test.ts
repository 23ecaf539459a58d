// The change stream follower on its own, against a local server-sent events server on 127.0.0.1 whose
// answers each test scripts connection by connection: what a message makes it refresh, resuming from the
// cursor, reconnect backoff (Math.random pinned, so full jitter gives its upper bound), a clean end
// reconnecting at once, a refused session dropped, and stop() closing the stream for good.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { newAgentKeyPair, ServerClient } from '../../src/agent/client.js';
import { AgentHealth } from '../../src/agent/health.js';
import { ChangeWatch, RECONNECT } from '../../src/agent/watch.js';
import { createLogger } from '../../src/observability/logger.js';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

const connections: { at: number; url: string }[] = [];
let answers: Answer[] = [];
/** Once the script runs out: a stream that stays open with nothing to say. */
const idle: Answer = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(': idle\n\n');
};
const server = createServer((req, res) => {
  connections.push({ at: performance.now(), url: req.url ?? '' });
  (answers.shift() ?? idle)(req, res);
});
let url: string;

const event = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
const hello = (cursor: number) => event('hello', { cursor, heartbeatMs: 15_000 });
const change = (cursor: number, name: string) =>
  event('change', {
    cursor,
    type: 'PutSecretValue',
    name,
    arn: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`,
  });

/** Writes `events`, then ends the response cleanly (`end`) or cuts the connection (`cut`), or keeps it open. */
const stream =
  (events: string[], then: 'end' | 'cut' | 'open' = 'open'): Answer =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(events.join(''), () => {
      if (then === 'end') res.end();
      // A moment for the agent to read what came before the cut.
      if (then === 'cut') setTimeout(() => res.destroy(), 50);
    });
  };
const refuse =
  (status: number, type: string): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ __type: type, message: 'refused by the test server' }));
  };

beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
});

let running: ChangeWatch | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
  connections.length = 0;
  answers = [];
  vi.restoreAllMocks();
});

/** A watch whose sync records what it is asked to refresh; app/db is current, app/other never fetched. */
async function startWatch() {
  const refreshed: string[][] = [];
  const session = { token: async () => 'session-token', invalidate: vi.fn() };
  const health = new AgentHealth(Date.now);
  const logs: string[] = [];
  const watch = new ChangeWatch({
    client: new ServerClient([url], await newAgentKeyPair()),
    session,
    sync: {
      refresh: async (ids) => void refreshed.push([...ids]),
      configuredIds: () => ['app/db', 'app/other'],
      isCurrent: (id) => id === 'app/db',
    },
    keptIds: () => ['app/db', 'app/other', 'app/asked'],
    health,
    logger: createLogger('debug', (line) => logs.push(line)),
    pollIntervalMs: 3_600_000,
  });
  running = watch;
  watch.start();
  return { watch, refreshed, session, health, logs };
}

describe('the change stream follower', () => {
  it('loads every configured secret on the first hello, then what each change names, and resumes from the cursor', async () => {
    answers = [stream([hello(5), change(6, 'app/db'), change(7, 'app/unrelated')], 'cut')];
    const { refreshed, health, logs } = await startWatch();
    await vi.waitFor(() => expect(connections).toHaveLength(2));
    expect(refreshed).toEqual([['app/db', 'app/other'], ['app/db']]);
    expect(connections.map((c) => c.url)).toEqual(['/v1/watch', '/v1/watch?cursor=7']);
    expect(logs.join('')).toContain('"msg":"watch stream lost; reconnecting"');
    expect(health.lastError).toMatch(/watch stream broke/);
  });

  it('on a resumed hello loads only what is not current, and on a reset everything it keeps', async () => {
    answers = [stream([hello(5)], 'end'), stream([hello(9), event('reset', { cursor: 12 })])];
    const { refreshed, health } = await startWatch();
    await vi.waitFor(() => expect(refreshed).toHaveLength(3));
    expect(refreshed).toEqual([['app/db', 'app/other'], ['app/other'], ['app/db', 'app/other', 'app/asked']]);
    expect(health.connected).toBe(true);
    expect(health.lastError).toBeUndefined();
  });

  it('backs off between failed connections, up to a second, and reconnects at once after a clean end', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const unavailable = refuse(503, 'ServiceUnavailableException');
    answers = [stream([hello(1)], 'end'), unavailable, unavailable, unavailable, unavailable, stream([hello(2)])];
    const { health } = await startWatch();
    await vi.waitFor(() => expect(connections).toHaveLength(6), { timeout: 5_000 });
    const gaps = connections.slice(1).map((c, i) => c.at - connections[i]!.at);
    // A clean end (the session is over) reconnects at once; each failure then waits base·2^attempt, capped.
    const expected = [0, 200, 400, 800, RECONNECT.capMs];
    for (const [i, gap] of gaps.entries()) {
      expect(gap).toBeGreaterThanOrEqual(expected[i]! * 0.999 - 5);
      expect(gap).toBeLessThan(expected[i]! + 350); // slack for a loaded machine, below the uncapped 1.6 s
    }
    await vi.waitFor(() => expect(health.connected).toBe(true));
  });

  it('drops a session the server refuses, and reconnects at once when told to', async () => {
    answers = [refuse(401, 'UnrecognizedClientException'), stream([hello(3)])];
    const { watch, session, health } = await startWatch();
    await vi.waitFor(() => expect(health.connected).toBe(true));
    expect(session.invalidate).toHaveBeenCalledOnce();

    const before = connections.length;
    watch.reconnect();
    await vi.waitFor(() => expect(connections).toHaveLength(before + 1));
    expect(connections.at(-1)!.url).toBe('/v1/watch?cursor=3');
  });

  it('stop() closes the open stream and opens no other', async () => {
    answers = [stream([hello(1)])];
    const { watch, health } = await startWatch();
    await vi.waitFor(() => expect(health.connected).toBe(true));
    await watch.stop();
    expect(health.connected).toBe(false);
    await new Promise((ok) => setTimeout(ok, 300));
    expect(connections).toHaveLength(1);
  });
});
