// Replicas on one PostgreSQL: GetSecretValue throughput with 1, 2 and 3 server processes against
// one server on SQLite in the same run, and how fast a change reaches watchers on other replicas.
//
//   npm run bench:ha              default: about 1 minute
//   npm run bench:ha -- --quick   CI smoke
//   BENCH_HTTP_SECONDS            measured seconds per throughput run (default 3)
//
// Every process shares this machine's cores: PostgreSQL, the replicas and the load generators.
// The replicas' figures show what the database and the coordination cost, not how a cluster of
// machines scales.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startPostgres, type TestPostgres } from '../test/support/postgres.js';
import { environmentBanner, harnessConfig, printReport, type Row, ratioRow } from './harness.js';
import { type HttpRunResult, httpConfig, LoadGenerator } from './http-load.js';
import { freePort, killChildren, OWN_CLI, type Proc, percentile, startProcess, until } from './server-process.js';

const cfg = harnessConfig();
const HTTP = httpConfig(cfg, 3);
const SECRETS = cfg.quick ? 100 : 1000;
const PROPAGATIONS = cfg.quick ? 20 : 200;
const GOAL_RATIO = 0.5;
const GOAL_PROPAGATION_P99_MS = 500;

const rows: Row[] = [];
const notes: string[] = [];
const startedAt = performance.now();
const NAMES = Array.from({ length: SECRETS }, (_, i) => `ha/secret-${String(i).padStart(4, '0')}`);
const admin = {
  accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
  secretAccessKey: randomBytes(30).toString('base64url'),
  token: `ks_admin_${randomBytes(32).toString('base64url')}`,
};

interface Replica {
  url: string;
  port: number;
  proc: Proc;
}

async function startReplica(dir: string, store: string, name: string): Promise<Replica> {
  const port = await freePort();
  const proc = startProcess(
    [
      OWN_CLI,
      'server',
      '--listen',
      `127.0.0.1:${port}`,
      '--data-dir',
      join(dir, name),
      '--store',
      store,
      '--admin-credentials-file',
      join(dir, 'admin.json'),
    ],
    { env: { KEYSAFE_LOG_LEVEL: 'warn' } },
  );
  const url = `http://127.0.0.1:${port}`;
  const ready = () =>
    fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
  await until(`replica ${name} ready`, ready, 60_000, proc);
  return { url, port, proc };
}

const headers = (target: string) => ({
  'content-type': 'application/x-amz-json-1.1',
  'x-amz-target': target,
  authorization: `Bearer ${admin.token}`,
});

async function call(r: Replica, op: string, input: object): Promise<Record<string, unknown>> {
  const res = await fetch(r.url, {
    method: 'POST',
    headers: headers(`secretsmanager.${op}`),
    body: JSON.stringify(input),
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, `${op}: ${JSON.stringify(body)}`);
  return body;
}

async function populate(r: Replica): Promise<void> {
  for (let i = 0; i < SECRETS; i += 16) {
    await Promise.all(
      NAMES.slice(i, i + 16).map((Name) =>
        call(r, 'CreateSecret', { Name, SecretString: JSON.stringify({ password: randomBytes(24).toString('hex') }) }),
      ),
    );
  }
}

/** GetSecretValue on a random secret, spread evenly over the replicas by one load generator each. */
async function throughput(loads: LoadGenerator[], replicas: Replica[]): Promise<{ reqPerSec: number; p99: number }> {
  const bodies = NAMES.map((SecretId) => JSON.stringify({ SecretId }));
  const results: HttpRunResult[] = await Promise.all(
    replicas.map((r, i) =>
      loads[i]!.run({
        target: {
          host: '127.0.0.1',
          port: r.port,
          headers: { host: `127.0.0.1:${r.port}`, ...headers('secretsmanager.GetSecretValue') },
          body: bodies[0]!,
          bodies,
        },
        connections: Math.ceil(HTTP.connections / replicas.length),
        warmupMs: HTTP.warmupMs,
        durationMs: HTTP.durationMs,
      }),
    ),
  );
  for (const r of results) if (r.errors > 0) throw new Error(`${r.errors} failed requests: ${r.firstError}`);
  return {
    reqPerSec: results.reduce((sum, r) => sum + r.reqPerSec, 0),
    p99: Math.max(...results.map((r) => r.p99Ms)),
  };
}

/** Change events as they arrive on a replica's watch stream: secret name → arrival times. */
function watch(r: Replica, seen: Map<string, number[]>): AbortController {
  const abort = new AbortController();
  void (async () => {
    const res = await fetch(`${r.url}/v1/watch`, {
      headers: { authorization: `Bearer ${admin.token}` },
      signal: abort.signal,
    });
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body!) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
        const data = /^data: (.*)$/m.exec(message)?.[1];
        if (!message.includes('event: change') || !data) continue;
        const { name, type } = JSON.parse(data) as { name: string; type: string };
        if (type !== 'VersionCreated') continue;
        const at = performance.now();
        seen.set(name, [...(seen.get(name) ?? []), at]);
      }
    }
  })().catch(() => {});
  return abort;
}

