// Keysafe Secrets Manager benchmark: every figure next to a baseline measured in the same run, as a ratio.
//
//   npm run bench:secrets              default: about 45 s
//   npm run bench:secrets -- --quick   CI smoke: 1 run × 0.2 s, short HTTP runs
//   BENCH_SECONDS / BENCH_RUNS         per-run length / number of runs of the in-process figure
//   BENCH_HTTP_SECONDS                 measured seconds per HTTP GetSecretValue run (default 3, after a 1 s
//                                      warm-up); PutSecretValue runs are 2/3 as long
//   BENCH_PIN=0                        do not pin server and load generator to separate CPUs
//   BENCH_ONLY=engine,get,put          run only those sections (e.g. under node --cpu-prof)
//
// 1,000 secrets (~200-byte JSON strings) are created first; every figure picks one at random per
// request. Figures: HTTP GetSecretValue (1) and PutSecretValue (2) against a bare node:http server
// answering a same-sized body, and in-process engine.getSecretValue (3) against one better-sqlite3
// row read plus one raw AES-256-GCM decrypt.
import { strict as assert } from 'node:assert';
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createLogger } from '../src/observability/logger.js';
import { loadServerConfig } from '../src/server/config.js';
import { type RunningServer, startServer } from '../src/server/main.js';
import {
  configBanner,
  environmentBanner,
  fmtNum,
  fmtRatio,
  foreignCpuMeter,
  harnessConfig,
  measureInterleaved,
  printReport,
  type Row,
  ratioRow,
  rawOpen,
  rawSeal,
  type Sealed,
  sectionFilter,
  spreadSuffix,
} from './harness.js';
import {
  bareServer,
  clientBusy,
  foreignCpuNote,
  type HttpRunResult,
  httpConfig,
  LoadGenerator,
  latencyRow,
  reqPerSec,
  runsOf,
  serverCpuRow,
} from './http-load.js';
import type { LoadTarget } from './loadgen-protocol.js';

const cfg = harnessConfig();
const HTTP = httpConfig(cfg, 3);
/** Puts are an info figure and slow (one fsync each): shorter runs keep the default run under 60 s. */
const PUT_MS = Math.max(100, Math.round((HTTP.durationMs * 2) / 3));
const enabled = sectionFilter();

const SECRETS = 1000;
const VALUE_BYTES = 200;
/** Goal of figure 1: at least this many req/s or this share of the bare server, whichever is lower. */
const GOAL_REQ_PER_SEC = 10_000;
const GOAL_RATIO = 0.5;

const rows: Row[] = [];
const notes: string[] = [];
const startedAt = performance.now();
/** The server's data directory (its SQLite file is keysafe.db). */
let dataDir = '';

const nameOf = (i: number) => `bench/secret-${String(i).padStart(4, '0')}`;
const NAMES = Array.from({ length: SECRETS }, (_, i) => nameOf(i));
const randomIndex = () => Math.floor(Math.random() * SECRETS);

/** A database credential as a JSON string of exactly VALUE_BYTES bytes; `generation` varies the password. */
function secretJson(i: number, generation = 0): string {
  const id = String(i).padStart(4, '0');
  const value = {
    engine: 'postgres',
    host: `db-${id}.internal.example.com`,
    port: 5432,
    dbname: 'orders',
    username: `svc-${id}`,
    password: `${generation}-${randomBytes(18).toString('base64url')}`,
    pad: '',
  };
  const length = Buffer.byteLength(JSON.stringify(value));
  value.pad = 'x'.repeat(Math.max(0, VALUE_BYTES - length));
  return JSON.stringify(value);
}

const indexOf = (name: string) => Number(name.slice(name.lastIndexOf('-') + 1));

// --- 3: in-process engine.getSecretValue vs one row read + one decrypt -------------------------

