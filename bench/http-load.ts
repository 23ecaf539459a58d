// Parent side of the load generator: forks bench/loadgen.js, optionally pins both processes to
// separate CPUs, and measures this (server) process's CPU use during each measured window.
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { cpus } from 'node:os';
import { foreignCores, machineBusySeconds } from './harness.js';
import type { ChildMessage, RunCommand, RunResult } from './loadgen-protocol.js';

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

export class LoadGenerator {
  readonly #child: ChildProcess;
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

  static async start(): Promise<LoadGenerator> {
    // execArgv: [] so a --cpu-prof of the benchmark does not also profile the client.
    const child = fork(new URL('./loadgen.js', import.meta.url), [], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((ok, fail) => {
      child.once('message', () => ok());
      child.once('error', fail);
    });
    return new LoadGenerator(child);
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

  async run(cmd: Omit<RunCommand, 'type' | 'id'>): Promise<HttpRunResult> {
    let start: NodeJS.CpuUsage | undefined;
    let used: NodeJS.CpuUsage | undefined;
    let busy0 = Number.NaN;
    let busy = Number.NaN;
    const result = await this.#request<RunResult>({ type: 'run', ...cmd }, (phase) => {
      if (phase === 'start') {
        start = process.cpuUsage();
        busy0 = machineBusySeconds();
      } else if (start) {
        used = process.cpuUsage(start);
        busy = machineBusySeconds() - busy0;
      }
    });
    const serverCpuMs = used ? (used.user + used.system) / 1000 : Number.NaN;
    const foreign = foreignCores(busy, (serverCpuMs + result.clientCpuMs) / 1000, result.seconds);
    return { ...result, serverCpuMs, foreignCores: foreign };
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((ok) => this.#child.once('exit', () => ok()));
    this.#child.send({ type: 'exit' });
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 2000))]);
    if (this.#child.exitCode === null) this.#child.kill();
  }
}
