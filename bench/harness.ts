// Time-boxed micro-benchmark harness: warm-up, N timed runs, median ops/s; table printing, foreign-CPU
// measurement and the raw node:crypto baselines the benchmarks share.
import { createCipheriv, createDecipheriv, type KeyObject, randomFillSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface HarnessConfig {
  quick: boolean;
  warmupMs: number;
  runs: number;
  runMs: number;
}

export function harnessConfig(argv: readonly string[] = process.argv, env = process.env): HarnessConfig {
  const quick = argv.includes('--quick') || env.BENCH_QUICK === '1';
  const seconds = env.BENCH_SECONDS ? Number(env.BENCH_SECONDS) : quick ? 0.2 : 1;
  const runs = env.BENCH_RUNS ? Number(env.BENCH_RUNS) : quick ? 1 : 5;
  if (!(seconds > 0) || !Number.isInteger(runs) || runs < 1) {
    throw new Error('BENCH_SECONDS must be > 0 and BENCH_RUNS a positive integer');
  }
  return { quick, warmupMs: quick ? 100 : 300, runs, runMs: seconds * 1000 };
}

/** `BENCH_ONLY=a,b` runs only those sections; returns whether a section is enabled. */
export function sectionFilter(env = process.env): (section: string) => boolean {
  const only = env.BENCH_ONLY?.split(',').map((s) => s.trim());
  return (section) => !only || only.includes(section);
}

/** One line describing how the in-process figures are measured. */
export function configBanner(cfg: HarnessConfig): string {
  return `in-process: ${cfg.warmupMs} ms warm-up, then ${cfg.runs} run(s) × ${cfg.runMs / 1000} s, subject and baseline interleaved; median ops/s${cfg.quick ? ' (--quick)' : ''}`;
}

export interface Measurement {
  /** Median of the runs' ops/s. */
  opsPerSec: number;
  /** Every run's ops/s, in order. */
  runs: number[];
}

/**
 * Anything a benchmarked function returns goes through here, so the optimiser cannot drop the
 * work; the accumulated value is printed at the end.
 */
let sinkValue = 0;
export function consume(result: unknown): void {
  if (result instanceof Uint8Array) sinkValue = (sinkValue + result.length + (result[0] ?? 0)) | 0;
  else if (typeof result === 'number') sinkValue = (sinkValue + result) | 0;
  else if (result !== undefined && result !== null) sinkValue = (sinkValue + 1) | 0;
}
export const sink = (): number => sinkValue;

const BATCH = 16;

export type Bench =
  | { kind: 'sync'; fn: () => unknown; afterWarmup?: () => void }
  | { kind: 'async'; fn: () => Promise<unknown>; afterWarmup?: () => void };

/** One time box: sync ops are called in batches of 16 between clock reads, async ones awaited one at a time. */
async function timeBox(bench: Bench, ms: number): Promise<number> {
  const t0 = performance.now();
  const end = t0 + ms;
  let n = 0;
  let now: number;
  if (bench.kind === 'sync') {
    const fn = bench.fn;
    do {
      for (let i = 0; i < BATCH; i++) consume(fn());
      n += BATCH;
      now = performance.now();
    } while (now < end);
  } else {
    const fn = bench.fn;
    do {
      for (let i = 0; i < BATCH; i++) consume(await fn());
      n += BATCH;
      now = performance.now();
    } while (now < end);
  }
  return (n * 1000) / (now - t0);
}

/**
 * Warms every bench up, then runs them in turn (a1 b1 a2 b2 …) so that host noise hits the
 * subject and its baseline alike. Returns each bench's median ops/s.
 */
export async function measureInterleaved(cfg: HarnessConfig, benches: readonly Bench[]): Promise<Measurement[]> {
  for (const b of benches) {
    await timeBox(b, cfg.warmupMs);
    b.afterWarmup?.();
  }
  const runs = benches.map(() => [] as number[]);
  for (let r = 0; r < cfg.runs; r++) {
    for (let i = 0; i < benches.length; i++) runs[i]!.push(await timeBox(benches[i]!, cfg.runMs));
  }
  return runs.map((rs) => ({ opsPerSec: median(rs), runs: rs }));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** min–max of the runs, as a compact "[a–b]" string. */
export function spread(values: readonly number[]): string {
  if (values.length < 2) return '';
  return `[${fmtNum(Math.min(...values))}–${fmtNum(Math.max(...values))}]`;
}

export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(n >= 10 ? 1 : 2);
}

export const fmtRatio = (r: number): string => (Number.isFinite(r) ? `${(r * 100).toFixed(0)}%` : 'n/a');

/** " [min–max]" of a measurement's runs, or '' for a single run. */
export const spreadSuffix = (m: Measurement): string => (m.runs.length > 1 ? ` ${spread(m.runs)}` : '');

export function environmentBanner(): string {
  const list = cpus();
  const model = list[0]?.model.trim() || 'unknown CPU';
  return `Node ${process.version} (OpenSSL ${process.versions.openssl}), ${process.platform}/${process.arch}; CPU: ${model} × ${list.length}`;
}

export interface Row {
  id: string;
  figure: string;
  subject: string;
  baseline: string;
  baselineName: string;
  ratio: string;
  goal: string;
  met: string;
}

/**
 * A row comparing a subject with its same-run baseline as a ratio; with a goal (a minimum ratio)
 * it says whether the goal is met.
 */
export function ratioRow(
  id: string,
  figure: string,
  subject: number,
  baseline: number,
  baselineName: string,
  goal?: number,
  unit = 'ops/s',
  extra: { subject?: string; baseline?: string } = {},
): Row {
  const ratio = subject / baseline;
  return {
    id,
    figure,
    subject: `${fmtNum(subject)} ${unit}${extra.subject ?? ''}`,
    baseline: `${fmtNum(baseline)} ${unit}${extra.baseline ?? ''}`,
    baselineName,
    ratio: fmtRatio(ratio),
    goal: goal === undefined ? '—' : `≥ ${fmtRatio(goal)}`,
    met: goal === undefined ? 'info' : ratio >= goal ? 'YES' : 'NO',
  };
}

/** Raw samples attached for the machine-readable report (e.g. latencies for a distribution plot). */
const attached: Record<string, { unit: string; values: number[] }> = {};

/**
 * Attaches raw samples (e.g. every rotation's latency, in `unit`) to the BENCH_JSON output under `name`;
 * attaching the same name again replaces them.
 */
export function attachSamples(name: string, values: readonly number[], unit = 'ms'): void {
  attached[name] = { unit, values: values.filter(Number.isFinite) };
}

/** What `printReport` writes to the file named by BENCH_JSON (bench/report.ts reads it). */
export interface BenchJson {
  /** The bench's file name without extension, e.g. "agent". */
  bench: string;
  rows: Row[];
  notes: string[];
  /** environmentBanner() */
  machine: string;
  /** ISO 8601: when the report was printed. */
  finishedAt: string;
  durationSeconds: number;
  quick: boolean;
  samples?: Record<string, { unit: string; values: number[] }>;
}

/**
 * Prints the table, the notes, the total time and any missed goals; with BENCH_JSON=<file> set, also
 * writes them (and any attached samples) to that file as JSON.
 */
export function printReport(rows: readonly Row[], notes: readonly string[], startedAt: number): void {
  const durationSeconds = (performance.now() - startedAt) / 1000;
  const jsonFile = process.env.BENCH_JSON;
  if (jsonFile) {
    const out: BenchJson = {
      bench: basename(process.argv[1] ?? 'bench').replace(/\.[cm]?js$/, ''),
      rows: [...rows],
      notes: [...notes],
      machine: environmentBanner(),
      finishedAt: new Date().toISOString(),
      durationSeconds,
      quick: harnessConfig().quick,
    };
    if (Object.keys(attached).length > 0) out.samples = attached;
    writeFileSync(jsonFile, `${JSON.stringify(out)}\n`);
  }
  console.log();
  console.log(renderTable(rows));
  console.log();
  for (const n of notes) console.log(`- ${n}`);
  console.log(`- total ${durationSeconds.toFixed(1)} s; sink ${sink()}`);
  const missed = rows.filter((r) => r.met === 'NO');
  if (missed.length > 0) console.log(`- goals missed: ${missed.map((r) => `${r.id} ${r.figure.trim()}`).join('; ')}`);
}

/** A plain-text table with aligned columns (markdown-compatible pipes). */
export function renderTable(rows: readonly Row[]): string {
  const header: Row = {
    id: '#',
    figure: 'Figure',
    subject: 'Keysafe',
    baseline: 'Baseline (same run)',
    baselineName: 'Baseline is',
    ratio: 'Ratio',
    goal: 'Goal',
    met: 'Met?',
  };
  const keys = Object.keys(header) as (keyof Row)[];
  const all = [header, ...rows];
  const width = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r: Row) => `| ${keys.map((k, i) => r[k].padEnd(width[i]!)).join(' | ')} |`;
  const rule = `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * CPU seconds the whole machine has spent busy (Linux /proc/stat, USER_HZ = 100), or NaN elsewhere.
 * Compared with our own processes' CPU use, it shows how much foreign load a measurement suffered.
 */
export function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Foreign CPU (cores) during a span: machine busy time minus what our own processes used. */
export function foreignCores(busySeconds: number, ownCpuSeconds: number, wallSeconds: number): number {
  return Math.max(0, (busySeconds - ownCpuSeconds) / wallSeconds);
}

/**
 * Starts measuring foreign CPU from now; `note(what)` then describes the span so far, or returns
 * undefined when it cannot be measured or was too short (/proc/stat counts in 10 ms ticks).
 */
export function foreignCpuMeter(): { note(what: string): string | undefined } {
  const wall0 = performance.now();
  const busy0 = machineBusySeconds();
  const cpu0 = process.cpuUsage();
  return {
    note(what) {
      const cpu = process.cpuUsage(cpu0);
      const wall = (performance.now() - wall0) / 1000;
      const foreign = foreignCores(machineBusySeconds() - busy0, (cpu.user + cpu.system) / 1e6, wall);
      if (!Number.isFinite(foreign) || wall <= 3) return undefined;
      return (
        `foreign CPU during ${what}: ${foreign.toFixed(2)} cores on average` +
        (foreign > 0.1 ? ' — NOT QUIET, re-run for clean figures' : ' (quiet)')
      );
    },
  };
}

// --- raw node:crypto baselines ---------------------------------------------------------------

export interface Sealed {
  iv: Buffer;
  ct: Buffer;
  tag: Buffer;
}

/** One AES-256-GCM encrypt with a fresh random IV: the raw node:crypto floor. */
export function rawSeal(key: KeyObject | Buffer, pt: Uint8Array, aad?: Uint8Array): Sealed {
  const iv = randomFillSync(Buffer.allocUnsafe(12));
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (aad) cipher.setAAD(aad);
  const ct = cipher.update(pt);
  cipher.final();
  return { iv, ct, tag: cipher.getAuthTag() };
}

/** One AES-256-GCM decrypt of what rawSeal made. */
export function rawOpen(key: KeyObject | Buffer, s: Sealed, aad?: Uint8Array): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, s.iv);
  decipher.setAuthTag(s.tag);
  if (aad) decipher.setAAD(aad);
  const pt = decipher.update(s.ct);
  decipher.final();
  return pt;
}