async function inProcess(server: RunningServer, values: readonly string[], dir: string): Promise<void> {
  // The floor: the same 1,000 values AES-256-GCM-sealed in a 1,000-row table, read by name.
  const db = new Database(join(dir, 'floor.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE secrets (name TEXT PRIMARY KEY, iv BLOB, ct BLOB, tag BLOB)');
    const kek = createSecretKey(randomBytes(32));
    const insert = db.prepare('INSERT INTO secrets (name, iv, ct, tag) VALUES (?, ?, ?, ?)');
    db.transaction(() => {
      values.forEach((v, i) => {
        const s = rawSeal(kek, Buffer.from(v));
        insert.run(NAMES[i], s.iv, s.ct, s.tag);
      });
    })();
    const read = db.prepare('SELECT iv, ct, tag FROM secrets WHERE name = ?');
    const floor = () => rawOpen(kek, read.get(NAMES[randomIndex()]) as Sealed);
    const engine = server.secrets;
    const subject = async () => (await engine.getSecretValue(NAMES[randomIndex()]!)).value.string;

    assert.equal(rawOpen(kek, read.get(NAMES[42]) as Sealed).toString(), values[42], 'floor round trip');
    assert.equal((await engine.getSecretValue(NAMES[42]!)).value.string, values[42], 'engine.getSecretValue');
    const [f, k] = await measureInterleaved(cfg, [
      { kind: 'sync', fn: floor },
      { kind: 'async', fn: subject },
    ]);
    rows.push(
      ratioRow(
        '3',
        `engine.getSecretValue, in-process, random of ${SECRETS}`,
        k!.opsPerSec,
        f!.opsPerSec,
        `better-sqlite3 row by name + 1 AES-GCM decrypt (${VALUE_BYTES} B)`,
        undefined,
        'ops/s',
        { subject: spreadSuffix(k!), baseline: spreadSuffix(f!) },
      ),
    );
    rows.push({
      id: '3',
      figure: '  · time per op',
      subject: `${(1e6 / k!.opsPerSec).toFixed(1)} µs`,
      baseline: `${(1e6 / f!.opsPerSec).toFixed(1)} µs`,
      baselineName: 'same floor',
      ratio: `${(f!.opsPerSec / k!.opsPerSec).toFixed(1)}×`,
      goal: '—',
      met: 'info',
    });
  } finally {
    db.close();
  }
}

// --- 1 and 2: HTTP ------------------------------------------------------------------------------

interface Variant {
  name: string;
  target: LoadTarget;
  durationMs: number;
  results: HttpRunResult[];
  visited: boolean;
  /** Throws when a run's sample answer is wrong. */
  check?: (body: unknown) => void;
}

async function runSchedule(load: LoadGenerator, schedule: readonly Variant[]): Promise<void> {
  for (const v of schedule) {
    const r = await load.run({
      target: v.target,
      connections: HTTP.connections,
      warmupMs: v.visited ? HTTP.rewarmMs : HTTP.warmupMs,
      durationMs: v.durationMs,
    });
    v.visited = true;
    if (r.errors > 0) throw new Error(`${v.name}: ${r.errors} failed requests, first: ${r.firstError}`);
    if (r.requests === 0) throw new Error(`${v.name}: no answer inside the measured window`);
    v.check?.(JSON.parse(r.sampleBody ?? '{}'));
    v.results.push(r);
  }
}

/** Sends one request and returns the answer, for wiring checks and same-sized baseline bodies. */
async function probe(url: string, headers: Record<string, string>, body: string): Promise<Buffer> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const answer = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200, `probe ${headers['x-amz-target']}: ${answer.toString()}`);
  return answer;
}

const order = (schedule: readonly Variant[], letters: Map<Variant, string>) =>
  schedule.map((v) => letters.get(v)).join(' ');

