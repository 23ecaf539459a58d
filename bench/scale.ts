// Keysafe scale benchmark (issue 9): one server, 10,000 secrets, 1,000 concurrent watch streams.
//
//   npm run bench:scale              default: 10,000 secrets, 1,000 watchers (about 2.5 minutes, 1 of them
//                                    creating the secrets)
//   npm run bench:scale -- --quick   CI smoke: 1,000 secrets, 200 watchers, 20 rotations (about 20 s)
//   BENCH_SCALE_SECRETS              secrets created first (default 10000; 1000 with --quick)
//   BENCH_SCALE_WATCHERS             watch streams (default 1000; 200 with --quick)
//   BENCH_SCALE_ROTATIONS            rotations timed one at a time (default 100; 20 with --quick)
//   BENCH_SCALE_STORM                secrets rotated at once in the storm (default 100)
//   BENCH_SCALE_WORKERS              processes the watchers are spread over (default 2)
//   BENCH_SERVER_NODE_ARGS           node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//
// Every part is real: a Keysafe server process (`build/src/cli.js server`, SQLite on disk, audit fsynced,
// trusting a local OIDC issuer through discovery) and watcher processes. Each watcher is what the sidecar
// agent runs, with the agent's own client code (src/agent/client.ts): its own P-256 key pair, a workload
// login (role + Kubernetes-shaped JWT → session token), then `GET /v1/watch` (server-sent events). The
// server checks every event against each watcher's session policy (GetSecretValue on bench/scale/*), so
// every watcher is entitled to every rotation here: the worst case of fan-out. The watchers only receive
// events; a real agent would then fetch the few secrets it renders. Timestamps in different processes come
// from process.hrtime.bigint() (CLOCK_MONOTONIC, one clock for the machine).
//
// Baseline, same run: a bare node:http SSE server (its own process) that writes the same event to every
// open connection when told to; the same watcher processes hold as many connections to it, read with the
// same client code; its rounds are interleaved with Keysafe's.
//
// Figures:
//   1 server RSS: idle with all secrets and no watchers; peak while the watchers are connected (goal < 500 MB)
//   2 fan-out: PutSecretValue sent → the event received by every watcher (p99 over the rotations, goal < 1 s),
//     and the same from the acknowledgement; baseline: POST /emit sent (answered) → the message received on
//     every connection
//   3 server CPU per rotation with every watcher connected, against the same server with none
//   4 rotation storm: STORM PutSecretValue at once → every watcher received every one (all delivered, time
//     to the last delivery); baseline: STORM messages emitted at once
//   5 policy: a rotation of a secret outside the watchers' policy reaches none of them (an admin watcher,
//     which may read everything, receives it: the event was there to leak)
import { strict as assert } from 'node:assert';
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type ChangeEvent, newAgentKeyPair, ServerClient, type WatchMessage } from '../src/agent/client.js';
import { type OidcIssuer, startOidcIssuer } from '../test/support/oidc-issuer.js';
import {
  attachSamples,
  environmentBanner,
  foreignCores,
  harnessConfig,
  machineBusySeconds,
  printReport,
  type Row,
} from './harness.js';
import { processCpuMs } from './http-load.js';
import {
  freePort,
  type KeysafeServer,
  killChildren,
  monoMs,
  type Proc,
  percentile,
  readerRole,
  rssMb,
  sleep,
  startKeysafeServer,
  startProcess,
  until,
} from './server-process.js';

const PREFIX = 'bench/scale/';
const DECOY = 'bench/other/decoy';
const ROLE = 'scale';
const AUDIENCE = 'keysafe';
const VALUE_BYTES = 200;

// Goals (issue 9, "Must show").
const GOAL_FANOUT_P99_MS = 1000;
const GOAL_RSS_MB = 500;

// --- messages between the driver and the watcher processes -------------------------------------

interface InitMessage {
  type: 'init';
  serverUrl: string;
  role: string;
  jwt: string;
  watchers: number;
  bareUrl: string;
  bareWatchers: number;
}
type DriverMessage = InitMessage | { type: 'stats' } | { type: 'stop' };

type Kind = 'keysafe' | 'bare';

interface WorkerStats {
  type: 'stats';
  /** Change events each Keysafe watcher received (min and max over this process's watchers). */
  minEvents: number;
  maxEvents: number;
  /** Events of a secret outside the watchers' policy (must stay 0). */
  decoyEvents: number;
  /** Streams that ended or broke while they should have stayed open. */
  broken: number;
  firstError?: string;
  resets: number;
  /** Keys some but not all watchers have received so far: key → how many did. */
  incomplete: Record<string, number>;
  cpuMs: number;
}

type WorkerMessage =
  | { type: 'ready'; loginMs: number[] }
  | { type: 'delivered'; kind: Kind; key: string; times: number[] }
  | WorkerStats
  | { type: 'error'; message: string };

