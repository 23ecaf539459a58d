// Parent side of the load generator: forks bench/loadgen.js, optionally pins both processes to
// separate CPUs, and measures this (server) process's CPU use during each measured window. Also
// the bare node:http baseline server and the rows every HTTP figure shares.
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { fmtNum, foreignCores, type HarnessConfig, machineBusySeconds, median, type Row } from './harness.js';
import type { ChildMessage, RunCommand, RunResult } from './loadgen-protocol.js';

export interface HttpConfig {
  /** Warm-up before a server's first measured run. */
  warmupMs: number;
  /** Later visits to an already-warm server only re-open the connections. */
  rewarmMs: number;
  /** Measured length of one run: BENCH_HTTP_SECONDS, else `defaultSeconds` (0.5 s with --quick). */
  durationMs: number;
  connections: number;
  /** Server on cpu0, load generator on cpu1, unless BENCH_PIN=0. */
  pin: boolean;
}

export function httpConfig(cfg: HarnessConfig, defaultSeconds: number, env = process.env): HttpConfig {
  const seconds = env.BENCH_HTTP_SECONDS ? Number(env.BENCH_HTTP_SECONDS) : cfg.quick ? 0.5 : defaultSeconds;
  if (!(seconds > 0)) throw new Error('BENCH_HTTP_SECONDS must be > 0');
  return {
    warmupMs: cfg.quick ? 200 : 1000,
    rewarmMs: cfg.quick ? 100 : 250,
    durationMs: seconds * 1000,
    connections: 32,
    pin: env.BENCH_PIN !== '0',
  };
}

export interface HttpRunResult extends RunResult {
  /** CPU this process (the servers) used during the measured window, ms. */
  serverCpuMs: number;
  /** Average cores busy with other processes' work during the window (NaN when unknown). */
  foreignCores: number;
}

/** Pins every thread of `pid` to `cpuList` (taskset syntax); false when that is not possible. */
export function pin(pid: number, cpuList: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const allCpus = (): string => `0-${Math.max(0, cpus().length - 1)}`;

/** CPU (user + system, ms, 10 ms resolution) a process has used so far, from /proc; NaN when unknown. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15 (clock ticks).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * The baseline server: bare node:http answering every POST with the same pre-built body (give it
 * one of the size the subject answers with).
 */
export function bareServer(body: Buffer): Promise<Server & { port: number }> {
  const headers = { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(body.length) };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, headers);
      res.end(body);
    });
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => ok(Object.assign(server, { port: (server.address() as AddressInfo).port }))),
  );
}

/** IPC carries JSON: a NaN (e.g. the percentiles of a window without responses) arrives as null. */
const nan = (v: number | null): number => v ?? Number.NaN;

export class LoadGenerator {
  readonly #child: ChildProcess;
  #pinned = false;
  #nextId = 1;
  readonly #waiting = new Map<number, { ok: (m: ChildMessage) => void; onWindow?: (phase: string) => void }>();

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') return;
      const w = this.#waiting.get(m.id);
      if (!w) return;
      if (m.type === 'window') {
        w.onWindow?.(m.phase);
        return;
      }
      this.#waiting.delete(m.id);
      w.ok(m);
    });
    child.on('exit', (code) => {
      for (const w of this.#waiting.values()) w.ok({ type: 'ready' });
      if (code) console.error(`load generator exited with code ${code}`);
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Whether start() pinned this process to cpu0 and the generator to cpu1 (close() undoes it). */
  get pinned(): boolean {
    return this.#pinned;
  }

  static async start(options: { pinCpus?: boolean } = {}): Promise<LoadGenerator> {
    // execArgv: [] so a --cpu-prof of the benchmark does not also profile the client.
    const child = fork(new URL('./loadgen.js', import.meta.url), [], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((ok, fail) => {
      child.once('message', () => ok());
      child.once('error', fail);
    });
    const load = new LoadGenerator(child);
    if (options.pinCpus && pin(process.pid, '0')) {
      load.#pinned = pin(child.pid!, '1');
      if (!load.#pinned) pin(process.pid, allCpus());
    }
    return load;
  }

  #request<T extends ChildMessage>(msg: object, onWindow?: (phase: string) => void): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((ok, fail) => {
      this.#waiting.set(id, {
        ok: (m) => (m.type === 'ready' ? fail(new Error('load generator exited')) : ok(m as T)),
        ...(onWindow && { onWindow }),
      });
      this.#child.send({ ...msg, id });
    });
  }

  /**
   * One run. The server's CPU is this process's unless `options.serverCpuMs` reads another's (cumulative
   * ms, e.g. `processCpuMs(pid)` for a server in a child process).
   */
  async run(
    cmd: Omit<RunCommand, 'type' | 'id'>,
    options: { serverCpuMs?: () => number } = {},
  ): Promise<HttpRunResult> {
    const cpuMs =
      options.serverCpuMs ??
      (() => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      });
    let start: number | undefined;
    let used: number | undefined;
    let busy0 = Number.NaN;
    let busy = Number.NaN;
    const result = await this.#request<RunResult>({ type: 'run', ...cmd }, (phase) => {
      if (phase === 'start') {
        start = cpuMs();
        busy0 = machineBusySeconds();
      } else if (start !== undefined) {
        used = cpuMs() - start;
        busy = machineBusySeconds() - busy0;
      }
    });
    const serverCpuMs = used ?? Number.NaN;
    const foreign = foreignCores(busy, (serverCpuMs + result.clientCpuMs) / 1000, result.seconds);
    return {
      ...result,
      p50Ms: nan(result.p50Ms),
      p90Ms: nan(result.p90Ms),
      p99Ms: nan(result.p99Ms),
      maxMs: nan(result.maxMs),
      serverCpuMs,
      foreignCores: foreign,
    };
  }

  async close(): Promise<void> {
    if (this.#pinned) {
      pin(process.pid, allCpus());
      this.#pinned = false;
    }
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((ok) => this.#child.once('exit', () => ok()));
    this.#child.send({ type: 'exit' });
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 2000))]);
    if (this.#child.exitCode === null) this.#child.kill();
  }
}

