// Three `keysafe server` processes on one PostgreSQL, with a sidecar agent on each: changes reach
// every agent whichever replica took them, the scheduler lease moves when its holder is killed
// (and the scheduled rotation still happens once), and an agent whose replica dies fails over.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent } from '../support/agent.js';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { CLI, freePort, REPO, type ServerProcess, spawnServer } from '../support/process.js';
import { secretsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { ANY_SECRET_READER, trustConfig, webRole } from '../support/workload.js';

const REPLICAS = 3;
let db: TestPostgres;
let issuer: OidcIssuer;
let dir: string;
let env: NodeJS.ProcessEnv;
const replicas: ServerProcess[] = [];
const agents: { child: ChildProcess; file: string; log: () => string }[] = [];
let hook: Server;
/** Reload hook calls per agent (the agent's index is in the hook path). */
const reloads: number[] = [];

const sm = (replica: ServerProcess) => secretsClient(replica);

const alive = () => replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);

async function isLeader(replica: ServerProcess): Promise<boolean> {
  const metrics = await (await fetch(`${replica.url}/metrics`)).text();
  return /^keysafe_scheduler_leader 1$/m.test(metrics);
}

async function leaders(): Promise<ServerProcess[]> {
  const flags = await Promise.all(alive().map(isLeader));
  return alive().filter((_, i) => flags[i]);
}

async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  [db, issuer] = await Promise.all([startPostgres(), startOidcIssuer()]);
  dir = tempDir('keysafe-replicas-');
  // What replicas share besides the database: the root key and the admin's credentials (a file
  // the first of them creates; they all start at once, so the others must find it whole).
  env = { KEYSAFE_ROOT_KEY: randomBytes(32).toString('base64') };
  writeFileSync(
    join(dir, 'server.json'),
    JSON.stringify({
      store: db.url,
      schedulerIntervalMs: 500,
      rotationLeaseMs: 1000,
      ...trustConfig(issuer.url, [webRole({ statements: [ANY_SECRET_READER] })]),
    }),
  );
  // All three start at once: the migrations, the managed keys and the admin file survive the race.
  replicas.push(
    ...(await Promise.all(
      Array.from({ length: REPLICAS }, (_, i) =>
        spawnServer(
          join(dir, `replica-${i}`),
          ['--config', join(dir, 'server.json'), '--admin-credentials-file', join(dir, 'admin.json')],
          env,
        ),
      ),
    )),
  );
  // One admin for all: every replica accepts what the credentials in the shared file sign.
  for (const r of replicas) await sm({ ...r, admin: replicas[0]!.admin }).send(new ListSecretsCommand({}));
  await sm(replicas[0]!).send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'v0' }));

  hook = createServer((req, res) => {
    const index = Number(req.url?.slice(1));
    reloads[index] = (reloads[index] ?? 0) + 1;
    req.resume();
    res.end();
  });
  await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;

  writeFileSync(join(dir, 'token'), await issuer.kubernetesToken());
  for (let i = 0; i < REPLICAS; i++) {
    const file = join(dir, `agent-${i}`, 'db');
    // Each agent starts on its own replica and lists the others as fall-backs.
    const servers = [...replicas.slice(i), ...replicas.slice(0, i)].map((r) => r.url);
    const agent = await spawnAgent({
      dir,
      file: `agent-${i}.json`,
      server: servers,
      secrets: [{ id: 'app/db', path: file }],
      settings: {
        localTokenFile: join(dir, `agent-${i}`, 'local-token'),
        onChange: { http: `${hookUrl}/${i}`, debounceMs: 0 },
      },
    });
    agents.push({ child: agent.child, file, log: agent.output });
  }
  for (const a of agents) await until(() => existsSync(a.file), 15_000, `agent ${a.file} first sync`);
}, 90_000);

afterAll(async () => {
  for (const a of agents) a.child.kill('SIGKILL');
  for (const r of replicas) r.child.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.exited));
  hook?.close();
  await issuer?.stop();
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fileOf = (i: number) => readFileSync(agents[i]!.file, 'utf8');

