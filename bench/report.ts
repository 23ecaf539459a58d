// The one benchmark report (issue 9): runs every `bench:*` script of package.json, then the soak run, each
// with BENCH_JSON set, and writes bench/REPORT.md, bench/report.json and the SVG plots next to them.
//
//   npm run bench                      the full run (each benchmark at its defaults; see REPORT.md for times)
//   npm run bench -- --quick           a fast check of the pipeline: every benchmark with --quick
//   --only kms,agent                   only those benchmarks (names after `bench:`; `soak` for the soak)
//   --soak-minutes N                   the soak's length (default 1; 0.5 with --quick); --no-soak skips it
//   --out DIR                          write the report there instead of bench/
//   --raw DIR                          keep each benchmark's BENCH_JSON output (raw samples included) in DIR
//   --from DIR                         run nothing: write the report from the outputs a --raw run kept there
//
// The build happens before (`npm run bench` runs `npm run build` and the bench tsc first), so each benchmark
// runs from its compiled file directly (`node build/bench/<name>.js`) rather than through its npm script,
// which would compile again. A script whose compiled file is missing (e.g. bench/ha.ts not written yet) is
// listed as skipped; a benchmark that fails is listed with its exit code and the end of its output, and
// the others still run. Exit code 1 when any benchmark failed to run; missed goals are reported, not fatal.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type BenchJson, environmentBanner, type Row } from './harness.js';
import { cdfChart, lineChart, quantile, type Series } from './plot.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

interface Args {
  quick: boolean;
  only?: string[];
  soakMinutes: number | undefined;
  out: string;
  raw?: string;
  from?: string;
}

function parseArgs(argv: readonly string[]): Args {
  const value = (flag: string) => {
    const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (i < 0) return undefined;
    return argv[i]!.includes('=') ? argv[i]!.slice(flag.length + 1) : argv[i + 1];
  };
  const quick = argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const only = value('--only')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const soak = value('--soak-minutes');
  const soakMinutes = argv.includes('--no-soak') ? undefined : soak !== undefined ? Number(soak) : quick ? 0.5 : 1;
  if (soakMinutes !== undefined && !(soakMinutes > 0)) throw new Error('--soak-minutes: expected a positive number');
  return {
    quick,
    ...(only && { only }),
    soakMinutes,
    out: resolve(value('--out') ?? join(ROOT, 'bench')),
    ...(value('--raw') !== undefined && { raw: resolve(value('--raw')!) }),
    ...(value('--from') !== undefined && { from: resolve(value('--from')!) }),
  };
}

interface Plan {
  name: string;
  /** What the report says was run. */
  command: string;
  file: string | undefined;
  args: string[];
}

/** Every `bench:*` script (in package.json order), then the soak. */
function plan(args: Args): Plan[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const quick = args.quick ? ['--quick'] : [];
  const plans: Plan[] = Object.entries(pkg.scripts)
    .filter(([name]) => name.startsWith('bench:'))
    .map(([name, script]) => {
      const m = /\bnode\s+(build\/bench\/[\w.-]+\.js)/.exec(script);
      return { name: name.slice('bench:'.length), command: `npm run ${name}`, file: m?.[1], args: quick };
    });
  if (args.soakMinutes !== undefined && pkg.scripts.soak) {
    const m = /\bnode\s+(build\/bench\/[\w.-]+\.js)/.exec(pkg.scripts.soak);
    plans.push({
      name: 'soak',
      command: `npm run soak -- --minutes ${args.soakMinutes}`,
      file: m?.[1],
      args: ['--minutes', String(args.soakMinutes)],
    });
  }
  return args.only ? plans.filter((p) => args.only!.includes(p.name)) : plans;
}

interface Result {
  name: string;
  command: string;
  status: 'ok' | 'failed' | 'skipped';
  seconds: number;
  reason?: string;
  exitCode?: number | null;
  json?: BenchJson;
}

