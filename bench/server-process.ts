// Child processes for the scale and soak benchmarks: a Keysafe server process (`build/src/cli.js server`,
// this run's compile of src/, SQLite on disk) and what they read of a process from /proc.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** The server's entry point, compiled by the same `tsc -p tsconfig.bench.json` as the benchmark. */
export const OWN_CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

export const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));
/** CLOCK_MONOTONIC in ms: one clock for every process on the machine. */
export const monoMs = () => Number(process.hrtime.bigint()) / 1e6;

/** VmRSS of a process in MB (10^6 B), from /proc; NaN when unknown. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? (Number(m[1]) * 1024) / 1e6 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Open file descriptors of a process (sockets included), from /proc/<pid>/fd; NaN when unknown. */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  await new Promise((ok) => srv.close(ok));
  return port;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** The last 64 KB of its stdout and stderr. */
  output(): string;
  exited: Promise<void>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();

/** SIGKILLs every child still running (for a `finally` after the orderly stops). */
export function killChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}

export function startProcess(args: string[], options: { env?: NodeJS.ProcessEnv; ipc?: boolean } = {}): Proc {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
  });
  children.add(child);
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-65536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((ok) =>
    child.once('exit', () => {
      children.delete(child);
      ok();
    }),
  );
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  proc?: Proc,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what}: the process exited: ${proc.output()}`);
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms. ${proc?.output() ?? ''}`);
    await sleep(20);
  }
}

const httpOk = async (url: string) => {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
};

export interface KeysafeServer {
  proc: Proc;
  url: string;
  dataDir: string;
  admin: { accessKeyId: string; secretAccessKey: string; token: string };
}

/**
 * Starts `keysafe server` in its own process on a free loopback port with a config file written
 * into `dir` (`logLevel: 'warn'` unless the config says otherwise); resolves once /readyz answers.
 * BENCH_SERVER_NODE_ARGS adds node flags (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
export async function startKeysafeServer(dir: string, config: Record<string, unknown>): Promise<KeysafeServer> {
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'server.json');
  writeFileSync(configFile, JSON.stringify({ logLevel: 'warn', ...config }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const proc = startProcess([
    ...nodeArgs,
    OWN_CLI,
    'server',
    '--listen',
    `127.0.0.1:${port}`,
    '--data-dir',
    dataDir,
    '--config',
    configFile,
  ]);
  await until('the Keysafe server /readyz', () => httpOk(`${url}/readyz`), 30_000, proc);
  const admin = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as KeysafeServer['admin'];
  return { proc, url, dataDir, admin };
}

/** A role allowing GetSecretValue on `resource` to Kubernetes service accounts of `issuer`. */
export function readerRole(name: string, issuer: string, resource: string, subjects = ['system:serviceaccount:*']) {
  return {
    name,
    issuer,
    subjects,
    policy: { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: resource }] },
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}