// --- worker: a process holding a share of the watch streams ------------------------------------

async function worker(): Promise<void> {
  const send = (m: WorkerMessage) => process.send!(m);
  const init = await new Promise<InitMessage>((ok) => process.once('message', (m: InitMessage) => ok(m)));
  const abort = new AbortController();
  let stopping = false;
  let decoyEvents = 0;
  let broken = 0;
  let resets = 0;
  let firstError: string | undefined;
  const events = new Uint32Array(init.watchers);

  /** Per kind, key → which watchers have it (first receipt only) and when. */
  const pending: Record<Kind, Map<string, { seen: Uint8Array; times: number[] }>> = {
    keysafe: new Map(),
    bare: new Map(),
  };
  const total: Record<Kind, number> = { keysafe: init.watchers, bare: init.bareWatchers };
  const received = (kind: Kind, i: number, e: ChangeEvent, t: number) => {
    const key = e.versionId ?? `${e.name}#${e.cursor}`;
    let rec = pending[kind].get(key);
    if (!rec) {
      rec = { seen: new Uint8Array(total[kind]), times: [] };
      pending[kind].set(key, rec);
    }
    if (rec.seen[i]) return; // the second event of the same put (VersionCreated, then StagesMoved)
    rec.seen[i] = 1;
    rec.times.push(t);
    if (rec.times.length === total[kind]) {
      pending[kind].delete(key);
      send({ type: 'delivered', kind, key, times: rec.times });
    }
  };

  const open = async (kind: Kind, i: number, url: string, token: string, client: ServerClient) => {
    let hello!: () => void;
    const helloSeen = new Promise<void>((ok) => {
      hello = ok;
    });
    const onMessage = async (m: WatchMessage) => {
      const t = monoMs();
      if (m.kind === 'hello') hello();
      else if (m.kind === 'reset') resets++;
      else if (kind === 'keysafe' && !m.event.name.startsWith(PREFIX)) decoyEvents++;
      else {
        if (kind === 'keysafe') events[i]!++;
        received(kind, i, m.event, t);
      }
    };
    const fail = (e: unknown) => {
      if (stopping) return;
      broken++;
      firstError ??= `${kind} watcher ${i} (${url}): ${e instanceof Error ? e.message : String(e)}`;
    };
    client.watch(token, undefined, onMessage, abort.signal).then(() => fail(new Error('the stream ended')), fail);
    await helloSeen;
  };

  /** Runs `f(0…n-1)` with at most `limit` in flight. */
  const pool = async (n: number, limit: number, f: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(limit, n) }, async () => {
        while (next < n) await f(next++);
      }),
    );
  };

  try {
    const loginMs: number[] = [];
    await pool(init.watchers, 16, async (i) => {
      const client = new ServerClient([init.serverUrl], await newAgentKeyPair());
      const t0 = performance.now();
      const { token } = await client.login(init.role, init.jwt);
      loginMs.push(performance.now() - t0);
      await open('keysafe', i, init.serverUrl, token, client);
    });
    await pool(init.bareWatchers, 16, async (i) => {
      const client = new ServerClient([init.bareUrl], await newAgentKeyPair());
      await open('bare', i, init.bareUrl, 'none', client);
    });
    send({ type: 'ready', loginMs });
  } catch (e) {
    send({ type: 'error', message: (e as Error).stack ?? String(e) });
    return;
  }

  process.on('message', (m: DriverMessage) => {
    if (m.type === 'stats') {
      const incomplete: Record<string, number> = {};
      for (const kind of ['keysafe', 'bare'] as const) {
        for (const [key, rec] of pending[kind]) incomplete[`${kind}:${key}`] = rec.times.length;
      }
      let minEvents = Number.POSITIVE_INFINITY;
      let maxEvents = 0;
      for (const n of events) {
        minEvents = Math.min(minEvents, n);
        maxEvents = Math.max(maxEvents, n);
      }
      const cpu = process.cpuUsage();
      send({
        type: 'stats',
        minEvents: events.length === 0 ? 0 : minEvents,
        maxEvents,
        decoyEvents,
        broken,
        resets,
        ...(firstError !== undefined && { firstError }),
        incomplete,
        cpuMs: (cpu.user + cpu.system) / 1000,
      });
    } else if (m.type === 'stop') {
      stopping = true;
      abort.abort();
      setTimeout(() => process.exit(0), 200);
    }
  });
}

// --- the bare SSE server (baseline) --------------------------------------------------------------

/**
 * node:http, no framework: `GET /v1/watch` opens an event stream (a hello first, as Keysafe's);
 * `POST /emit?key=K&n=N` writes N change events (versionId K, or K-0…K-(N-1)) to every open stream,
 * each message the shape and size of a Keysafe change event, then answers 204.
 */