/** Runs one benchmark, its output passed through; resolves with what it wrote to BENCH_JSON. */
async function run(p: Plan, tmp: string): Promise<Result> {
  if (!p.file)
    return {
      name: p.name,
      command: p.command,
      status: 'skipped',
      seconds: 0,
      reason: 'no `node build/bench/…` in its script',
    };
  const file = join(ROOT, p.file);
  if (!existsSync(file)) {
    const source = p.file.replace(/^build\//, '').replace(/\.js$/, '.ts');
    return {
      name: p.name,
      command: p.command,
      status: 'skipped',
      seconds: 0,
      reason: `${p.file} is missing${existsSync(join(ROOT, source)) ? '' : ` (${source} does not exist)`}`,
    };
  }
  const jsonFile = join(tmp, `${p.name}.json`);
  console.log(`\n=== ${p.command}${p.args.includes('--quick') ? ' -- --quick' : ''} ===`);
  const t0 = performance.now();
  let tail = '';
  const code = await new Promise<number | null>((ok) => {
    const child = spawn(process.execPath, [file, ...p.args], {
      cwd: ROOT,
      env: { ...process.env, BENCH_JSON: jsonFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pass = (to: NodeJS.WriteStream) => (d: Buffer) => {
      to.write(d);
      tail = (tail + d.toString()).slice(-3000);
    };
    child.stdout!.on('data', pass(process.stdout));
    child.stderr!.on('data', pass(process.stderr));
    child.on('exit', (c) => ok(c));
    child.on('error', () => ok(-1));
  });
  const seconds = (performance.now() - t0) / 1000;
  let json: BenchJson | undefined;
  try {
    json = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchJson;
  } catch {
    json = undefined;
  }
  // The soak exits 1 when its verdict fails but still reports: that is a result, not a crash.
  if (json && (code === 0 || p.name === 'soak')) {
    return { name: p.name, command: p.command, status: 'ok', seconds, exitCode: code, json };
  }
  const lines = tail.trim().split('\n').slice(-12).join('\n');
  return {
    name: p.name,
    command: p.command,
    status: 'failed',
    seconds,
    exitCode: code,
    reason: `${json ? '' : 'no BENCH_JSON output; '}exit code ${code}; last lines:\n${lines}`,
  };
}

// --- the report -------------------------------------------------------------------------------------

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function markdownTable(rows: readonly Row[]): string {
  const header = ['#', 'Figure', 'Keysafe', 'Baseline (same run)', 'Baseline is', 'Ratio', 'Goal', 'Met?'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const met = r.met === 'YES' ? '**YES**' : r.met === 'NO' ? '**NO**' : r.met;
    lines.push(
      `| ${[
        r.id,
        r.figure.trim().startsWith('·') ? `&nbsp;&nbsp;${r.figure.trim()}` : r.figure,
        r.subject,
        r.baseline,
        r.baselineName,
        r.ratio,
        r.goal,
        met,
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

const goals = (rows: readonly Row[]) => ({
  met: rows.filter((r) => r.met === 'YES').length,
  missed: rows.filter((r) => r.met === 'NO'),
});

function summarise(values: readonly number[]) {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => Number(quantile(s, p).toPrecision(4));
  return {
    n: s.length,
    min: q(0),
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: Number((s[s.length - 1] ?? Number.NaN).toPrecision(4)),
  };
}

interface Chart {
  file: string;
  title: string;
  caption: string;
}

/** The plots from whatever samples the benchmarks attached; each chart only when its data is there. */
function charts(results: readonly Result[], out: string): { charts: Chart[]; missing: string[] } {
  const samples = (bench: string, key: string) => results.find((r) => r.name === bench)?.json?.samples?.[key]?.values;
  const made: Chart[] = [];
  const missing: string[] = [];
  const write = (file: string, svg: string, title: string, caption: string) => {
    writeFileSync(join(out, file), svg);
    made.push({ file, title, caption });
  };
  const series = (list: [string, string, string, boolean?][]): Series[] =>
    list.flatMap(([bench, key, label, dashed]) => {
      const values = samples(bench, key);
      return values && values.length > 0 ? [{ label, values, ...(dashed && { dashed }) }] : [];
    });

  const rotation = series([
    ['agent', 'rotation.ack_to_sighup', 'agent: PutSecretValue ack → app gets SIGHUP'],
    ['agent', 'rotation.ack_to_file', 'agent: PutSecretValue ack → app sees the new file'],
    ['agent', 'rotation.baseline_rename_to_watch', 'baseline: rename(2) into a watched dir → fs.watch fires', true],
  ]);
  if (rotation.length > 0) {
    write(
      'rotation-latency.svg',
      cdfChart({
        title: 'Rotation propagation latency (bench:agent)',
        xLabel: 'milliseconds',
        series: rotation,
        logX: true,
      }),
      'Rotation propagation latency',
      'Distribution per rotation (share of rotations at or below each latency; the y axis stretches the tail): from the PutSecretValue acknowledgement to the application reading the new value in its file and receiving SIGHUP from the agent; dashed, the same-run floor (a rename into a watched directory noticed by the same consumer).',
    );
  } else missing.push('rotation propagation latency (bench:agent did not report samples)');

  const fanout = series([
    ['scale', 'fanout.sent_to_each_watcher', 'Keysafe: PutSecretValue sent → each watcher receives the event'],
    ['scale', 'fanout.sent_to_last_watcher', 'Keysafe: sent → the last of all watchers (per rotation)'],
    ['scale', 'fanout.baseline_sent_to_each', 'bare SSE server: emit sent → each connection', true],
    ['scale', 'fanout.baseline_sent_to_last', 'bare SSE server: emit sent → the last connection', true],
  ]);
  if (fanout.length > 0) {
    write(
      'fanout-latency.svg',
      cdfChart({
        title: 'Change-event fan-out to every watcher (bench:scale)',
        xLabel: 'milliseconds',
        series: fanout,
        logX: true,
      }),
      'Fan-out latency at scale',
      'Distribution, one rotation at a time with every watch stream connected (bench:scale); per delivery and per rotation (the last watcher), against a bare node:http SSE server fanning out the same message to as many connections.',
    );
  } else missing.push('fan-out latency (bench:scale did not report samples)');

  const endpoint = series([
    ['agent', 'endpoint.c1.agent', 'agent endpoint GET /secretsmanager/get'],
    ['agent', 'endpoint.c1.bare_hono', 'bare Hono app, same-size body from memory', true],
  ]).map((s) => ({ ...s, values: s.values.map((v) => v * 1000) }));
  if (endpoint.length > 0) {
    write(
      'endpoint-latency.svg',
      cdfChart({
        title: 'Agent endpoint latency, one connection (bench:agent)',
        xLabel: 'microseconds',
        series: endpoint,
        logX: true,
      }),
      'Endpoint latency',
      "CDF per request, one keep-alive connection, requests one after another (a random one of 50 secrets each): the agent's local endpoint against a bare Hono app answering a body of the same size from memory.",
    );
  } else missing.push('endpoint latency (bench:agent did not report samples)');

  const rss = samples('soak', 'soak.server_rss');
  const t = samples('soak', 'soak.t');
  const bound = samples('soak', 'soak.server_rss_bound');
  const warmup = samples('soak', 'soak.warmup_end');
  if (rss && t && rss.length > 1) {
    write(
      'soak-rss.svg',
      lineChart({
        title: 'Server RSS during the soak run',
        xLabel: 'seconds',
        yLabel: 'VmRSS (MB)',
        series: [{ label: 'Keysafe server', xs: t, ys: rss }],
        ...(bound?.[0] !== undefined && { guide: { y: bound[0], label: 'bound: +10% over the start after warm-up' } }),
        ...(warmup?.[0] !== undefined && { marker: { x: warmup[0], label: 'warm-up ends' } }),
      }),
      'Soak: server memory over time',
      'VmRSS of the server process, sampled during the soak run (steady traffic, rotations, watch streams, an agent); the dashed line is the bound the verdict applies at the end (median of the last three samples).',
    );
  }
  return { charts: made, missing };
}

function writeReport(args: Args, results: readonly Result[], totalSeconds: number): void {
  mkdirSync(args.out, { recursive: true });
  // From saved outputs: when the last of them finished.
  const finished = results.flatMap((r) => (r.json ? [Date.parse(r.json.finishedAt)] : []));
  const date = args.from && finished.length > 0 ? new Date(Math.max(...finished)) : new Date();
  const machine = `${environmentBanner()}; ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; Linux ${release()}`;
  const { charts: made, missing } = charts(results, args.out);
  const allRows = results.flatMap((r) => r.json?.rows ?? []);
  const all = goals(allRows);

  // report.json: everything but the raw samples (summarised; the plots hold the distributions).
  const json = {
    generatedAt: date.toISOString(),
    machine,
    cpus: cpus().length,
    quick: args.quick,
    totalSeconds: Number(totalSeconds.toFixed(1)),
    goals: { met: all.met, missed: all.missed.length },
    benches: results.map((r) => ({
      name: r.name,
      command: r.command,
      status: r.status,
      seconds: Number(r.seconds.toFixed(1)),
      ...(r.exitCode !== undefined && { exitCode: r.exitCode }),
      ...(r.reason !== undefined && { reason: r.reason }),
      ...(r.json && {
        machine: r.json.machine,
        rows: r.json.rows,
        notes: r.json.notes,
        samples: Object.fromEntries(
          Object.entries(r.json.samples ?? {}).map(([k, v]) => [k, { unit: v.unit, ...summarise(v.values) }]),
        ),
      }),
    })),
    plots: made.map((c) => c.file),
  };
  writeFileSync(join(args.out, 'report.json'), `${JSON.stringify(json, null, 2)}\n`);

  const md: string[] = [];
  md.push('# Keysafe benchmark report', '');
  if (args.quick) {
    md.push(
      '> **QUICK RUN** (`npm run bench -- --quick`): a check that the pipeline works, with short runs and',
      '> small sizes. Its figures are not the benchmark results; run `npm run bench` for those.',
      '',
    );
  }
  md.push(
    `- **Date:** ${date
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC')}`,
    `- **Machine:** ${machine}`,
    `- **Command:** \`npm run bench${args.quick ? ' -- --quick' : ''}\` (${totalSeconds >= 120 ? `${(totalSeconds / 60).toFixed(1)} min` : `${totalSeconds.toFixed(0)} s`} in all)`,
    `- **Goals:** ${all.met} met, ${all.missed.length} not met${all.missed.length > 0 ? ' (listed below)' : ''}; rows marked \`info\` have no goal.`,
    '',
    'Every figure is measured next to a baseline in the same run (the same machine, minutes apart or',
    'interleaved), and the ratio is between the two. Each section below is the table the benchmark printed',
    'itself, with its notes (method, noise, caveats). A note that says **NOT QUIET** means other processes',
    'used the CPUs during that measurement: its figures are pessimistic.',
    '',
    '| Benchmark | Status | Goals met | Time |',
    '|---|---|---|---|',
  );
  for (const r of results) {
    const g = r.json ? goals(r.json.rows) : undefined;
    const withGoal = r.json ? r.json.rows.filter((x) => x.met === 'YES' || x.met === 'NO').length : 0;
    md.push(
      `| [${r.name}](#${r.name}) | ${r.status === 'ok' ? 'ran' : r.status === 'skipped' ? 'skipped' : '**failed**'} | ${g ? `${g.met} / ${withGoal}` : '—'} | ${r.seconds.toFixed(0)} s |`,
    );
  }
  md.push('');
  if (all.missed.length > 0) {
    md.push('## Goals not met', '');
    for (const r of results) {
      for (const row of r.json ? goals(r.json.rows).missed : []) {
        md.push(`- **${r.name} ${row.id}** ${cell(row.figure.trim())}: ${cell(row.subject)} (goal ${cell(row.goal)})`);
      }
    }
    md.push('');
  }
  if (made.length > 0 || missing.length > 0) {
    md.push('## Plots', '');
    for (const c of made) md.push(`### ${c.title}`, '', c.caption, '', `![${c.title}](${c.file})`, '');
    for (const m of missing) md.push(`- No plot of ${m}.`);
    if (missing.length > 0) md.push('');
  }
  for (const r of results) {
    md.push(`## ${r.name}`, '');
    md.push(`\`${r.command}${args.quick && r.name !== 'soak' ? ' -- --quick' : ''}\` — ${r.seconds.toFixed(0)} s`, '');
    if (r.status === 'skipped') {
      md.push(`Skipped: ${r.reason}.`, '');
      continue;
    }
    if (r.status === 'failed') {
      md.push(`**Failed** (exit code ${r.exitCode}). The end of its output:`, '', '```', r.reason ?? '', '```', '');
      if (!r.json) continue;
    }
    const j = r.json!;
    if (j.machine !== environmentBanner()) md.push(`Machine: ${j.machine}`, '');
    md.push(markdownTable(j.rows), '');
    for (const n of j.notes) md.push(`- ${n}`);
    md.push('');
  }
  writeFileSync(join(args.out, 'REPORT.md'), `${md.join('\n')}\n`);
  console.log(
    `\nwrote ${['REPORT.md', 'report.json', ...made.map((c) => c.file)].map((f) => relative(process.cwd(), join(args.out, f))).join(', ')}`,
  );
}

/** A result from the output a --raw run kept (--from). */
function saved(p: Plan, dir: string): Result {
  try {
    const json = JSON.parse(readFileSync(join(dir, `${p.name}.json`), 'utf8')) as BenchJson;
    return { name: p.name, command: p.command, status: 'ok', seconds: json.durationSeconds, json };
  } catch {
    return { name: p.name, command: p.command, status: 'skipped', seconds: 0, reason: `no saved output in ${dir}` };
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv);
  const plans = plan(args);
  const dir = args.from ?? args.raw ?? mkdtempSync(join(tmpdir(), 'keysafe-bench-report-'));
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const results: Result[] = [];
  try {
    for (const p of plans) {
      const r = args.from ? saved(p, dir) : await run(p, dir);
      if (r.status !== 'ok') console.log(`\n=== ${p.name}: ${r.status}: ${r.reason?.split('\n')[0]}`);
      results.push(r);
    }
  } finally {
    if (!args.from && !args.raw) rmSync(dir, { recursive: true, force: true });
  }
  const total = args.from ? results.reduce((n, r) => n + r.seconds, 0) : (performance.now() - t0) / 1000;
  if (args.from) args.quick = results.some((r) => r.json?.quick);
  writeReport(args, results, total);
  console.log('');
  for (const r of results) {
    const g = r.json ? goals(r.json.rows) : undefined;
    console.log(
      `${r.name.padEnd(10)} ${r.status.padEnd(8)} ${r.seconds.toFixed(0).padStart(5)} s` +
        (g ? `  goals met ${g.met}, not met ${g.missed.length}` : r.reason ? `  ${r.reason.split('\n')[0]}` : ''),
    );
  }
  console.log(`total ${(total / 60).toFixed(1)} min`);
  if (results.some((r) => r.status === 'failed')) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
