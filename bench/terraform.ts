// Keysafe Terraform provider benchmark: wall time of `terraform plan` with the provider's resources next
// to a plan of the same count of built-in `terraform_data` resources, in the same run.
//
//   npm run bench:terraform              default: 1 and 20 resources, 5 interleaved runs each (about 60 s)
//   npm run bench:terraform -- --quick   CI smoke: 1 and 5 resources, 1 run (about 20 s)
//   BENCH_RUNS                           number of timed plans per configuration
//
// Each configuration lives in its own working directory with local state, applied once before timing
// (so a plan refreshes every resource: one ReadResource per instance), and is planned once untimed to
// warm the page cache. Timed plans run in the order b1 k1 b20 k20, b1 k1 … so host noise hits subject and
// baseline alike. Goal (issue 6): keysafe plan ≤ 1.5 × the built-in plan + 1 s, i.e. the provider's own
// start-up and RPC cost stay small. CPU is user+sys of terraform and every process it started (the
// provider included), read from our own cutime/cstime: a steadier figure than wall time on a busy host.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/observability/logger.js';
import { loadServerConfig } from '../src/server/config.js';
import { type RunningServer, startServer } from '../src/server/main.js';
import { environmentBanner, harnessConfig, median, printReport, type Row, spread } from './harness.js';

const cfg = harnessConfig();
const RUNS = process.env.BENCH_RUNS ? cfg.runs : cfg.quick ? 1 : 5;
const COUNTS = cfg.quick ? [1, 5] : [1, 20];
/** Goal: subject ≤ FACTOR × baseline + SLACK_S. */
const FACTOR = 1.5;
const SLACK_S = 1;
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

const rows: Row[] = [];
const notes: string[] = [];
const startedAt = performance.now();

interface Timed {
  wallS: number;
  cpuS: number;
}

/** user+sys seconds of our reaped children (Linux /proc/self/stat cutime + cstime, USER_HZ = 100), or NaN. */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state is field 3, so cutime (16) and cstime (17) are at indexes 13 and 14.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