/** Sent on `writer` → seen on each watcher's stream, ms, for PROPAGATIONS puts one after another. */
async function propagation(writer: Replica, watchers: Replica[]): Promise<number[]> {
  const streams = watchers.map(() => new Map<string, number[]>());
  const aborts = watchers.map((w, i) => watch(w, streams[i]!));
  await new Promise((r) => setTimeout(r, 300)); // the streams are open
  const latencies: number[] = [];
  try {
    for (let i = 0; i < PROPAGATIONS; i++) {
      const name = NAMES[i % SECRETS]!;
      const before = streams.map((s) => s.get(name)?.length ?? 0);
      const sent = performance.now();
      await call(writer, 'PutSecretValue', { SecretId: name, SecretString: `v${i}` });
      for (const [w, s] of streams.entries()) {
        const deadline = performance.now() + 5000;
        while ((s.get(name)?.length ?? 0) <= before[w]!) {
          if (performance.now() > deadline) throw new Error(`event for ${name} not seen on watcher ${w}`);
          await new Promise((r) => setImmediate(r));
        }
        latencies.push(s.get(name)![before[w]!]! - sent);
      }
    }
  } finally {
    for (const a of aborts) a.abort();
  }
  return latencies;
}

async function main(): Promise<void> {
  console.log(`bench:ha — ${environmentBanner()}`);
  const dir = mkdtempSync(join(tmpdir(), 'keysafe-bench-ha-'));
  writeFileSync(join(dir, 'admin.json'), JSON.stringify(admin), { mode: 0o600 });
  process.env.KEYSAFE_ROOT_KEY = randomBytes(32).toString('base64');
  let db: TestPostgres | undefined;
  const loads: LoadGenerator[] = [];
  try {
    for (let i = 0; i < 3; i++) loads.push(await LoadGenerator.start({ pinCpus: false }));

    const single = await startReplica(dir, `sqlite:${join(dir, 'sqlite', 'keysafe.db')}`, 'sqlite');
    await populate(single);
    const sqlite = await throughput(loads, [single]);
    const local = await propagation(single, [single]);
    await single.proc.stop();

    db = await startPostgres();
    const replicas = await Promise.all([0, 1, 2].map((i) => startReplica(dir, db!.url, `pg-${i}`)));
    await populate(replicas[0]!);
    const scaled: { reqPerSec: number; p99: number }[] = [];
    for (const n of [1, 2, 3]) scaled.push(await throughput(loads, replicas.slice(0, n)));
    const cross = await propagation(replicas[0]!, replicas.slice(1));

    for (const [i, s] of scaled.entries()) {
      rows.push(
        ratioRow(
          `${i + 1}`,
          `GetSecretValue, ${i + 1} replica${i ? 's' : ''} on PostgreSQL (p99 ${s.p99.toFixed(1)} ms)`,
          s.reqPerSec,
          sqlite.reqPerSec,
          `one server on SQLite (p99 ${sqlite.p99.toFixed(1)} ms)`,
          i === 0 ? GOAL_RATIO : undefined,
          'req/s',
        ),
      );
    }
    const p99 = percentile(cross, 0.99);
    rows.push({
      id: '4',
      figure: `PutSecretValue sent on replica 1 → event on replicas 2 and 3 (${PROPAGATIONS} puts)`,
      subject: `p99 ${p99.toFixed(1)} ms (p50 ${percentile(cross, 0.5).toFixed(1)})`,
      baseline: `p99 ${percentile(local, 0.99).toFixed(1)} ms (p50 ${percentile(local, 0.5).toFixed(1)})`,
      baselineName: 'the same on one SQLite server watching itself',
      ratio: `${(p99 / percentile(local, 0.99)).toFixed(1)}×`,
      goal: `p99 < ${GOAL_PROPAGATION_P99_MS} ms`,
      met: p99 < GOAL_PROPAGATION_P99_MS ? 'YES' : 'NO',
    });
    notes.push(
      `${SECRETS} secrets; ${HTTP.connections} keep-alive connections split evenly over the replicas, one load ` +
        `generator process per replica, Bearer admin token, ${HTTP.durationMs / 1000} s per run; ` +
        `PostgreSQL ${await pgVersion(db)} on the same machine: every process shares its ${cpus().length} cores, so more replicas add coordination, not CPU.`,
    );
    for (const r of replicas) await r.proc.stop();
  } finally {
    for (const l of loads) await l.close();
    killChildren();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  printReport(rows, notes, startedAt);
}

async function pgVersion(db: TestPostgres): Promise<string> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  await client.end();
  return rows[0]!.server_version;
}

await main();