async function http(server: RunningServer, values: readonly string[], sections: { get: boolean; put: boolean }) {
  const port = Number(new URL(server.url).port);
  const headers = (target: string, p: number) => ({
    host: `127.0.0.1:${p}`,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': target,
    authorization: `Bearer ${server.admin.token}`,
  });
  const target = (op: string, p: number, bodies: string[]): LoadTarget => ({
    host: '127.0.0.1',
    port: p,
    headers: headers(`secretsmanager.${op}`, p),
    body: bodies[42]!,
    bodies,
  });
  const variant = (name: string, t: LoadTarget, durationMs: number, check?: Variant['check']): Variant => ({
    name,
    target: t,
    durationMs,
    results: [],
    visited: false,
    ...(check && { check }),
  });

  const getBodies = NAMES.map((SecretId) => JSON.stringify({ SecretId }));
  const putValues = NAMES.map((_, i) => secretJson(i, 1));
  const putBodies = NAMES.map((SecretId, i) => JSON.stringify({ SecretId, SecretString: putValues[i] }));
  const bares: Server[] = [];
  let load: LoadGenerator | undefined;
  const all: HttpRunResult[] = [];
  try {
    load = await LoadGenerator.start({ pinCpus: HTTP.pin });
    notes.push(
      `HTTP: ${load.pinned ? 'server process pinned to cpu0, load generator to cpu1' : 'not pinned (client and server share the CPUs)'}; ` +
        `${HTTP.connections} keep-alive connections, each request a random one of the ${SECRETS} secrets, ` +
        `Authorization: Bearer <admin token>; ${HTTP.warmupMs / 1000} s warm-up on a server's first run ` +
        `(${HTTP.rewarmMs / 1000} s on later ones), then ${HTTP.durationMs / 1000} s per GetSecretValue run and ` +
        `${PUT_MS / 1000} s per PutSecretValue run; median per variant.`,
    );

    if (sections.get) {
      const answer = await probe(server.url, headers('secretsmanager.GetSecretValue', port), getBodies[42]!);
      const parsed = JSON.parse(answer.toString()) as { SecretString?: string };
      assert.equal(parsed.SecretString, values[42], 'probe GetSecretValue value');
      const bare = await bareServer(answer);
      bares.push(bare);
      const baseline = variant(
        'bare node:http (GetSecretValue-sized answer)',
        target('GetSecretValue', bare.port, getBodies),
        HTTP.durationMs,
      );
      const keysafe = variant(
        'Keysafe GetSecretValue',
        target('GetSecretValue', port, getBodies),
        HTTP.durationMs,
        (body) => {
          const b = body as { Name?: string; SecretString?: string };
          assert.equal(b.SecretString, values[indexOf(b.Name ?? '')], `GetSecretValue answer for ${b.Name}`);
        },
      );
      const schedule = cfg.quick ? [baseline, keysafe] : [baseline, keysafe, baseline, keysafe, baseline, keysafe];
      await runSchedule(load, schedule);
      all.push(...baseline.results, ...keysafe.results);
      getRows(keysafe.results, baseline.results, answer.length);
      notes.push(
        `GetSecretValue: order ${order(
          schedule,
          new Map([
            [baseline, 'B'],
            [keysafe, 'K'],
          ]),
        )} (B bare, K Keysafe); ` +
          `answer ${answer.length} B; load generator busy (CPU ÷ wall): bare ${fmtRatio(clientBusy(baseline.results))}, ` +
          `Keysafe ${fmtRatio(clientBusy(keysafe.results))} — near 100% means the client, not the server, limits that figure.`,
      );
    }

    if (sections.put) {
      const answer = await probe(server.url, headers('secretsmanager.PutSecretValue', port), putBodies[42]!);
      const bare = await bareServer(answer);
      bares.push(bare);
      const baseline = variant(
        'bare node:http (PutSecretValue-sized answer)',
        target('PutSecretValue', bare.port, putBodies),
        PUT_MS,
      );
      const keysafe = variant('Keysafe PutSecretValue', target('PutSecretValue', port, putBodies), PUT_MS, (body) => {
        const b = body as { VersionId?: string; VersionStages?: string[] };
        assert.ok(b.VersionId && b.VersionStages?.includes('AWSCURRENT'), `PutSecretValue answer ${JSON.stringify(b)}`);
      });
      const versions0 = countVersions();
      const schedule = cfg.quick ? [baseline, keysafe] : [baseline, keysafe, baseline, keysafe];
      await runSchedule(load, schedule);
      all.push(...baseline.results, ...keysafe.results);
      const latest = await server.secrets.getSecretValue(NAMES[42]!);
      assert.equal(latest.value.string, putValues[42], 'value after the PutSecretValue runs');
      rows.push(
        ratioRow(
          '2',
          `HTTP PutSecretValue, c=${HTTP.connections} (n=${keysafe.results.length})`,
          reqPerSec(keysafe.results),
          reqPerSec(baseline.results),
          `bare node:http, ${answer.length} B answer, same load gen (n=${baseline.results.length})`,
          undefined,
          'req/s',
          { subject: runsOf(keysafe.results), baseline: runsOf(baseline.results) },
        ),
      );
      rows.push(latencyRow('2', '  · p99 latency', keysafe.results, baseline.results, 'bare node:http'));
      rows.push(serverCpuRow('2', '  · server CPU per request', keysafe.results, baseline.results, 'bare node:http'));
      const created = countVersions() - versions0;
      notes.push(
        `PutSecretValue: order ${order(
          schedule,
          new Map([
            [baseline, 'B'],
            [keysafe, 'P'],
          ]),
        )} (B bare, P Keysafe); answer ${answer.length} B; ` +
          `no ClientRequestToken (the server makes one), so every put is a new version and one fsynced SQLite commit ` +
          `(WAL, synchronous=FULL); the runs made ${created.toLocaleString('en-US')} versions ` +
          `(${(created / SECRETS).toFixed(1)} per secret on average). Load generator busy: bare ` +
          `${fmtRatio(clientBusy(baseline.results))}, Keysafe ${fmtRatio(clientBusy(keysafe.results))}.`,
      );
    }
  } finally {
    await load?.close();
    for (const b of bares) await new Promise<void>((ok) => b.close(() => ok()));
  }
  const foreign = foreignCpuNote(all);
  if (foreign) notes.push(foreign);
  await requestTotals(server);
}