const BARE_SSE = `
const http = require('http');
const streams = new Set();
let cursor = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/v1/watch')) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('event: hello\\ndata: {"cursor":0}\\n\\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
    return;
  }
  if (req.method === 'POST' && req.url.startsWith('/emit')) {
    const q = new URL(req.url, 'http://x').searchParams;
    const key = q.get('key');
    const n = Number(q.get('n') || 1);
    for (let k = 0; k < n; k++) {
      cursor++;
      const name = 'bench/scale/s-0' + String(k).padStart(4, '0');
      const data = JSON.stringify({ cursor, type: 'StagesMoved', name,
        arn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:' + name + '-AbCdEf',
        versionId: n === 1 ? key : key + '-' + k });
      const message = 'event: change\\ndata: ' + data + '\\nid: ' + cursor + '\\n\\n';
      for (const s of streams) s.write(message);
    }
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404).end();
});
server.listen(Number(process.env.PORT), '127.0.0.1');
`;

// --- driver ---------------------------------------------------------------------------------------

const fmtMs = (v: number) =>
  !Number.isFinite(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
const p50p99 = (v: readonly number[]) =>
  `p99 ${fmtMs(percentile(v, 0.99))} ms (p50 ${fmtMs(percentile(v, 0.5))}, max ${fmtMs(Math.max(...v))})`;
const mb = (v: number) => `${v.toFixed(1)} MB`;

function secretJson(i: number, generation: number): string {
  const value = { id: i, generation, password: randomBytes(18).toString('base64url'), pad: '' };
  value.pad = 'x'.repeat(Math.max(0, VALUE_BYTES - Buffer.byteLength(JSON.stringify(value))));
  return JSON.stringify(value);
}

class Workers {
  readonly #procs: ChildProcess[] = [];
  readonly #delivered = new Map<string, { parts: number; times: number[] }>();
  readonly #stats: WorkerStats[] = [];
  /** Everyone waiting for a message: woken on each, they check their condition again. */
  readonly #wakers = new Set<() => void>();
  #error: string | undefined;

  constructor(count: number) {
    for (let w = 0; w < count; w++) {
      const child = fork(fileURLToPath(import.meta.url), ['--worker'], {
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (m: WorkerMessage) => this.#onMessage(m));
      child.on('exit', (code) => {
        if (code) this.#error ??= `a watcher process exited with code ${code}`;
        this.#wakeAll();
      });
      this.#procs.push(child);
    }
  }

  get pids(): number[] {
    return this.#procs.map((p) => p.pid!);
  }

  readonly #ready: { loginMs: number[] }[] = [];

  #onMessage(m: WorkerMessage): void {
    if (m.type === 'ready') this.#ready.push(m);
    else if (m.type === 'error') this.#error ??= m.message;
    else if (m.type === 'stats') this.#stats.push(m);
    else {
      const id = `${m.kind}:${m.key}`;
      const d = this.#delivered.get(id) ?? { parts: 0, times: [] };
      d.parts++;
      for (const t of m.times) d.times.push(t);
      this.#delivered.set(id, d);
    }
    this.#wakeAll();
  }

  #wakeAll(): void {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const w of wakers) w();
  }

  async #until<T>(what: string, f: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#error) throw new Error(`watchers: ${this.#error}`);
      const v = f();
      if (v !== undefined) return v;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise<void>((ok) => {
        const waker = () => {
          clearTimeout(timer);
          ok();
        };
        const timer = setTimeout(() => {
          this.#wakers.delete(waker);
          ok();
        }, left);
        this.#wakers.add(waker);
      });
    }
  }

  async start(init: Omit<InitMessage, 'type' | 'watchers' | 'bareWatchers'>, watchers: number, bare: number) {
    const n = this.#procs.length;
    this.#procs.forEach((p, w) => {
      const share = (total: number) => Math.floor(total / n) + (w < total % n ? 1 : 0);
      p.send({ type: 'init', ...init, watchers: share(watchers), bareWatchers: share(bare) } satisfies InitMessage);
    });
    await this.#until('every watcher connected', () => (this.#ready.length === n ? true : undefined), 600_000);
    return this.#ready.flatMap((r) => r.loginMs);
  }

  /** Every watcher's receive time of `key`, or undefined when not all had it within `timeoutMs`. */
  async delivered(kind: Kind, key: string, timeoutMs: number): Promise<number[] | undefined> {
    const id = `${kind}:${key}`;
    try {
      return await this.#until(
        `delivery of ${id}`,
        () => {
          const d = this.#delivered.get(id);
          if (d?.parts !== this.#procs.length) return undefined;
          this.#delivered.delete(id);
          return d.times;
        },
        timeoutMs,
      );
    } catch (e) {
      if (this.#error) throw e;
      return undefined;
    }
  }

  async stats(): Promise<WorkerStats[]> {
    this.#stats.length = 0;
    for (const p of this.#procs) p.send({ type: 'stats' } satisfies DriverMessage);
    await this.#until('watcher stats', () => (this.#stats.length === this.#procs.length ? true : undefined), 30_000);
    return [...this.#stats];
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#procs.map(
        (p) =>
          new Promise<void>((ok) => {
            if (p.exitCode !== null) return ok();
            const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
            p.once('exit', () => {
              clearTimeout(timer);
              ok();
            });
            p.send({ type: 'stop' } satisfies DriverMessage);
          }),
      ),
    );
  }
}