describe('three replicas on one PostgreSQL', () => {
  it('delivers a rotation taken by replica 1 to the agents on every replica within a second', async () => {
    for (const value of ['v1', 'v2', 'v3']) {
      const sent = Date.now();
      await sm(replicas[0]!).send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: value }));
      await until(() => agents.every((_, i) => fileOf(i) === value), 1000, `every agent has ${value}`);
      expect(Date.now() - sent).toBeLessThan(1000);
    }
  });

  it('runs a scheduled rotation once when the replica holding the scheduler lease is killed', async () => {
    await until(async () => (await leaders()).length === 1, 5000, 'one scheduler leader');
    const [leader] = await leaders();
    const writer = alive().find((r) => r !== leader)!;
    const client = sm(writer);
    const { VersionId: first } = await client.send(
      new CreateSecretCommand({ Name: 'app/scheduled', SecretString: '{"password":"initial"}' }),
    );
    await client.send(
      new RotateSecretCommand({
        SecretId: 'app/scheduled',
        RotationLambdaARN: 'keysafe:rotation:random-password',
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    // Time passes: the schedule comes due (as a month going by would leave the row) ...
    const now = Date.now();
    await sql(
      `UPDATE secrets SET due_at = $1, revision = revision + 1,
         doc = jsonb_set(doc::jsonb, '{rotation,nextRotationAt}', to_jsonb($1::bigint))::text
       WHERE name = 'app/scheduled'`,
      [now],
    );
    // ... and the leader dies around the moment it would start it.
    await new Promise((r) => setTimeout(r, 50));
    leader!.child.kill('SIGKILL');
    await leader!.exited;

    await until(async () => (await leaders()).length === 1, 6000, 'a surviving replica takes the lease');
    const versions = async () =>
      (await client.send(new ListSecretVersionIdsCommand({ SecretId: 'app/scheduled', IncludeDeprecated: true })))
        .Versions!;
    await until(
      async () => (await versions()).some((v) => v.VersionStages?.includes('AWSCURRENT') && v.VersionId !== first),
      10_000,
      'the scheduled rotation finished',
    );
    // Several scheduler intervals later there is still exactly one new version: not rotated twice.
    await new Promise((r) => setTimeout(r, 2000));
    const all = await versions();
    expect(all).toHaveLength(2);
    expect(all.find((v) => v.VersionId === first)!.VersionStages).toEqual(['AWSPREVIOUS']);
    const described = await client.send(new DescribeSecretCommand({ SecretId: 'app/scheduled' }));
    expect(described.NextRotationDate!.getTime()).toBeGreaterThan(now + 29 * 86_400_000);
  });

  it('moves an agent to another replica when its own dies, missing and repeating no reload', async () => {
    const survivors = alive();
    expect(survivors).toHaveLength(2);
    const [victim, writer] = survivors as [ServerProcess, ServerProcess];
    const watching = agents.findIndex((_, i) => replicas[i] === victim);
    expect(watching).toBeGreaterThanOrEqual(0);
    const before = [...reloads];
    victim.child.kill('SIGKILL');
    await victim.exited;

    await sm(writer).send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'after-failover' }));
    await until(() => agents.every((_, i) => fileOf(i) === 'after-failover'), 10_000, 'every agent has the value');
    await new Promise((r) => setTimeout(r, 1500)); // a duplicate would arrive by now
    expect(reloads.map((n, i) => n - (before[i] ?? 0))).toEqual(agents.map(() => 1));
    for (const a of agents) expect(a.child.exitCode).toBeNull();
    expect(agents[watching]!.log()).not.toContain('eyJ'); // no token in the failover logs
  });
});

describe('examples/replicas/run.sh', () => {
  it("starts three replicas on one database that serve each other's writes, one of them the scheduler", async () => {
    await sql('CREATE DATABASE example');
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const base = join(dir, 'example');
    const script = spawn('bash', [join(REPO, 'examples/replicas/run.sh'), db.url.replace(/\/postgres$/, '/example')], {
      cwd: REPO,
      env: { ...process.env, KEYSAFE_CLI: CLI, KEYSAFE_REPLICAS_DIR: base, KEYSAFE_REPLICAS_PORTS: ports.join(' ') },
      detached: true,
      stdio: 'ignore',
    });
    try {
      const urls = ports.map((p) => `http://127.0.0.1:${p}`);
      const ready = async () =>
        (
          await Promise.all(
            urls.map((u) =>
              fetch(`${u}/readyz`).then(
                (r) => r.ok,
                () => false,
              ),
            ),
          )
        ).every(Boolean);
      await until(ready, 30_000, 'three replicas ready');
      const creds = JSON.parse(readFileSync(join(base, 'admin-credentials.json'), 'utf8'));
      const client = (url: string) => secretsClient({ url, admin: creds });
      await client(urls[0]!).send(new CreateSecretCommand({ Name: 'app/example', SecretString: 's3cret' }));
      const read = await client(urls[2]!).send(new GetSecretValueCommand({ SecretId: 'app/example' }));
      expect(read.SecretString).toBe('s3cret');
      const leading = async () =>
        (
          await Promise.all(
            urls.map(async (u) => (await (await fetch(`${u}/metrics`)).text()).match(/^keysafe_scheduler_leader 1$/m)),
          )
        ).filter(Boolean).length;
      await until(async () => (await leading()) === 1, 5000, 'exactly one scheduler');
    } finally {
      process.kill(-script.pid!, 'SIGTERM');
    }
  });
});