function getRows(keysafe: HttpRunResult[], baseline: HttpRunResult[], answerBytes: number): void {
  const subject = reqPerSec(keysafe);
  const bare = reqPerSec(baseline);
  // The goal is the lower of the two bars.
  const relative = GOAL_RATIO * bare;
  const absoluteApplies = GOAL_REQ_PER_SEC <= relative;
  const bar = Math.min(GOAL_REQ_PER_SEC, relative);
  const met = subject >= bar;
  const row = ratioRow(
    '1',
    `HTTP GetSecretValue, c=${HTTP.connections} (n=${keysafe.length})`,
    subject,
    bare,
    `bare node:http, ${answerBytes} B answer, same load gen (n=${baseline.length})`,
    undefined,
    'req/s',
    { subject: runsOf(keysafe), baseline: runsOf(baseline) },
  );
  row.goal = absoluteApplies
    ? `≥ ${fmtNum(GOAL_REQ_PER_SEC)} req/s (abs.)`
    : `≥ ${fmtRatio(GOAL_RATIO)} of bare (${fmtNum(relative)} req/s)`;
  row.met = met ? 'YES' : 'NO';
  rows.push(row);
  rows.push(latencyRow('1', '  · p99 latency', keysafe, baseline, 'bare node:http'));
  rows.push(serverCpuRow('1', '  · server CPU per request', keysafe, baseline, 'bare node:http'));
  notes.push(
    `Goal 1 is ${fmtNum(GOAL_REQ_PER_SEC)} req/s or ${fmtRatio(GOAL_RATIO)} of the bare server, whichever is lower: ` +
      `${fmtRatio(GOAL_RATIO)} of ${fmtNum(bare)} = ${fmtNum(relative)} req/s, so the ` +
      `${absoluteApplies ? `absolute bar (${fmtNum(GOAL_REQ_PER_SEC)} req/s)` : `relative bar (${fmtRatio(GOAL_RATIO)} of bare)`} applies; ` +
      `Keysafe ${fmtNum(subject)} req/s → ${met ? 'MET' : 'NOT MET'}.`,
  );
}

/** Versions in the store (puts add one each); read through a second, read-only connection. */
function countVersions(): number {
  const db = new Database(join(dataDir, 'keysafe.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM secret_versions').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The server's own request counters, warm-ups included: divide a --cpu-prof profile's totals by them. */
async function requestTotals(server: RunningServer): Promise<void> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const counts = [
    ...text.matchAll(/^keysafe_requests_total\{operation="secretsmanager\.(\w+)",code="(\w+)"\} (\d+)$/gm),
  ]
    .map(([, op, code, n]) => `${op} ${code === 'ok' ? '' : `${code} `}${Number(n).toLocaleString('en-US')}`)
    .join(', ');
  if (counts) notes.push(`Keysafe answered in all (warm-ups and probes included): ${counts}.`);
}

// --- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(environmentBanner());
  console.log(configBanner(cfg));
  dataDir = mkdtempSync(join(tmpdir(), 'keysafe-bench-secrets-'));
  let server: RunningServer | undefined;
  try {
    server = await startServer(loadServerConfig({ listen: '127.0.0.1:0', dataDir }, {}), {
      logger: createLogger('warn'),
    });
    const t0 = performance.now();
    const values = NAMES.map((_, i) => secretJson(i));
    for (let i = 0; i < SECRETS; i++) {
      await server.secrets.createSecret({ name: NAMES[i]!, value: { string: values[i]! } });
    }
    notes.push(
      `setup: ${SECRETS} secrets (${VALUE_BYTES}-byte JSON strings, names ${NAMES[0]}…${NAMES[SECRETS - 1]}) ` +
        `created in-process in ${((performance.now() - t0) / 1000).toFixed(1)} s (one fsynced commit each).`,
    );
    if (enabled('engine')) {
      const meter = foreignCpuMeter();
      await inProcess(server, values, dataDir);
      const note = meter.note('the in-process figure');
      if (note) notes.push(note);
    }
    const sections = { get: enabled('get'), put: enabled('put') };
    if (sections.get || sections.put) await http(server, values, sections);
  } finally {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  // Figures in their numbered order, whatever order they ran in.
  rows.sort((a, b) => a.id.localeCompare(b.id));
  printReport(rows, notes, startedAt);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