// --- figures over the runs of one variant (medians) --------------------------------------------

export const medianOf = (results: readonly HttpRunResult[], f: (r: HttpRunResult) => number): number =>
  median(results.map(f));
export const reqPerSec = (results: readonly HttpRunResult[]): number => medianOf(results, (r) => r.reqPerSec);
export const serverUsPerRequest = (results: readonly HttpRunResult[]): number =>
  medianOf(results, (r) => (r.serverCpuMs * 1000) / r.requests);
/** The load generator's CPU ÷ wall: near 1 means the client, not the server, limited the run. */
export const clientBusy = (results: readonly HttpRunResult[]): number =>
  medianOf(results, (r) => r.clientCpuMs / (r.seconds * 1000));
/** " [a, b, c]": every run's req/s, or '' for a single run. */
export const runsOf = (results: readonly HttpRunResult[]): string =>
  results.length > 1 ? ` [${results.map((r) => fmtNum(r.reqPerSec)).join(', ')}]` : '';

export function latencyRow(
  id: string,
  figure: string,
  subject: readonly HttpRunResult[],
  baseline: readonly HttpRunResult[],
  baselineName: string,
): Row {
  const p99 = (rs: readonly HttpRunResult[]) => medianOf(rs, (r) => r.p99Ms);
  const p50 = (rs: readonly HttpRunResult[]) => medianOf(rs, (r) => r.p50Ms);
  return {
    id,
    figure,
    subject: `${p99(subject).toFixed(2)} ms (p50 ${p50(subject).toFixed(2)})`,
    baseline: `${p99(baseline).toFixed(2)} ms (p50 ${p50(baseline).toFixed(2)})`,
    baselineName,
    ratio: `${(p99(subject) / p99(baseline)).toFixed(1)}×`,
    goal: '—',
    met: 'info',
  };
}

export function serverCpuRow(
  id: string,
  figure: string,
  subject: readonly HttpRunResult[],
  baseline: readonly HttpRunResult[],
  baselineName: string,
): Row {
  const us = serverUsPerRequest;
  return {
    id,
    figure,
    subject: `${us(subject).toFixed(1)} µs`,
    baseline: `${us(baseline).toFixed(1)} µs`,
    baselineName,
    ratio: `${(us(subject) / us(baseline)).toFixed(1)}×`,
    goal: '—',
    met: 'info',
  };
}

/** The foreign CPU of every run, flagged when any run was not quiet; undefined when unknown. */
export function foreignCpuNote(results: readonly HttpRunResult[], what = 'the HTTP runs'): string | undefined {
  const foreign = results.map((r) => r.foreignCores);
  if (!foreign.some(Number.isFinite)) return undefined;
  return (
    `foreign CPU during ${what} (cores busy with other processes; ≤ 0.1 is quiet): ${foreign.map((f) => f.toFixed(2)).join(', ')}` +
    (foreign.some((f) => f > 0.1) ? ' — NOT QUIET, re-run for clean figures' : '')
  );
}