/** Cores busy with other processes' work from now until `read()` (ours: this process and `pids`). */
function foreignMeter(pids: () => number[]): { read(): number } {
  const own = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000 + pids().reduce((n, pid) => n + (processCpuMs(pid) || 0), 0);
  };
  const busy0 = machineBusySeconds();
  const own0 = own();
  const t0 = performance.now();
  return {
    read: () => foreignCores(machineBusySeconds() - busy0, (own() - own0) / 1000, (performance.now() - t0) / 1000),
  };
}

/** One admin watcher in this process: it may read everything, so it sees the decoy rotation too. */
async function adminWatcher(server: KeysafeServer) {
  const names: string[] = [];
  const abort = new AbortController();
  const client = new ServerClient([server.url], await newAgentKeyPair());
  let hello!: () => void;
  const helloSeen = new Promise<void>((ok) => {
    hello = ok;
  });
  let broken: string | undefined;
  client
    .watch(
      server.admin.token,
      undefined,
      async (m) => {
        if (m.kind === 'hello') hello();
        else if (m.kind === 'change') names.push(m.event.name);
      },
      abort.signal,
    )
    .then(
      () => {
        if (!abort.signal.aborted) broken = 'the admin stream ended';
      },
      (e: Error) => {
        if (!abort.signal.aborted) broken = e.message;
      },
    );
  await helloSeen;
  return { names, broken: () => broken, stop: () => abort.abort() };
}

