// Keysafe soak run (issue 9): a server process under steady traffic for N minutes, its memory and open
// handles sampled; fails (exit code 1) when either grows past a bound after the warm-up.
//
//   npm run soak                       1 minute
//   npm run soak -- --minutes 10       ten minutes (any positive number; 0.5 in CI)
//   npm run soak -- --quick            30 seconds (the same as --minutes 0.5)
//   BENCH_SOAK_RATE=1                  traffic multiplier (default 1: about 130 requests/s in all)
//   BENCH_SOAK_SAMPLE_SECONDS          seconds between samples (default: the run / 30, between 1 and 10)
//
// Every part is real: a Keysafe server process (`build/src/cli.js server`, SQLite on disk, audit fsynced,
// trusting a local OIDC issuer), a sidecar agent process (`build/src/cli.js agent`, logged in with a
// Kubernetes-shaped JWT, rendering 5 secrets to files) and, in this process, steady traffic at a fixed
// rate (not flat out: memory is what is measured, not throughput):
//   · GetSecretValue (AWS SDK, admin SigV4), 100/s over 4 lanes, random of 100 secrets
//   · GET /v1/secrets/<id> (the agent protocol: session token, value in a JWE), 20/s
//   · PutSecretValue rotations, 5/s, random secrets (the agent's among them)
//   · DescribeSecret + ListSecrets, 5/s
//   · 4 watch streams held for the whole run (sessions), and one churning: log in, open, read the hello,
//     close, every 2 s
// Samples: VmRSS (/proc/<pid>/status) and open file descriptors (/proc/<pid>/fd: files, sockets, pipes)
// of the server and the agent. The warm-up is the first 25% of the run but at least 30 s (at most half the
// run). The verdict compares the median of the last three samples with the median of the first three after
// the warm-up: RSS may grow at most 10%, descriptors at most 20; every request must succeed; and the agent's
// files must hold the last value written.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { newAgentKeyPair, ServerClient } from '../src/agent/client.js';
import { type OidcIssuer, startOidcIssuer } from '../test/support/oidc-issuer.js';
import { attachSamples, environmentBanner, printReport, type Row } from './harness.js';
import { processCpuMs } from './http-load.js';
import {
  fdCount,
  killChildren,
  OWN_CLI,
  type Proc,
  readerRole,
  rssMb,
  sleep,
  startKeysafeServer,
  startProcess,
  until,
} from './server-process.js';

const SECRETS = 100;
const AGENT_SECRETS = 5;
const VALUE_BYTES = 200;
const ROLE = 'soak';
const AUDIENCE = 'keysafe';
const PREFIX = 'soak/';
const GOAL_RSS_GROWTH = 0.1;
const GOAL_FD_GROWTH = 20;

function parseMinutes(argv: readonly string[]): number {
  const i = argv.findIndex((a) => a === '--minutes' || a.startsWith('--minutes='));
  if (i < 0) return argv.includes('--quick') || process.env.BENCH_QUICK === '1' ? 0.5 : 1;
  const raw = argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  const minutes = Number(raw);
  if (!(minutes > 0)) throw new Error(`--minutes: expected a positive number, got ${raw}`);
  return minutes;
}

const nameOf = (i: number) => `${PREFIX}s-${String(i).padStart(3, '0')}`;
const NAMES = Array.from({ length: SECRETS }, (_, i) => nameOf(i));

function secretJson(i: number, generation: number): string {
  const value = { id: i, generation, password: randomBytes(18).toString('base64url'), pad: '' };
  value.pad = 'x'.repeat(Math.max(0, VALUE_BYTES - Buffer.byteLength(JSON.stringify(value))));
  return JSON.stringify(value);
}