function terraform(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed & { out: string }> {
  const cpu0 = childCpuSeconds();
  const t0 = performance.now();
  const child = spawn('terraform', [...args, '-no-color'], { cwd: dir, env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((ok, fail) => {
    child.on('error', fail);
    child.on('close', (code) => {
      const wallS = (performance.now() - t0) / 1000;
      if (code !== 0) fail(new Error(`terraform ${args.join(' ')} in ${dir} exited ${code}:\n${out}`));
      else ok({ wallS, cpuS: childCpuSeconds() - cpu0, out });
    });
  });
}

const PROVIDER_HEADER = `terraform {
  required_providers {
    keysafe = { source = "keysafe.local/keysafe/keysafe" }
  }
}
provider "keysafe" {}
`;

function keysafeConfig(n: number): string {
  return `${PROVIDER_HEADER}
resource "keysafe_secret" "s" {
  count                   = ${n}
  name                    = "bench/tf-${n}-\${count.index}"
  description             = "bench secret \${count.index}"
  recovery_window_in_days = 0
  tags                    = { bench = "terraform" }
}
`;
}

function builtinConfig(n: number): string {
  return `resource "terraform_data" "d" {
  count = ${n}
  input = { name = "bench/tf-${n}-\${count.index}", description = "bench secret \${count.index}" }
}
`;
}

interface Workdir {
  label: string;
  dir: string;
  count: number;
  provider: boolean;
  plans: Timed[];
}

const fmtS = (s: number) => `${s.toFixed(2)} s`;

async function main(): Promise<void> {
  console.log(environmentBanner());
  console.log(
    `terraform plan (refresh included), median of ${RUNS} interleaved run(s) after one untimed plan; counts ${COUNTS.join(' and ')}${cfg.quick ? ' (--quick)' : ''}`,
  );
  const root = mkdtempSync(join(tmpdir(), 'keysafe-bench-terraform-'));
  let server: RunningServer | undefined;
  try {
    server = await startServer(loadServerConfig({ listen: '127.0.0.1:0', dataDir: join(root, 'data') }, {}), {
      logger: createLogger('warn'),
    });
    const cliConfig = join(root, 'terraformrc');
    writeFileSync(cliConfig, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: root,
      TF_CLI_CONFIG_FILE: cliConfig,
      CHECKPOINT_DISABLE: '1',
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      KEYSAFE_ADDR: server.url,
      KEYSAFE_TOKEN: server.admin.token,
    };
    const version = await terraform(root, ['version'], env);
    notes.push(`${version.out.split('\n')[0]}; provider installed by \`keysafe terraform install\` (esbuild bundle).`);

    const dirs: Workdir[] = [];
    for (const count of COUNTS) {
      for (const provider of [false, true]) {
        const dir = join(root, `${provider ? 'keysafe' : 'builtin'}-${count}`);
        mkdirSync(dir);
        writeFileSync(join(dir, 'main.tf'), provider ? keysafeConfig(count) : builtinConfig(count));
        if (provider) await installProvider(dir);
        dirs.push({
          label: provider ? `${count} × keysafe_secret` : `${count} × terraform_data`,
          dir,
          count,
          provider,
          plans: [],
        });
      }
    }
    const setup0 = performance.now();
    for (const w of dirs) {
      await terraform(w.dir, ['init', '-input=false'], env);
      const apply = await terraform(w.dir, ['apply', '-auto-approve', '-input=false'], env);
      if (!apply.out.includes(`${w.count} added`)) throw new Error(`unexpected apply output:\n${apply.out}`);
      rows.push(timeRow(`A${w.provider ? 'k' : 'b'}${w.count}`, `apply (create) ${w.label}`, apply));
      await terraform(w.dir, ['plan', '-input=false', '-lock=false'], env); // warm-up
    }
    notes.push(`setup: init + apply + one warm-up plan of ${dirs.length} directories in ${elapsed(setup0)}.`);

    for (let r = 0; r < RUNS; r++) {
      for (const w of dirs) {
        const plan = await terraform(w.dir, ['plan', '-input=false', '-lock=false', '-detailed-exitcode'], env);
        if (!plan.out.includes('No changes.')) throw new Error(`a plan after apply shows changes:\n${plan.out}`);
        w.plans.push(plan);
      }
    }
    let id = 1;
    for (const count of COUNTS) {
      const base = dirs.find((w) => w.count === count && !w.provider)!;
      const subject = dirs.find((w) => w.count === count && w.provider)!;
      rows.push(goalRow(String(id++), `plan, ${count} resource${count === 1 ? '' : 's'}`, subject, base));
    }
  } finally {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  }
  rows.sort((a, b) => a.id.localeCompare(b.id));
  notes.push(
    'wall = median of the runs [min–max]; cpu = median user+sys of terraform and its children (provider launches included).',
    `goal: keysafe ≤ ${FACTOR} × built-in + ${SLACK_S} s; A-rows (one apply each, before timing) are info.`,
  );
  printReport(rows, notes, startedAt);
}

function installProvider(dir: string): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [CLI, 'terraform', 'install', '--dir', dir], { stdio: 'pipe' });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok() : fail(new Error(`keysafe terraform install failed:\n${err}`))));
  });
}

const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

function timeRow(id: string, figure: string, t: Timed): Row {
  return {
    id,
    figure,
    subject: `${fmtS(t.wallS)} (cpu ${fmtS(t.cpuS)})`,
    baseline: '—',
    baselineName: '—',
    ratio: '—',
    goal: '—',
    met: 'info',
  };
}

function goalRow(id: string, figure: string, subject: Workdir, base: Workdir): Row {
  const wall = (w: Workdir) => median(w.plans.map((p) => p.wallS));
  const cpu = (w: Workdir) => median(w.plans.map((p) => p.cpuS));
  const range = (w: Workdir) => (w.plans.length > 1 ? ` ${spread(w.plans.map((p) => p.wallS))}` : '');
  const limit = FACTOR * wall(base) + SLACK_S;
  return {
    id,
    figure,
    subject: `${fmtS(wall(subject))}${range(subject)} (cpu ${fmtS(cpu(subject))})`,
    baseline: `${fmtS(wall(base))}${range(base)} (cpu ${fmtS(cpu(base))})`,
    baselineName: base.label,
    ratio: `${(wall(subject) / wall(base)).toFixed(1)}×`,
    goal: `≤ ${fmtS(limit)}`,
    met: wall(subject) <= limit ? 'YES' : 'NO',
  };
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