async function main(): Promise<void> {
  const cfg = harnessConfig();
  const env = process.env;
  const int = (v: string | undefined, d: number) => (v ? Number(v) : d);
  const SECRETS = int(env.BENCH_SCALE_SECRETS, cfg.quick ? 1000 : 10_000);
  const WATCHERS = int(env.BENCH_SCALE_WATCHERS, cfg.quick ? 200 : 1000);
  const ROTATIONS = int(env.BENCH_SCALE_ROTATIONS, cfg.quick ? 20 : 100);
  const STORM = Math.min(SECRETS, int(env.BENCH_SCALE_STORM, 100));
  const WORKERS = int(env.BENCH_SCALE_WORKERS, 2);
  for (const [k, v] of Object.entries({ SECRETS, WATCHERS, ROTATIONS, STORM, WORKERS })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_SCALE_${k} must be a positive integer`);
  }
  const startedAt = performance.now();
  const step = (what: string) => console.log(`[+${((performance.now() - startedAt) / 1000).toFixed(1)} s] ${what}`);
  const rows: Row[] = [];
  const notes: string[] = [];
  console.log(environmentBanner());
  console.log(
    `${SECRETS} secrets, ${WATCHERS} watchers in ${WORKERS} processes, ${ROTATIONS} rotations, storm of ${STORM}` +
      (cfg.quick ? ' (--quick)' : ''),
  );

  const dir = mkdtempSync(join(tmpdir(), 'keysafe-bench-scale-'));
  let issuer: OidcIssuer | undefined;
  let workers: Workers | undefined;
  const procs: Proc[] = [];
  let admin: Awaited<ReturnType<typeof adminWatcher>> | undefined;
  try {
    issuer = await startOidcIssuer();
    const server = await startKeysafeServer(dir, {
      issuers: [{ name: 'cluster', issuer: issuer.url, audiences: [AUDIENCE], discovery: true }],
      roles: [readerRole(ROLE, 'cluster', `arn:aws:secretsmanager:*:*:secret:${PREFIX}*`)],
    });
    procs.push(server.proc);
    const serverPid = server.proc.pid;
    const sm = new SecretsManagerClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: server.admin,
      requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: Math.max(64, STORM) }) },
    });
    const names = Array.from({ length: SECRETS }, (_, i) => `${PREFIX}s-${String(i).padStart(5, '0')}`);
    const generation = new Uint32Array(SECRETS);

    // Setup: the secrets, 16 CreateSecret calls in flight.
    let t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < SECRETS) {
          const i = next++;
          await sm.send(new CreateSecretCommand({ Name: names[i], SecretString: secretJson(i, 0) }));
        }
      }),
    );
    await sm.send(new CreateSecretCommand({ Name: DECOY, SecretString: secretJson(-1, 0) }));
    const createSeconds = (performance.now() - t0) / 1000;
    step(`created ${SECRETS} secrets in ${createSeconds.toFixed(1)} s`);

    const barePort = await freePort();
    const bareUrl = `http://127.0.0.1:${barePort}`;
    const bare = startProcess(['-e', BARE_SSE], { env: { PORT: String(barePort) } });
    procs.push(bare);
    await until(
      'the bare SSE server',
      async () => {
        try {
          return (await fetch(`${bareUrl}/none`)).status === 404;
        } catch {
          return false;
        }
      },
      10_000,
      bare,
    );

    await sleep(cfg.quick ? 500 : 2000);
    const idle = { keysafe: rssMb(serverPid), bare: rssMb(bare.pid) };

    const rotate = async (i: number) => {
      const t = monoMs();
      const put = await sm.send(
        new PutSecretValueCommand({ SecretId: names[i], SecretString: secretJson(i, ++generation[i]!) }),
      );
      return { sent: t, ack: monoMs(), versionId: put.VersionId! };
    };
    const pick = () => Math.floor(Math.random() * SECRETS);
    const gap = () => sleep(50 + Math.random() * 50);

    // Server CPU per rotation with nobody watching: the same server, the same kind of rotation.
    let cpu0 = processCpuMs(serverPid);
    const noWatcherPut: number[] = [];
    for (let r = 0; r < ROTATIONS; r++) {
      const p = await rotate(pick());
      noWatcherPut.push(p.ack - p.sent);
      await gap();
    }
    const cpuNoWatchers = (processCpuMs(serverPid) - cpu0) / ROTATIONS;

    // The watchers: an admin one here, the rest in the worker processes.
    admin = await adminWatcher(server);
    const jwt = await issuer.kubernetesToken({ audience: AUDIENCE, namespace: 'shop', serviceAccount: 'web' });
    workers = new Workers(WORKERS);
    t0 = performance.now();
    const loginMs = await workers.start({ serverUrl: server.url, role: ROLE, jwt, bareUrl }, WATCHERS, WATCHERS);
    const connectSeconds = (performance.now() - t0) / 1000;
    step(`${WATCHERS} watchers (and ${WATCHERS} baseline streams) connected in ${connectSeconds.toFixed(1)} s`);

    // RSS sampled throughout the watcher phase; the peak is the figure.
    const peak = { keysafe: rssMb(serverPid), bare: rssMb(bare.pid) };
    const rssTimer = setInterval(() => {
      peak.keysafe = Math.max(peak.keysafe, rssMb(serverPid));
      peak.bare = Math.max(peak.bare, rssMb(bare.pid));
    }, 100);
    await sleep(cfg.quick ? 500 : 2000);
    const connected = { keysafe: rssMb(serverPid), bare: rssMb(bare.pid) };

    // Fan-out, one rotation at a time, interleaved with the baseline's emits. Per round and kind: sent and
    // acknowledged times, and every watcher's receive time.
    const meter = foreignMeter(() => [serverPid, bare.pid, ...workers!.pids]);
    const fan = { sentLast: [] as number[], ackLast: [] as number[], sentEach: [] as number[], putMs: [] as number[] };
    const base = { sentLast: [] as number[], ackLast: [] as number[], sentEach: [] as number[] };
    let cpuWatchers = 0;
    let bareCpu = 0;
    let undelivered = 0;
    let bareUndelivered = 0;
    for (let r = 0; r < ROTATIONS; r++) {
      const key = `b-${r}`;
      const b0 = processCpuMs(bare.pid);
      const bs = monoMs();
      const res = await fetch(`${bareUrl}/emit?key=${key}`, { method: 'POST' });
      const back = monoMs();
      assert.equal(res.status, 204);
      const bt = await workers.delivered('bare', key, 30_000);
      bareCpu += processCpuMs(bare.pid) - b0;
      if (bt) {
        base.sentLast.push(Math.max(...bt) - bs);
        base.ackLast.push(Math.max(...bt) - back);
        for (const t of bt) base.sentEach.push(t - bs);
      } else bareUndelivered++;
      await gap();

      cpu0 = processCpuMs(serverPid);
      const p = await rotate(pick());
      const times = await workers.delivered('keysafe', p.versionId, 30_000);
      cpuWatchers += processCpuMs(serverPid) - cpu0;
      fan.putMs.push(p.ack - p.sent);
      if (times) {
        fan.sentLast.push(Math.max(...times) - p.sent);
        fan.ackLast.push(Math.max(...times) - p.ack);
        for (const t of times) fan.sentEach.push(t - p.sent);
      } else undelivered++;
      await gap();
    }
    const fanForeign = meter.read();
    step(`${ROTATIONS} fan-out rounds done`);

    // The storm: STORM distinct secrets rotated at once; every watcher must receive every one.
    await sleep(500);
    const stormIdx = new Set<number>();
    while (stormIdx.size < STORM) stormIdx.add(pick());
    cpu0 = processCpuMs(serverPid);
    const stormStart = monoMs();
    const puts = await Promise.all([...stormIdx].map((i) => rotate(i)));
    const lastAck = Math.max(...puts.map((p) => p.ack));
    const stormTimes = await Promise.all(puts.map((p) => workers!.delivered('keysafe', p.versionId, 120_000)));
    const stormCpu = processCpuMs(serverPid) - cpu0;
    const stormDelivered = stormTimes.reduce((n, t) => n + (t?.length ?? 0), 0);
    const stormLast = Math.max(...stormTimes.flatMap((t) => t ?? []));
    let stormIncomplete: string | undefined;
    if (stormTimes.some((t) => t === undefined)) {
      const stats = await workers.stats();
      const counts = stats.flatMap((s) => Object.entries(s.incomplete));
      stormIncomplete = `${stormTimes.filter((t) => t === undefined).length} of ${STORM} not delivered to every watcher within 120 s (partial counts: ${counts
        .slice(0, 5)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`;
    }

    step('storm done');
    await sleep(500);
    const bareStormStart = monoMs();
    const bareStormRes = await fetch(`${bareUrl}/emit?key=storm&n=${STORM}`, { method: 'POST' });
    assert.equal(bareStormRes.status, 204);
    const bareStorm = await Promise.all(
      Array.from({ length: STORM }, (_, k) => workers!.delivered('bare', `storm-${k}`, 120_000)),
    );
    const bareStormLast = Math.max(...bareStorm.flatMap((t) => t ?? []));
    const bareStormDelivered = bareStorm.reduce((n, t) => n + (t?.length ?? 0), 0);

    step('baseline storm done');
    // Policy: a rotation outside the watchers' policy, then one inside. Events reach each stream in cursor
    // order, so once the second arrived everywhere the first would have too.
    await sm.send(new PutSecretValueCommand({ SecretId: DECOY, SecretString: secretJson(-1, 1) }));
    const after = await rotate(pick());
    const afterTimes = await workers.delivered('keysafe', after.versionId, 30_000);
    await until('the admin watcher saw the decoy', () => admin!.names.includes(DECOY), 10_000).catch(() => undefined);
    clearInterval(rssTimer);
    const stats = await workers.stats();
    const adminSawDecoy = admin.names.includes(DECOY);
    const decoyEvents = stats.reduce((n, s) => n + s.decoyEvents, 0);
    const broken = stats.reduce((n, s) => n + s.broken, 0);
    const resets = stats.reduce((n, s) => n + s.resets, 0);
    const minEvents = Math.min(...stats.map((s) => s.minEvents));
    const maxEvents = Math.max(...stats.map((s) => s.maxEvents));
    const adminEvents = admin.names.filter((n) => n.startsWith(PREFIX)).length;
    const workerCpuMs = stats.reduce((n, s) => n + s.cpuMs, 0);

    step('policy check done');
    // --- rows ---------------------------------------------------------------------------------
    rows.push({
      id: '1',
      figure: `server RSS, ${SECRETS} secrets, no watcher (idle)`,
      subject: mb(idle.keysafe),
      baseline: mb(idle.bare),
      baselineName: 'bare node:http SSE server, no connection',
      ratio: `${(idle.keysafe / idle.bare).toFixed(1)}×`,
      goal: `< ${GOAL_RSS_MB} MB`,
      met: idle.keysafe < GOAL_RSS_MB ? 'YES' : 'NO',
    });
    rows.push({
      id: '1',
      figure: `server RSS, ${WATCHERS} watchers: peak over the watcher phase`,
      subject: `${mb(peak.keysafe)} (connected, idle: ${mb(connected.keysafe)})`,
      baseline: `${mb(peak.bare)} (connected, idle: ${mb(connected.bare)})`,
      baselineName: `bare node:http SSE server, ${WATCHERS} connections`,
      ratio: `${(peak.keysafe / peak.bare).toFixed(1)}×`,
      goal: `< ${GOAL_RSS_MB} MB`,
      met: peak.keysafe < GOAL_RSS_MB ? 'YES' : 'NO',
    });
    rows.push({
      id: '1',
      figure: '  · per watch stream (connected − idle)',
      subject: `${(((connected.keysafe - idle.keysafe) * 1000) / WATCHERS).toFixed(1)} kB`,
      baseline: `${(((connected.bare - idle.bare) * 1000) / WATCHERS).toFixed(1)} kB`,
      baselineName: 'bare node:http SSE server',
      ratio: '—',
      goal: '—',
      met: 'info',
    });
    const cpuPerRotation = cpuWatchers / ROTATIONS;
    const allDelivered = undelivered === 0 && fan.sentLast.length === ROTATIONS;
    const p99 = (v: readonly number[]) => percentile(v, 0.99);
    rows.push({
      id: '2',
      figure: `fan-out: PutSecretValue sent → received by all ${WATCHERS} watchers (n=${fan.sentLast.length})`,
      subject: p50p99(fan.sentLast),
      baseline: p50p99(base.sentLast),
      baselineName: `bare SSE: POST /emit sent → received on all ${WATCHERS} connections`,
      ratio: `${(p99(fan.sentLast) / p99(base.sentLast)).toFixed(1)}× (p99)`,
      goal: `p99 < ${GOAL_FANOUT_P99_MS} ms, every rotation delivered`,
      met: p99(fan.sentLast) < GOAL_FANOUT_P99_MS && allDelivered ? 'YES' : 'NO',
    });
    rows.push({
      id: '2',
      figure: `  · PutSecretValue acknowledged → received by all ${WATCHERS} watchers`,
      subject: p50p99(fan.ackLast),
      baseline: p50p99(base.ackLast),
      baselineName: 'bare SSE: POST /emit answered → received on all',
      ratio: `${(p99(fan.ackLast) / p99(base.ackLast)).toFixed(1)}× (p99)`,
      goal: `p99 < ${GOAL_FANOUT_P99_MS} ms`,
      met: p99(fan.ackLast) < GOAL_FANOUT_P99_MS && allDelivered ? 'YES' : 'NO',
    });
    rows.push({
      id: '2',
      figure: '  · sent → received, every delivery (each watcher, each rotation)',
      subject: p50p99(fan.sentEach),
      baseline: p50p99(base.sentEach),
      baselineName: 'same, bare SSE',
      ratio: `${(p99(fan.sentEach) / p99(base.sentEach)).toFixed(1)}× (p99)`,
      goal: '—',
      met: 'info',
    });
    rows.push({
      id: '2',
      figure: `  · PutSecretValue round trip with ${WATCHERS} watchers`,
      subject: p50p99(fan.putMs),
      baseline: p50p99(noWatcherPut),
      baselineName: 'the same, no watcher (same server)',
      ratio: `${(percentile(fan.putMs, 0.5) / percentile(noWatcherPut, 0.5)).toFixed(1)}× (p50)`,
      goal: '—',
      met: 'info',
    });
    rows.push({
      id: '3',
      figure: `server CPU per rotation, ${WATCHERS} watchers (n=${ROTATIONS})`,
      subject: `${cpuPerRotation.toFixed(1)} ms`,
      baseline: `${cpuNoWatchers.toFixed(1)} ms`,
      baselineName: 'the same server, no watcher',
      ratio: `${(cpuPerRotation / cpuNoWatchers).toFixed(1)}×`,
      goal: '—',
      met: 'info',
    });
    const perDeliveryUs = ((cpuPerRotation - cpuNoWatchers) * 1000) / WATCHERS;
    const barePerDeliveryUs = ((bareCpu / ROTATIONS) * 1000) / WATCHERS;
    rows.push({
      id: '3',
      figure: '  · server CPU per delivery (rotation with watchers − without, ÷ watchers)',
      subject: `${perDeliveryUs.toFixed(1)} µs`,
      baseline: `${barePerDeliveryUs.toFixed(1)} µs`,
      baselineName: 'bare SSE server CPU per emit ÷ connections',
      ratio: `${(perDeliveryUs / barePerDeliveryUs).toFixed(1)}×`,
      goal: '—',
      met: 'info',
    });
    const expected = STORM * WATCHERS;
    rows.push({
      id: '4',
      figure: `rotation storm: ${STORM} PutSecretValue at once → all ${STORM}×${WATCHERS} deliveries`,
      subject: `${stormDelivered}/${expected} in ${fmtMs(stormLast - stormStart)} ms (last ack ${fmtMs(lastAck - stormStart)} ms)`,
      baseline: `${bareStormDelivered}/${expected} in ${fmtMs(bareStormLast - bareStormStart)} ms`,
      baselineName: `bare SSE: ${STORM} messages emitted at once`,
      ratio: `${((stormLast - stormStart) / (bareStormLast - bareStormStart)).toFixed(1)}×`,
      goal: 'every delivery arrives',
      met: stormDelivered === expected ? 'YES' : 'NO',
    });
    rows.push({
      id: '4',
      figure: '  · server CPU for the storm',
      subject: `${stormCpu.toFixed(0)} ms (${(stormCpu / STORM).toFixed(1)} ms per rotation)`,
      baseline: '—',
      baselineName: '',
      ratio: '—',
      goal: '—',
      met: 'info',
    });
    const policyOk = decoyEvents === 0 && adminSawDecoy && afterTimes !== undefined;
    rows.push({
      id: '5',
      figure: `policy: a rotation outside the watchers' policy reaches none of the ${WATCHERS}`,
      subject: `${decoyEvents} watchers received it`,
      baseline: adminSawDecoy ? 'received' : 'NOT received',
      baselineName: 'an admin watcher (may read everything)',
      ratio: '—',
      goal: '0, and the admin watcher receives it',
      met: policyOk ? 'YES' : 'NO',
    });
    rows.push({
      id: '5',
      figure: '  · every watcher received every rotation exactly once',
      subject: `${minEvents}–${maxEvents} events per watcher`,
      baseline: `${adminEvents} events`,
      baselineName: 'the admin watcher, bench/scale/* only',
      ratio: '—',
      goal: 'all equal',
      met: minEvents === adminEvents && maxEvents === adminEvents && broken === 0 ? 'YES' : 'NO',
    });
    attachSamples('fanout.sent_to_last_watcher', fan.sentLast);
    attachSamples('fanout.sent_to_each_watcher', fan.sentEach);
    attachSamples('fanout.ack_to_last_watcher', fan.ackLast);
    attachSamples('fanout.baseline_sent_to_last', base.sentLast);
    attachSamples('fanout.baseline_sent_to_each', base.sentEach);

    const login = (p: number) => fmtMs(percentile(loginMs, p));
    notes.push(
      `setup: ${SECRETS} CreateSecret (+1 decoy outside the policy) in ${createSeconds.toFixed(1)} s, 16 in flight; ` +
        `${WATCHERS} watchers logged in and connected in ${connectSeconds.toFixed(1)} s (16 logins in flight per ` +
        `process; login p50 ${login(0.5)} ms, p99 ${login(0.99)} ms), each with its own P-256 key and session.`,
      `fan-out: ${ROTATIONS} rotations of random secrets, one at a time, 50–100 ms apart, each after one baseline ` +
        `emit; a watcher's receive time is its first event of the new version (each put sends VersionCreated and ` +
        `StagesMoved). The goal figure is timed from just before the SDK sends PutSecretValue (it includes the ` +
        `put's own round trip): the server fans the event out as soon as the write commits, on the same event loop ` +
        `that then answers the put, so timed from the acknowledgement most of the fan-out is already over (and an ` +
        `event can reach a watcher before the acknowledgement reaches the client).` +
        (undelivered > 0 ? ` ${undelivered} rotation(s) NOT delivered to every watcher within 30 s.` : '') +
        (bareUndelivered > 0 ? ` Baseline: ${bareUndelivered} emit(s) not delivered within 30 s.` : ''),
      `server CPU from /proc/<pid>/stat (10 ms ticks), summed over each put → last delivery; the no-watcher ` +
        `figure is ${ROTATIONS} rotations before any watcher connected.`,
      `storm: ${STORM} distinct secrets, all PutSecretValue calls sent at once (one SDK client, up to ` +
        `${Math.max(64, STORM)} connections); time from the first send.` +
        (stormIncomplete ? ` ${stormIncomplete}.` : ''),
      `watchers: ${WORKERS} processes, CPU used ${(workerCpuMs / 1000).toFixed(1)} s in all; ${broken} stream(s) broke` +
        `${stats.find((s) => s.firstError)?.firstError ? ` (first: ${stats.find((s) => s.firstError)!.firstError})` : ''}; ` +
        `${resets} reset(s). Client and server processes share this machine's CPUs: the watcher ` +
        `processes' parsing is inside every fan-out time, for Keysafe and baseline alike.`,
      'RSS: VmRSS from /proc/<pid>/status (MB = 10^6 B), sampled every 100 ms while the watchers were connected; no forced GC.',
    );
    if (Number.isFinite(fanForeign)) {
      notes.push(
        `foreign CPU during the fan-out rounds (cores busy with processes other than this benchmark's): ` +
          `${fanForeign.toFixed(2)}${fanForeign > 0.1 ? ' — NOT QUIET, re-run for clean figures' : ' (quiet)'}`,
      );
    }
    if (admin.broken()) notes.push(`admin watcher: ${admin.broken()}`);
  } finally {
    admin?.stop();
    await workers?.stop();
    for (const p of procs.reverse()) await p.stop();
    killChildren();
    await issuer?.stop();
    rmSync(dir, { recursive: true, force: true });
    step('stopped');
  }
  printReport(rows, notes, startedAt);
}

if (process.argv.includes('--worker')) {
  worker().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