const median = (v: readonly number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Least-squares slope of y over x (x in seconds), per minute. */
function slopePerMinute(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? Number.NaN : (num / den) * 60;
}

interface Sample {
  t: number;
  serverRss: number;
  serverFds: number;
  agentRss: number;
  agentFds: number;
  requests: number;
  errors: number;
  serverCpuMs: number;
}

/** Counts of the traffic so far. */
const counts = { get: 0, jwe: 0, put: 0, meta: 0, churn: 0, watchEvents: 0, errors: 0 };
let firstError: string | undefined;
const fail = (what: string, e: unknown) => {
  counts.errors++;
  firstError ??= `${what}: ${e instanceof Error ? e.message : String(e)}`;
};

/** Calls `f` `perSecond` times a second until `stop()`, one call at a time, on a fixed schedule. */
function lane(perSecond: number, stopped: () => boolean, what: string, f: () => Promise<void>): Promise<void> {
  const interval = 1000 / perSecond;
  return (async () => {
    let due = performance.now();
    while (!stopped()) {
      try {
        await f();
      } catch (e) {
        fail(what, e);
      }
      due += interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -1000) due = performance.now(); // fell behind (a stall): do not burst to catch up
    }
  })();
}

async function main(): Promise<void> {
  const minutes = parseMinutes(process.argv);
  const rate = process.env.BENCH_SOAK_RATE ? Number(process.env.BENCH_SOAK_RATE) : 1;
  if (!(rate > 0)) throw new Error('BENCH_SOAK_RATE must be > 0');
  const runMs = minutes * 60_000;
  const sampleMs =
    (process.env.BENCH_SOAK_SAMPLE_SECONDS
      ? Number(process.env.BENCH_SOAK_SAMPLE_SECONDS)
      : Math.min(10, Math.max(1, runMs / 1000 / 30))) * 1000;
  // A young V8 heap grows for the first tens of seconds whatever the program: at least 30 s of warm-up (at
  // most half the run), else the first quarter.
  const warmupMs = Math.max(0.25 * runMs, Math.min(30_000, 0.5 * runMs));
  const startedAt = performance.now();
  const rows: Row[] = [];
  const notes: string[] = [];
  console.log(environmentBanner());
  console.log(
    `soak: ${minutes} min, warm-up ${(warmupMs / 1000).toFixed(0)} s, a sample every ${(sampleMs / 1000).toFixed(1)} s, traffic ×${rate}`,
  );

  const dir = mkdtempSync(join(tmpdir(), 'keysafe-soak-'));
  let issuer: OidcIssuer | undefined;
  const procs: Proc[] = [];
  let stop = false;
  const stopped = () => stop;
  const lanes: Promise<void>[] = [];
  const watchAbort = new AbortController();
  const samples: Sample[] = [];
  let verdictOk = false;
  try {
    issuer = await startOidcIssuer();
    const server = await startKeysafeServer(dir, {
      issuers: [{ name: 'cluster', issuer: issuer.url, audiences: [AUDIENCE], discovery: true }],
      roles: [{ ...readerRole(ROLE, 'cluster', `arn:aws:secretsmanager:*:*:secret:${PREFIX}*`), sessionTtl: '12h' }],
    });
    procs.push(server.proc);
    const sm = new SecretsManagerClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: server.admin,
      requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 16 }) },
    });
    const generation = new Uint32Array(SECRETS);
    for (let i = 0; i < SECRETS; i++) {
      await sm.send(new CreateSecretCommand({ Name: NAMES[i], SecretString: secretJson(i, 0) }));
    }

    // The agent: renders the first AGENT_SECRETS secrets, one file each.
    const agentDir = join(dir, 'agent');
    mkdirSync(join(agentDir, 'secrets'), { recursive: true });
    const tokenFile = join(agentDir, 'token');
    writeFileSync(
      tokenFile,
      await issuer.kubernetesToken({ audience: AUDIENCE, lifetime: Math.ceil(minutes * 60) + 3600 }),
    );
    const fileOf = (i: number) => join(agentDir, 'secrets', `s-${i}.json`);
    writeFileSync(
      join(agentDir, 'agent.json'),
      JSON.stringify({
        server: server.url,
        auth: { role: ROLE, tokenFile },
        secrets: Array.from({ length: AGENT_SECRETS }, (_, i) => ({ id: NAMES[i], path: fileOf(i) })),
      }),
    );
    const agent = startProcess([OWN_CLI, 'agent', '--config', join(agentDir, 'agent.json')], {
      env: { KEYSAFE_LOG_LEVEL: 'warn' },
    });
    procs.push(agent);
    await until('the agent wrote its files', () => existsSync(fileOf(AGENT_SECRETS - 1)), 30_000, agent);

    // Sessions for the agent-protocol lane and the watchers.
    const jwt = await issuer.kubernetesToken({ audience: AUDIENCE, lifetime: Math.ceil(minutes * 60) + 3600 });
    const session = async () => {
      const client = new ServerClient([server.url], await newAgentKeyPair());
      const { token } = await client.login(ROLE, jwt);
      return { client, token };
    };
    const watch = async (signal: AbortSignal, onHello?: () => void) => {
      const { client, token } = await session();
      await client.watch(
        token,
        undefined,
        async (m) => {
          if (m.kind === 'hello') onHello?.();
          else if (m.kind === 'change') counts.watchEvents++;
        },
        signal,
      );
    };
    for (let w = 0; w < 4; w++) {
      lanes.push(
        (async () => {
          while (!stop) {
            try {
              await watch(watchAbort.signal);
              if (!stop) fail('watch', new Error('a watch stream ended'));
            } catch (e) {
              if (!stop) fail('watch', e);
            }
          }
        })(),
      );
    }

    const pick = () => Math.floor(Math.random() * SECRETS);
    for (let l = 0; l < 4; l++) {
      lanes.push(
        lane(25 * rate, stopped, 'GetSecretValue', async () => {
          const i = pick();
          const out = await sm.send(new GetSecretValueCommand({ SecretId: NAMES[i] }));
          if (!out.SecretString?.includes(`"id":${i},`)) throw new Error(`GetSecretValue ${NAMES[i]}: wrong value`);
          counts.get++;
        }),
      );
    }
    const agentSession = await session();
    lanes.push(
      lane(20 * rate, stopped, 'GET /v1/secrets', async () => {
        const i = pick();
        const got = await agentSession.client.getSecret(agentSession.token, NAMES[i]!);
        if (!String(got.body.SecretString).includes(`"id":${i},`))
          throw new Error(`/v1/secrets ${NAMES[i]}: wrong value`);
        counts.jwe++;
      }),
    );
    lanes.push(
      lane(5 * rate, stopped, 'PutSecretValue', async () => {
        const i = pick();
        await sm.send(new PutSecretValueCommand({ SecretId: NAMES[i], SecretString: secretJson(i, ++generation[i]!) }));
        counts.put++;
      }),
    );
    lanes.push(
      lane(5 * rate, stopped, 'DescribeSecret/ListSecrets', async () => {
        if (counts.meta % 10 === 9) await sm.send(new ListSecretsCommand({ MaxResults: 20 }));
        else await sm.send(new DescribeSecretCommand({ SecretId: NAMES[pick()] }));
        counts.meta++;
      }),
    );
    lanes.push(
      lane(0.5, stopped, 'watch churn', async () => {
        const abort = new AbortController();
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          abort.abort();
        }, 10_000);
        try {
          // Resolves once the hello aborted the stream (or the timer did).
          await watch(abort.signal, () => abort.abort());
        } finally {
          clearTimeout(timer);
        }
        if (timedOut) throw new Error('no hello within 10 s');
        counts.churn++;
      }),
    );

    // Sampling.
    const t0 = performance.now();
    const cpu0 = processCpuMs(server.proc.pid);
    const take = () => {
      const s: Sample = {
        t: (performance.now() - t0) / 1000,
        serverRss: rssMb(server.proc.pid),
        serverFds: fdCount(server.proc.pid),
        agentRss: rssMb(agent.pid),
        agentFds: fdCount(agent.pid),
        requests: counts.get + counts.jwe + counts.put + counts.meta,
        errors: counts.errors,
        serverCpuMs: processCpuMs(server.proc.pid) - cpu0,
      };
      samples.push(s);
      return s;
    };
    const header =
      '    t (s) | server RSS (MB) | server fds | agent RSS (MB) | agent fds | requests | req/s | server CPU | errors';
    console.log(header);
    const print = (s: Sample, prev: Sample | undefined) => {
      const dt = prev ? s.t - prev.t : s.t;
      const rps = prev ? (s.requests - prev.requests) / dt : s.requests / Math.max(dt, 1e-3);
      const cpu = prev ? (s.serverCpuMs - prev.serverCpuMs) / (dt * 1000) : s.serverCpuMs / Math.max(dt * 1000, 1);
      console.log(
        `${s.t.toFixed(1).padStart(9)} | ${s.serverRss.toFixed(1).padStart(15)} | ${String(s.serverFds).padStart(10)} | ` +
          `${s.agentRss.toFixed(1).padStart(14)} | ${String(s.agentFds).padStart(9)} | ${String(s.requests).padStart(8)} | ` +
          `${rps.toFixed(0).padStart(5)} | ${`${(cpu * 100).toFixed(0)}%`.padStart(10)} | ${s.errors}` +
          (s.t * 1000 < warmupMs ? '  (warm-up)' : ''),
      );
    };
    let prev: Sample | undefined;
    for (let next = sampleMs; ; next += sampleMs) {
      const wait = t0 + next - performance.now();
      if (wait > 0) await sleep(wait);
      const s = take();
      print(s, prev);
      prev = s;
      if (server.proc.child.exitCode !== null) throw new Error(`the server exited: ${server.proc.output()}`);
      if (agent.child.exitCode !== null) throw new Error(`the agent exited: ${agent.output()}`);
      if (performance.now() - t0 >= runMs) break;
    }

    // Traffic stops; the agent must hold the last value of each of its secrets.
    stop = true;
    watchAbort.abort();
    await Promise.all(lanes);
    const last = await Promise.all(
      Array.from({ length: AGENT_SECRETS }, (_, i) => sm.send(new GetSecretValueCommand({ SecretId: NAMES[i] }))),
    );
    const agentCurrent = async () => {
      for (let i = 0; i < AGENT_SECRETS; i++) {
        if (readFileSync(fileOf(i), 'utf8') !== last[i]!.SecretString) return false;
      }
      return true;
    };
    let agentOk = true;
    await until('the agent files hold the last values', agentCurrent, 10_000).catch(() => {
      agentOk = false;
    });

    // --- verdict ------------------------------------------------------------------------------
    const after = samples.filter((s) => s.t * 1000 >= warmupMs);
    assert.ok(after.length >= 2, 'too few samples after the warm-up: run longer or sample more often');
    const first = after.slice(0, 3);
    const lastThree = after.slice(-3);
    const m = (ss: Sample[], k: keyof Sample) => median(ss.map((s) => s[k]));
    const elapsed = (performance.now() - t0) / 1000;
    const requests = counts.get + counts.jwe + counts.put + counts.meta;
    const growthRow = (id: string, what: string, k: 'serverRss' | 'agentRss'): Row => {
      const a = m(first, k);
      const b = m(lastThree, k);
      const peak = Math.max(...after.map((s) => s[k]));
      const growth = b / a - 1;
      return {
        id,
        figure: `${what} RSS growth after the warm-up (peak ${peak.toFixed(1)} MB)`,
        subject: `${b.toFixed(1)} MB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%)`,
        baseline: `${a.toFixed(1)} MB`,
        baselineName: 'the same process just after the warm-up',
        ratio: `${(b / a).toFixed(3)}×`,
        goal: `≤ +${(GOAL_RSS_GROWTH * 100).toFixed(0)}%`,
        met: growth <= GOAL_RSS_GROWTH ? 'YES' : 'NO',
      };
    };
    const fdRow = (id: string, what: string, k: 'serverFds' | 'agentFds'): Row => {
      const a = m(first, k);
      const b = m(lastThree, k);
      return {
        id,
        figure: `${what} open descriptors after the warm-up (max ${Math.max(...after.map((s) => s[k]))})`,
        subject: `${b} (${b - a >= 0 ? '+' : ''}${b - a})`,
        baseline: `${a}`,
        baselineName: 'the same process just after the warm-up',
        ratio: '—',
        goal: `≤ +${GOAL_FD_GROWTH}`,
        met: b - a <= GOAL_FD_GROWTH ? 'YES' : 'NO',
      };
    };
    rows.push(growthRow('1', 'server', 'serverRss'));
    const slope = slopePerMinute(
      after.map((s) => s.t),
      after.map((s) => s.serverRss),
    );
    rows.push({
      id: '1',
      figure: '  · trend after the warm-up (least-squares slope over every sample)',
      subject: `${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB/min`,
      baseline: '—',
      baselineName: '',
      ratio: '—',
      goal: '—',
      met: 'info',
    });
    rows.push(fdRow('2', 'server', 'serverFds'));
    rows.push(growthRow('3', 'agent', 'agentRss'), fdRow('4', 'agent', 'agentFds'));
    rows.push({
      id: '5',
      figure: `requests over ${elapsed.toFixed(0)} s: every one succeeded`,
      subject: `${requests} requests (${(requests / elapsed).toFixed(0)}/s), ${counts.errors} failed`,
      baseline: '—',
      baselineName: '',
      ratio: '—',
      goal: '0 failed',
      met: counts.errors === 0 ? 'YES' : 'NO',
    });
    rows.push({
      id: '6',
      figure: "the agent's files hold the last value of each of its secrets",
      subject: agentOk ? 'yes' : 'NO',
      baseline: '—',
      baselineName: '',
      ratio: '—',
      goal: 'yes',
      met: agentOk ? 'YES' : 'NO',
    });
    notes.push(
      `traffic: ${counts.get} GetSecretValue, ${counts.jwe} agent-protocol fetches, ${counts.put} rotations, ` +
        `${counts.meta} DescribeSecret/ListSecrets, ${counts.churn} watch streams opened and closed; the 4 held ` +
        `streams received ${counts.watchEvents} events.` +
        (firstError ? ` First failure: ${firstError}` : ''),
      `samples: ${samples.length}, every ${(sampleMs / 1000).toFixed(1)} s; warm-up ${(warmupMs / 1000).toFixed(0)} s; ` +
        `growth = median of the last 3 samples against the median of the first 3 after the warm-up; ` +
        `descriptors from /proc/<pid>/fd (files, sockets, pipes).`,
    );
    attachSamples('soak.warmup_end', [warmupMs / 1000], 's');
    attachSamples('soak.server_rss_bound', [m(first, 'serverRss') * (1 + GOAL_RSS_GROWTH)], 'MB');
    attachSamples(
      'soak.server_rss',
      samples.map((s) => s.serverRss),
      'MB',
    );
    attachSamples(
      'soak.t',
      samples.map((s) => s.t),
      's',
    );
    verdictOk = rows.every((r) => r.met !== 'NO');
  } finally {
    stop = true;
    watchAbort.abort();
    for (const p of procs.reverse()) await p.stop();
    killChildren();
    await issuer?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  printReport(rows, notes, startedAt);
  console.log(
    verdictOk
      ? `- soak PASSED: no growth beyond the bounds over ${minutes} min`
      : '- soak FAILED: see the rows marked NO',
  );
  if (!verdictOk) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
