// Keysafe authorization benchmark (issue 4): what workload identity costs, next to the admin path
// measured in the same run, on the same server, interleaved.
//
//   npm run bench:auth              default: about 50 s
//   npm run bench:auth -- --quick   CI smoke: short runs, one per variant
//   BENCH_HTTP_SECONDS              measured seconds per Bearer GetSecretValue run (default 2, after a 1 s
//                                   warm-up); SigV4 and login runs are 2/3 as long
//   BENCH_SECONDS / BENCH_RUNS      per-run length / number of runs of the in-process figures
//                                   (default 0.5 s × 3)
//   BENCH_AUDIT_SYNC=1              fsync the audit log as in production (default: written, not fsynced)
//   BENCH_PIN=0                     do not pin server and load generator to separate CPUs
//   BENCH_ONLY=bearer,sigv4,login,verify,authz,patterns   run only those sections (e.g. under node --cpu-prof)
//
// A real local OIDC issuer (test/support/oidc-issuer.ts, found by discovery) signs Kubernetes-shaped
// RS256 tokens; the role `bench-reader` is bound to them and carries an IAM-style policy with
// denies, a policy variable and conditions. Figures: (1) HTTP GetSecretValue with a Bearer session
// token from /v1/auth/login against the same requests with the admin Bearer token; (2) the same with
// SigV4 and STS temporary credentials (ASIA key + X-Amz-Security-Token) against SigV4 with the
// admin's keys; (3) POST /v1/auth/login against a bare node:http server doing the same jose
// verification; (4) Keysafe's TrustedIssuer.verify against a bare jose.jwtVerify, in-process; (5) the
// server's authentication + authorization calls alone, in-process, role session against admin token;
// (6) the role's policy headed by a worst-case wildcard pattern on a 10 KB request value, against the
// same policy on a normal request (issue 14: such a pattern once held the event loop for seconds).
import { strict as assert } from 'node:assert';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SignatureV4 } from '@smithy/signature-v4';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { MAX_PATTERN_LENGTH } from '../src/auth/glob.js';
import { createLogin, createSessions } from '../src/auth/index.js';
import type { IssuerConfig } from '../src/auth/issuer-config.js';
import { TrustedIssuer } from '../src/auth/issuers.js';
import { compilePolicy, evaluatePolicy } from '../src/auth/policy.js';
import { createLogger } from '../src/observability/logger.js';
import { RequestAccess } from '../src/server/access.js';
import { createAuthenticator } from '../src/server/authenticate.js';
import { loadServerConfig } from '../src/server/config.js';
import { type RunningServer, startServer } from '../src/server/main.js';
import { type OidcIssuer, startOidcIssuer } from '../test/support/oidc-issuer.js';
import {
  configBanner,
  environmentBanner,
  fmtRatio,
  type HarnessConfig,
  harnessConfig,
  type Measurement,
  measureInterleaved,
  printReport,
  type Row,
  ratioRow,
  sectionFilter,
  spreadSuffix,
} from './harness.js';
import {
  clientBusy,
  foreignCpuNote,
  type HttpRunResult,
  httpConfig,
  LoadGenerator,
  latencyRow,
  medianOf,
  reqPerSec,
  runsOf,
  serverUsPerRequest,
} from './http-load.js';
import { type LoadTarget, SIGNER_UNAVAILABLE, type SigV4Signing } from './loadgen-protocol.js';

const cfg = harnessConfig();
const HTTP = httpConfig(cfg, 2);
/** SigV4 and login runs: 2/3 of a Bearer run, to keep the default run near 50 s. */
const SHORT_MS = Math.max(100, Math.round((HTTP.durationMs * 2) / 3));
/** The unrecorded run that follows a variant's first, full warm-up. */
const PRIME_MS = 100;
/** The in-process figures 4 and 5: shorter than the harness default (5 × 1 s) unless asked otherwise. */
const IN_PROCESS: HarnessConfig = {
  ...cfg,
  runMs: process.env.BENCH_SECONDS || cfg.quick ? cfg.runMs : 500,
  runs: process.env.BENCH_RUNS || cfg.quick ? cfg.runs : 3,
};
const enabled = sectionFilter();
/**
 * Audit records are written but not fsynced unless BENCH_AUDIT_SYNC=1: the request time the
 * authorization cost is compared with is then CPU only (stricter than production, where each
 * batch of records is fsynced) and free of disk noise.
 */
const AUDIT_SYNC = process.env.BENCH_AUDIT_SYNC === '1';

/** Goal of figures 1 and 2: the role path costs at most this many times the admin path. */
const GOAL_COST = 1.15;

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const ROLE = 'bench-reader';
/** The same workloads' role with a one-statement policy: what sessions cost without a rich policy. */
const SIMPLE_ROLE = 'bench-simple';
const AUDIENCE = 'keysafe';
const NAMESPACE = 'shop';
const SECRETS = 1000;
const VALUE_BYTES = 200;
/** Distinct workload tokens the login figure cycles through (one per pod). */
const TOKENS = 64;

const nameOf = (i: number) => `bench/secret-${String(i).padStart(4, '0')}`;
const NAMES = Array.from({ length: SECRETS }, (_, i) => nameOf(i));
const indexOf = (name: string) => Number(name.slice(name.lastIndexOf('-') + 1));
/** A secret the policy denies explicitly. */
const DENIED_SECRET = 'bench-admin/root';
/** A secret no statement allows (implicit deny). */
const OTHER_SECRET = 'billing/db';

// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, substituted by Keysafe
const NAMESPACE_VARIABLE = '${jwt:kubernetes.io.namespace}';
const SECRET_ARN = (pattern: string) => `arn:aws:secretsmanager:*:*:secret:${pattern}`;

/**
 * The role's policy: the Allow that matters comes after two Denies and a policy-variable Allow, and
 * carries three conditions, so a GetSecretValue walks every statement and tests every condition.
 */
const POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'NeverAdminSecrets',
      Effect: 'Deny',
      Action: 'secretsmanager:*',
      Resource: SECRET_ARN('bench-admin/*'),
    },
    {
      Sid: 'ReadOnly',
      Effect: 'Deny',
      Action: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecret', 'secretsmanager:DeleteSecret'],
      Resource: '*',
    },
    {
      Sid: 'OwnNamespace',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: SECRET_ARN(`${NAMESPACE_VARIABLE}/*`),
    },
    {
      Sid: 'ReadBenchSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: SECRET_ARN('bench/*'),
      Condition: {
        StringEquals: { 'jwt:kubernetes.io.namespace': NAMESPACE, 'secretsmanager:VersionStage': 'AWSCURRENT' },
        StringLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/bench-*' },
      },
    },
    {
      Sid: 'DecryptForTheTenant',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': NAMESPACE } },
    },
  ],
};

const rows: Row[] = [];
const notes: string[] = [];
const startedAt = performance.now();

/** A database credential as a JSON string of exactly VALUE_BYTES bytes. */
function secretJson(i: number): string {
  const id = String(i).padStart(4, '0');
  const value = {
    engine: 'postgres',
    host: `db-${id}.internal.example.com`,
    port: 5432,
    dbname: 'orders',
    username: `svc-${id}`,
    password: randomBytes(18).toString('base64url'),
    pad: '',
  };
  value.pad = 'x'.repeat(Math.max(0, VALUE_BYTES - Buffer.byteLength(JSON.stringify(value))));
  return JSON.stringify(value);
}

// --- HTTP plumbing ----------------------------------------------------------------------------

interface Variant {
  name: string;
  letter: string;
  target: LoadTarget;
  sigv4?: SigV4Signing;
  durationMs: number;
  results: HttpRunResult[];
  /** Throws when a run's sample answer is wrong. */
  check: (body: string) => void;
}

const variant = (
  name: string,
  letter: string,
  target: LoadTarget,
  durationMs: number,
  check: Variant['check'],
  sigv4?: SigV4Signing,
): Variant => ({
  name,
  letter,
  target,
  durationMs,
  results: [],
  check,
  ...(sigv4 && { sigv4 }),
});

/** Runs the variants in the given order; false when the load generator cannot sign (SigV4 skipped). */
async function runSchedule(load: LoadGenerator, schedule: readonly Variant[]): Promise<boolean> {
  // Prime every variant first (full warm-up, a short unrecorded run), so that no measured run meets
  // a colder server than another: every measured run then has the short re-warm-up only. A --quick
  // smoke run skips it and gives each run the full warm-up instead.
  for (const v of cfg.quick ? [] : new Set(schedule)) {
    const r = await load.run({
      target: v.target,
      ...(v.sigv4 && { sigv4: v.sigv4 }),
      connections: HTTP.connections,
      warmupMs: HTTP.warmupMs,
      durationMs: PRIME_MS,
    });
    if (r.firstError?.startsWith(SIGNER_UNAVAILABLE)) {
      notes.push(`SigV4 figure skipped: ${r.firstError}`);
      return false;
    }
    if (r.errors > 0) throw new Error(`${v.name}: ${r.errors} failed requests, first: ${r.firstError}`);
  }
  for (const v of schedule) {
    const r = await load.run({
      target: v.target,
      ...(v.sigv4 && { sigv4: v.sigv4 }),
      connections: HTTP.connections,
      warmupMs: cfg.quick ? HTTP.warmupMs : HTTP.rewarmMs,
      durationMs: v.durationMs,
    });
    if (r.firstError?.startsWith(SIGNER_UNAVAILABLE)) {
      notes.push(`SigV4 figure skipped: ${r.firstError}`);
      return false;
    }
    if (r.errors > 0) throw new Error(`${v.name}: ${r.errors} failed requests, first: ${r.firstError}`);
    if (r.requests === 0) throw new Error(`${v.name}: no answer inside the measured window`);
    v.check(r.sampleBody ?? '');
    v.results.push(r);
  }
  return true;
}

const order = (schedule: readonly Variant[]) => schedule.map((v) => v.letter).join(' ');

/** The cost rows of figures 1 and 2: req/s and server CPU per request, role path against admin path. */
function costRows(
  id: string,
  what: string,
  role: Variant,
  admin: Variant,
  schedule: readonly Variant[],
  simple?: Variant,
): void {
  const rps = reqPerSec(role.results);
  const adminRps = reqPerSec(admin.results);
  const req = ratioRow(
    id,
    `${what}, c=${HTTP.connections} (n=${role.results.length})`,
    rps,
    adminRps,
    `${admin.name}, same server (n=${admin.results.length})`,
    1 / GOAL_COST,
    'req/s',
    { subject: runsOf(role.results), baseline: runsOf(admin.results) },
  );
  rows.push(req);
  const us = serverUsPerRequest(role.results);
  const adminUs = serverUsPerRequest(admin.results);
  const cost = us / adminUs;
  rows.push({
    id,
    figure: '  · server CPU per request',
    subject: `${us.toFixed(1)} µs`,
    baseline: `${adminUs.toFixed(1)} µs`,
    baselineName: admin.name,
    ratio: Number.isFinite(cost) ? `${cost.toFixed(2)}×` : 'n/a',
    goal: `≤ ${GOAL_COST.toFixed(2)}×`,
    met: cost <= GOAL_COST ? 'YES' : 'NO',
  });
  rows.push(latencyRow(id, '  · p99 latency', role.results, admin.results, admin.name));
  if (simple) {
    rows.push(
      ratioRow(
        id,
        `  · a role with a one-statement policy (n=${simple.results.length})`,
        reqPerSec(simple.results),
        adminRps,
        admin.name,
        undefined,
        'req/s',
        { subject: runsOf(simple.results), baseline: runsOf(admin.results) },
      ),
    );
    const simpleUs = serverUsPerRequest(simple.results);
    rows.push({
      id,
      figure: '  · its server CPU per request',
      subject: `${simpleUs.toFixed(1)} µs`,
      baseline: `${adminUs.toFixed(1)} µs`,
      baselineName: admin.name,
      ratio: `${(simpleUs / adminUs).toFixed(2)}×`,
      goal: '—',
      met: 'info',
    });
  }
  const share = (us - adminUs) / us;
  notes.push(
    `${id}: the role path's extra server CPU is ${(us - adminUs).toFixed(1)} µs per request, ` +
      `${(share * 100).toFixed(1)}% of its ${us.toFixed(1)} µs (goal: under ${((1 - 1 / GOAL_COST) * 100).toFixed(1)}%, ` +
      `i.e. ≤ ${GOAL_COST}× the admin path) → ${cost <= GOAL_COST ? 'MET' : 'NOT MET'}; req/s ${fmtRatio(rps / adminRps)} ` +
      `of the admin path (goal ≥ ${fmtRatio(1 / GOAL_COST)}) → ${rps * GOAL_COST >= adminRps ? 'MET' : 'NOT MET'}. ` +
      `Order ${order(schedule)}; load generator busy (CPU ÷ wall): ${admin.letter} ${fmtRatio(clientBusy(admin.results))}, ` +
      `${role.letter} ${fmtRatio(clientBusy(role.results))}` +
      (simple ? `, ${simple.letter} ${fmtRatio(clientBusy(simple.results))}` : '') +
      ' — near 100% means the client, not the server, limits req/s ' +
      '(server CPU per request still holds).',
  );
}

/** Every secret request goes to `POST /` with these headers; `auth` adds Authorization (Bearer) or nothing (SigV4). */
function secretTarget(port: number, bodies: string[], authorization?: string): LoadTarget {
  return {
    host: '127.0.0.1',
    port,
    headers: {
      host: `127.0.0.1:${port}`,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.GetSecretValue',
      ...(authorization && { authorization }),
    },
    body: bodies[42]!,
    bodies,
  };
}

function checkSecret(values: readonly string[]): (body: string) => void {
  return (body) => {
    const b = JSON.parse(body) as { Name?: string; SecretString?: string };
    assert.equal(b.SecretString, values[indexOf(b.Name ?? '')], `GetSecretValue answer for ${b.Name}`);
  };
}

/** node:crypto behind the @smithy Checksum interface, for the SigV4 probes. */
class NodeSha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** One request to POST /: Bearer when `auth` is a string, SigV4-signed with `auth`'s credentials otherwise. */
async function awsCall(
  url: string,
  operation: string,
  input: object,
  auth: string | SigV4Signing,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const u = new URL(url);
  let headers: Record<string, string> = {
    host: u.host,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': `secretsmanager.${operation}`,
  };
  const body = JSON.stringify(input);
  if (typeof auth === 'string') {
    headers.authorization = `Bearer ${auth}`;
  } else {
    const signer = new SignatureV4({
      service: auth.service,
      region: auth.region,
      credentials: {
        accessKeyId: auth.accessKeyId,
        secretAccessKey: auth.secretAccessKey,
        ...(auth.sessionToken !== undefined && { sessionToken: auth.sessionToken }),
      },
      sha256: NodeSha256,
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path: '/',
      query: {},
      headers,
      body,
    });
    headers = signed.headers as Record<string, string>;
  }
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * The role must read bench/* and be refused elsewhere: by the explicit Deny for bench-admin/*, by
 * the absence of an Allow for other prefixes. Proves the figures measure a real policy decision.
 */
async function checkPolicy(server: RunningServer, values: readonly string[], auth: string | SigV4Signing) {
  const ok = await awsCall(server.url, 'GetSecretValue', { SecretId: NAMES[7] }, auth);
  assert.equal(ok.status, 200, `role reads ${NAMES[7]}: ${JSON.stringify(ok.body)}`);
  assert.equal(ok.body.SecretString, values[7], 'role reads the right value');
  const denied = await awsCall(server.url, 'GetSecretValue', { SecretId: DENIED_SECRET }, auth);
  assert.equal(denied.body.__type, 'AccessDeniedException', `role refused ${DENIED_SECRET}`);
  assert.match(String(denied.body.message), /explicit deny/, 'refused by the Deny statement');
  assert.match(String(denied.body.message), /assumed-role\/bench-reader\//, 'refused as the role');
  const other = await awsCall(server.url, 'GetSecretValue', { SecretId: OTHER_SECRET }, auth);
  assert.equal(other.body.__type, 'AccessDeniedException', `role refused ${OTHER_SECRET}`);
  assert.match(String(other.body.message), /no policy allows it/, 'refused for want of an Allow');
}

async function login(server: RunningServer, jwt: string, role = ROLE): Promise<string> {
  const res = await fetch(`${server.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role, jwt }),
  });
  const body = (await res.json()) as { token?: string };
  assert.equal(res.status, 200, `login: ${JSON.stringify(body)}`);
  assert.ok(body.token?.startsWith('ks1.'), 'login answers a session token');
  return body.token!;
}

async function assumeRole(
  server: RunningServer,
  jwt: string,
): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: `arn:aws:iam::${ACCOUNT}:role/${ROLE}`,
    RoleSessionName: 'bench-sigv4',
    WebIdentityToken: jwt,
  });
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  const xml = await res.text();
  assert.equal(res.status, 200, `AssumeRoleWithWebIdentity: ${xml}`);
  const field = (name: string) => {
    const m = new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml);
    assert.ok(m, `AssumeRoleWithWebIdentity answer has ${name}`);
    return m[1]!.replace(/&amp;/g, '&');
  };
  const credentials = {
    accessKeyId: field('AccessKeyId'),
    secretAccessKey: field('SecretAccessKey'),
    sessionToken: field('SessionToken'),
  };
  assert.ok(credentials.accessKeyId.startsWith('ASIA'), 'STS answers an ASIA key');
  return credentials;
}

// --- 1 and 2: GetSecretValue through the role's policy vs the admin path ----------------------

async function getSecretFigures(
  load: LoadGenerator,
  server: RunningServer,
  values: readonly string[],
  issuer: OidcIssuer,
  sections: { bearer: boolean; sigv4: boolean },
  all: HttpRunResult[],
): Promise<number | undefined> {
  let roleUs: number | undefined;
  const port = Number(new URL(server.url).port);
  const bodies = NAMES.map((SecretId) => JSON.stringify({ SecretId }));
  const check = checkSecret(values);

  if (sections.bearer) {
    const token = await login(server, await issuer.kubernetesToken({ namespace: NAMESPACE, serviceAccount: 'web' }));
    await checkPolicy(server, values, token);
    const admin = variant(
      'admin Bearer token',
      'A',
      secretTarget(port, bodies, `Bearer ${server.admin.token}`),
      HTTP.durationMs,
      check,
    );
    const role = variant(
      'role session Bearer token',
      'R',
      secretTarget(port, bodies, `Bearer ${token}`),
      HTTP.durationMs,
      check,
    );
    const simpleToken = await login(
      server,
      await issuer.kubernetesToken({ namespace: NAMESPACE, serviceAccount: 'web' }),
      SIMPLE_ROLE,
    );
    const simple = variant(
      'one-statement role session',
      'S',
      secretTarget(port, bodies, `Bearer ${simpleToken}`),
      HTTP.durationMs,
      check,
    );
    const schedule = cfg.quick
      ? [admin, role, simple]
      : [admin, role, simple, simple, role, admin, admin, role, simple];
    await runSchedule(load, schedule);
    all.push(...admin.results, ...role.results, ...simple.results);
    notes.push(
      `1: A admin Bearer token, R Bearer session token from POST /v1/auth/login of role ${ROLE} (the ` +
        `${POLICY.Statement.length}-statement policy), S the same for role ${SIMPLE_ROLE}, whose policy is one ` +
        `Allow of secretsmanager:GetSecretValue on bench/*; each request a random one of the ${SECRETS} secrets. ` +
        `The session token is ${token.length} characters (it carries the JWT claims); it is verified once, then ` +
        'served from the session cache with expiry and revocation checked on every request; then the role policy ' +
        'is evaluated. S against A is what sessions cost, R against S what a richer policy adds.',
    );
    costRows('1', 'HTTP GetSecretValue, Bearer session of a role (policy)', role, admin, schedule, simple);
    roleUs = serverUsPerRequest(role.results);
  }

  if (sections.sigv4) {
    const creds = await assumeRole(
      server,
      await issuer.kubernetesToken({ namespace: NAMESPACE, serviceAccount: 'web' }),
    );
    const signing = (c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): SigV4Signing => ({
      ...c,
      region: REGION,
      service: 'secretsmanager',
    });
    const sts = signing(creds);
    const adminKeys = signing({
      accessKeyId: server.admin.accessKeyId,
      secretAccessKey: server.admin.secretAccessKey,
    });
    await checkPolicy(server, values, sts);
    const admin = variant('SigV4, admin keys', 'a', secretTarget(port, bodies), SHORT_MS, check, adminKeys);
    const role = variant('SigV4, STS temporary credentials', 's', secretTarget(port, bodies), SHORT_MS, check, sts);
    const schedule = cfg.quick ? [admin, role] : [admin, role, role, admin];
    if (await runSchedule(load, schedule)) {
      all.push(...admin.results, ...role.results);
      const clientUs = (v: Variant) => medianOf(v.results, (r) => (r.clientCpuMs * 1000) / r.requests);
      notes.push(
        "2: a SigV4 with the admin's AKIA keys, s SigV4 with AssumeRoleWithWebIdentity's ASIA key, secret and " +
          'X-Amz-Security-Token; the load generator signs every request (@smithy/signature-v4), ' +
          `${clientUs(admin).toFixed(1)} / ${clientUs(role).toFixed(1)} µs of its CPU per request (a / s), not server time.`,
      );
      costRows('2', 'HTTP GetSecretValue, SigV4 with STS credentials of a role (policy)', role, admin, schedule);
    }
  }
  return roleUs;
}

// --- 3: login throughput ----------------------------------------------------------------------

/**
 * The login floor: bare node:http that parses the same JSON body, runs jose.jwtVerify with the same
 * checks Keysafe's issuer makes (issuer, audience, algorithm, exp/sub present) against the same
 * key set, and answers a pre-built body of Keysafe's answer size.
 */
function verifyingServer(keys: JSONWebKeySet, issuerUrl: string, answer: Buffer): Promise<Server & { port: number }> {
  const jwks = createLocalJWKSet(keys);
  const ok = { 'content-type': 'application/json', 'content-length': String(answer.length) };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let jwt: string;
      try {
        jwt = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { jwt: string }).jwt;
      } catch {
        res.writeHead(400).end();
        return;
      }
      jwtVerify(jwt, jwks, {
        issuer: issuerUrl,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        clockTolerance: 30,
        requiredClaims: ['exp', 'sub'],
      }).then(
        () => {
          res.writeHead(200, ok);
          res.end(answer);
        },
        () => res.writeHead(401, { 'content-length': '0' }).end(),
      );
    });
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => done(Object.assign(server, { port: (server.address() as AddressInfo).port }))),
  );
}

async function workloadTokens(issuer: OidcIssuer): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < TOKENS; i++) {
    tokens.push(await issuer.kubernetesToken({ namespace: NAMESPACE, serviceAccount: `worker-${i % 8}` }));
  }
  return tokens;
}

async function loginFigure(
  load: LoadGenerator,
  server: RunningServer,
  issuer: OidcIssuer,
  tokens: readonly string[],
  all: HttpRunResult[],
): Promise<number> {
  const port = Number(new URL(server.url).port);
  const bodies = tokens.map((jwt) => JSON.stringify({ role: ROLE, jwt }));
  const probe = await fetch(`${server.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: bodies[0]!,
  });
  const answer = Buffer.from(await probe.arrayBuffer());
  assert.equal(probe.status, 200, `probe login: ${answer.toString()}`);
  const bare = await verifyingServer({ keys: issuer.keys.map((k) => k.publicJwk) }, issuer.url, answer);
  try {
    const target = (p: number): LoadTarget => ({
      host: '127.0.0.1',
      port: p,
      path: '/v1/auth/login',
      headers: { host: `127.0.0.1:${p}`, 'content-type': 'application/json' },
      body: bodies[0]!,
      bodies,
    });
    const baseline = variant('bare node:http + jose.jwtVerify', 'B', target(bare.port), SHORT_MS, (body) =>
      assert.equal(body.length, answer.length, 'bare answer'),
    );
    const keysafe = variant('Keysafe POST /v1/auth/login', 'L', target(port), SHORT_MS, (body) => {
      const b = JSON.parse(body) as { token?: string; expiresAt?: string };
      assert.ok(b.token?.startsWith('ks1.') && b.expiresAt, `login answer ${body.slice(0, 200)}`);
    });
    const schedule = cfg.quick ? [baseline, keysafe] : [baseline, keysafe, keysafe, baseline];
    await runSchedule(load, schedule);
    all.push(...baseline.results, ...keysafe.results);
    const subject = reqPerSec(keysafe.results);
    rows.push(
      ratioRow(
        '3',
        `HTTP login (RS256 Kubernetes JWT), c=${HTTP.connections} (n=${keysafe.results.length})`,
        subject,
        reqPerSec(baseline.results),
        `bare node:http + jose.jwtVerify, same tokens, ${answer.length} B answer (n=${baseline.results.length})`,
        undefined,
        'logins/s',
        { subject: runsOf(keysafe.results), baseline: runsOf(baseline.results) },
      ),
    );
    const us = serverUsPerRequest(keysafe.results);
    const bareUs = serverUsPerRequest(baseline.results);
    rows.push({
      id: '3',
      figure: '  · server CPU per login',
      subject: `${us.toFixed(1)} µs`,
      baseline: `${bareUs.toFixed(1)} µs`,
      baselineName: 'bare node:http + jose.jwtVerify',
      ratio: `${(us / bareUs).toFixed(2)}×`,
      goal: '—',
      met: 'info',
    });
    rows.push(latencyRow('3', '  · p99 latency', keysafe.results, baseline.results, 'bare node:http + jose.jwtVerify'));
    notes.push(
      `3: ${order(schedule)} (B bare node:http + jose.jwtVerify, L Keysafe); each login a random one of ${TOKENS} ` +
        `distinct Kubernetes-shaped RS256 tokens (${Buffer.byteLength(tokens[0]!)} B) from the local OIDC issuer, ` +
        `whose key set Keysafe found by discovery; every login verifies the JWT, checks the role binding, signs a new ` +
        `session token (HMAC under alias/keysafe/sessions) and writes an audit record; answer ` +
        `${answer.length} B. The issue names no login goal: info. Load generator busy: B ${fmtRatio(clientBusy(baseline.results))}, ` +
        `L ${fmtRatio(clientBusy(keysafe.results))}.`,
    );
    return subject;
  } finally {
    await new Promise<void>((ok) => bare.close(() => ok()));
  }
}

// --- 4: JWT verification in-process -----------------------------------------------------------

async function verifyFigure(issuer: OidcIssuer, tokens: readonly string[], logins: number | undefined): Promise<void> {
  const keys: JSONWebKeySet = { keys: issuer.keys.map((k) => k.publicJwk) };
  const jwks = createLocalJWKSet(keys);
  const config: IssuerConfig = { name: 'inline', issuer: issuer.url, audiences: [AUDIENCE], jwks: keys };
  const trusted = new TrustedIssuer(config, { logger: createLogger('warn'), now: () => Math.floor(Date.now() / 1000) });
  await trusted.start();
  const pick = () => tokens[Math.floor(Math.random() * tokens.length)]!;
  const raw = async () =>
    (
      await jwtVerify(pick(), jwks, {
        issuer: issuer.url,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        clockTolerance: 30,
        requiredClaims: ['exp', 'sub'],
      })
    ).payload;
  const keysafe = () => trusted.verify(pick());
  assert.equal((await raw()).aud?.[0], AUDIENCE, 'jose.jwtVerify');
  assert.match((await keysafe()).sub, /^system:serviceaccount:shop:worker-/, 'TrustedIssuer.verify');
  const [r, k] = await measureInterleaved(IN_PROCESS, [
    { kind: 'async', fn: raw },
    { kind: 'async', fn: keysafe },
  ]);
  await trusted.close();
  rows.push(
    ratioRow(
      '4',
      'JWT verify in-process, TrustedIssuer.verify (RS256)',
      k!.opsPerSec,
      r!.opsPerSec,
      'jose.jwtVerify, same tokens and key set',
      undefined,
      'ops/s',
      { subject: spreadSuffix(k!), baseline: spreadSuffix(r!) },
    ),
  );
  if (logins !== undefined) {
    rows.push(
      ratioRow(
        '4',
        '  · HTTP logins/s of figure 3',
        logins,
        r!.opsPerSec,
        'jose.jwtVerify in-process, one at a time',
        undefined,
        'ops/s',
      ),
    );
  }
  notes.push(
    `4: ${IN_PROCESS.warmupMs} ms warm-up, then ${IN_PROCESS.runs} run(s) × ${IN_PROCESS.runMs / 1000} s, interleaved, ` +
      'one verification at a time (jose runs RSA in WebCrypto); median ops/s. TrustedIssuer adds the size and ' +
      'algorithm pre-checks, its error mapping, and the lifetime and iat checks Keysafe makes beyond jose.',
  );
}

// --- 5: the authorization work alone, in-process ----------------------------------------------

/**
 * What the role path adds, without HTTP: the server's own authenticator (Bearer → session cache,
 * expiry, revocation) and RequestAccess (the role policy) on the GetSecretValue check, against the
 * same calls with the admin token. The sessions are the real createSessions with an in-process
 * HMAC key instead of the KMS one: after the first use a token is served from the cache, so the
 * measured path never calls the HMAC.
 */
async function authorizationFigure(
  server: RunningServer,
  issuer: OidcIssuer,
  roleRequestUs: number | undefined,
): Promise<void> {
  const { directory } = server;
  const key = randomBytes(32);
  const sessions = createSessions({
    accountId: ACCOUNT,
    now: () => Date.now(),
    revokedBefore: directory.revokedBefore,
    keyInForce: async () => {},
    mac: async (data) => createHmac('sha256', key).update(data).digest('base64url'),
  });
  const authenticator = createAuthenticator({
    admin: server.admin,
    sessions,
    accountId: ACCOUNT,
    now: () => Date.now(),
  });
  const workload = await createLogin(directory, () => Date.now()).login({
    role: ROLE,
    jwt: await issuer.kubernetesToken({ namespace: NAMESPACE, serviceAccount: 'web' }),
    source: '127.0.0.1',
  });
  const { token } = await sessions.login(workload);
  const arns: string[] = [];
  for (const name of NAMES) arns.push((await server.secrets.getSecretValue(name)).secret.arn);
  const context = { 'secretsmanager:versionstage': 'AWSCURRENT' };
  // Checks built by hand here: no declared resource to resolve.
  const noResources = async () => undefined;
  const authorize = (authorization: string) => async () => {
    const identity = await authenticator.bearer(authorization);
    const access = new RequestAccess(identity, directory, ACCOUNT, noResources);
    access.require({
      action: 'secretsmanager:GetSecretValue',
      resource: arns[Math.floor(Math.random() * SECRETS)]!,
      context,
    });
    return access.decision;
  };
  const role = authorize(`Bearer ${token}`);
  const admin = authorize(`Bearer ${server.admin.token}`);
  assert.equal(await role(), 'allow', 'the role may read bench/*');
  assert.equal(await admin(), 'allow', 'the admin may read bench/*');
  const denied = new RequestAccess(await authenticator.bearer(`Bearer ${token}`), directory, ACCOUNT, noResources);
  assert.ok(
    denied.refusal({ action: 'secretsmanager:GetSecretValue', resource: SECRET_ARN(DENIED_SECRET), context }),
    'the role is refused bench-admin/*',
  );
  const [a, r] = await measureInterleaved(IN_PROCESS, [
    { kind: 'async', fn: admin },
    { kind: 'async', fn: role },
  ]);
  const us = (m: Measurement) => 1e6 / m.opsPerSec;
  const extra = us(r!) - us(a!);
  rows.push({
    id: '5',
    figure: 'Authentication + authorization alone, in-process',
    subject: `${us(r!).toFixed(2)} µs${spreadSuffix(r!)}`,
    baseline: `${us(a!).toFixed(2)} µs${spreadSuffix(a!)}`,
    baselineName: 'the same with the admin Bearer token',
    ratio: `+${extra.toFixed(2)} µs`,
    goal: '—',
    met: 'info',
  });
  notes.push(
    "5: the server's authenticator.bearer (session cache, expiry, revocation) + RequestAccess.require (the role " +
      'policy) on the GetSecretValue check of a random bench secret, one call at a time, interleaved with the same ' +
      `for the admin token (spread in ops/s); ${IN_PROCESS.runs} run(s) × ${IN_PROCESS.runMs / 1000} s.` +
      (roleRequestUs !== undefined && Number.isFinite(roleRequestUs)
        ? ` The extra ${extra.toFixed(2)} µs are ${((extra / roleRequestUs) * 100).toFixed(1)}% of figure 1's ` +
          `${roleRequestUs.toFixed(1)} µs of server CPU per role request; a tight loop with warm caches and little ` +
          'garbage, so a lower bound of what the same work costs inside the server (figure 1 measures it there).'
        : ''),
  );
}

// --- 6: wildcard patterns at their worst, in-process -------------------------------------------

/** Figure 6's request value (a VersionStage far past the API's 256, to bound what any value costs). */
const WORST_VALUE_CHARS = 10_240;
/** The limit on one evaluation with a worst-case pattern. */
const WORST_GOAL_MS = 1;

/**
 * The role's policy (figure 5's) evaluated for a normal GetSecretValue, against the same policy
 * headed by a Deny whose StringLike pattern is as costly as patterns get, on a 10 KB VersionStage
 * of `a`s that the pattern almost matches everywhere: the finding's `*a*a*a*a*a?b` (130 characters
 * held a RegExp matcher for 4 s), a pattern of as many `*a?` as the limit allows, and the longest
 * `?` run the limit allows, which the bit-parallel matcher carries over 32 words per character.
 */
async function patternFigure(): Promise<void> {
  const principals = [`arn:aws:iam::${ACCOUNT}:role/${ROLE}`, `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/web`];
  const resource = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${NAMES[42]}-AbCdEf`;
  const keys = (stage: string): Record<string, string> => ({
    'secretsmanager:versionstage': stage,
    'jwt:kubernetes.io.namespace': NAMESPACE,
    'aws:principalarn': principals[0]!,
  });
  const request = (k: Record<string, string>) => ({
    action: 'secretsmanager:GetSecretValue',
    resource,
    principals,
    lookup: (name: string) => k[name.toLowerCase()],
  });
  const normal = request(keys('AWSCURRENT'));
  const long = request(keys('a'.repeat(WORST_VALUE_CHARS)));
  const role = compilePolicy(POLICY, 'identity', ACCOUNT);
  const headedBy = (pattern: string) =>
    compilePolicy(
      {
        ...POLICY,
        Statement: [
          {
            Sid: 'WorstCasePattern',
            Effect: 'Deny',
            Action: 'secretsmanager:*',
            Resource: '*',
            Condition: { StringLike: { 'secretsmanager:VersionStage': pattern } },
          },
          ...POLICY.Statement,
        ],
      },
      'identity',
      ACCOUNT,
    );
  const finding = '*a*a*a*a*a?b';
  const runs = Math.floor((MAX_PATTERN_LENGTH - 3) / 3);
  const many = `${'*a?'.repeat(runs)}*b*`;
  const pairs = MAX_PATTERN_LENGTH / 2 - 2;
  const longest = `*${'a?'.repeat(pairs)}b*`;
  const subjects = [finding, many, longest].map((pattern) => {
    const policy = headedBy(pattern);
    // The pattern must be evaluated and miss, so that every evaluation scans the whole value.
    const what = `${pattern.slice(0, 16)}…`;
    assert.equal(evaluatePolicy(policy, normal).allow, true, `${what}: a normal request is allowed`);
    assert.equal(evaluatePolicy(policy, long).deny, false, `${what} misses the long value`);
    const hit = request(keys(`${'a'.repeat(WORST_VALUE_CHARS)}xb${pattern.endsWith('*') ? 'y' : ''}`));
    assert.equal(evaluatePolicy(policy, hit).deny, true, `${what} matches a value that ends right`);
    return () => evaluatePolicy(policy, long);
  });
  assert.equal(evaluatePolicy(role, normal).allow, true, 'the role policy allows a normal request');
  const [base, ...worst] = await measureInterleaved(IN_PROCESS, [
    { kind: 'sync', fn: () => evaluatePolicy(role, normal) },
    ...subjects.map((fn) => ({ kind: 'sync' as const, fn })),
  ]);
  const us = (m: Measurement) => 1e6 / m.opsPerSec;
  const figures = [
    `Policy evaluation, worst-case pattern: StringLike "${finding}" (the finding), ${WORST_VALUE_CHARS / 1024} KB value`,
    `  · many stars and ?: "*a?" × ${runs} + "*b*" (${many.length} characters)`,
    `  · the costliest pattern the limit allows: "*" + "a?" × ${pairs} + "b*" (${longest.length} characters)`,
  ];
  worst.forEach((m, i) => {
    rows.push({
      id: '6',
      figure: figures[i]!,
      subject: `${us(m!).toFixed(1)} µs${spreadSuffix(m!)}`,
      baseline: `${us(base!).toFixed(2)} µs${spreadSuffix(base!)}`,
      baselineName: 'the role policy on a normal GetSecretValue',
      ratio: `${(us(m!) / us(base!)).toFixed(0)}×`,
      goal: `< ${WORST_GOAL_MS} ms`,
      met: us(m!) < WORST_GOAL_MS * 1000 ? 'YES' : 'NO',
    });
  });
  notes.push(
    `6: evaluatePolicy in-process, one call at a time, interleaved with the role policy (${POLICY.Statement.length} ` +
      'statements) on a normal request (spread in ops/s); the worst-case policies are the same headed by a Deny ' +
      `with the pattern, on a VersionStage of ${WORST_VALUE_CHARS.toLocaleString('en-US')} "a"s that it misses ` +
      '(checked before the runs), so every evaluation scans the whole value and walks on through the role policy. ' +
      `Patterns are at most ${MAX_PATTERN_LENGTH} characters; matching is O(value × (1 + pattern / 32)), without ` +
      `backtracking (a RegExp took 4 s on the finding's pattern and 130 characters). ${IN_PROCESS.runs} run(s) × ` +
      `${IN_PROCESS.runMs / 1000} s.`,
  );
}

// --- main ------------------------------------------------------------------------------------

/** The server's own request counters, warm-ups and probes included. */
async function requestTotals(server: RunningServer): Promise<void> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const counts = [...text.matchAll(/^keysafe_requests_total\{operation="([^"]+)",code="(\w+)"\} (\d+)$/gm)]
    .map(([, op, code, n]) => `${op} ${code === 'ok' ? '' : `${code} `}${Number(n).toLocaleString('en-US')}`)
    .join(', ');
  if (counts) notes.push(`Keysafe answered in all (warm-ups and probes included): ${counts}.`);
}

async function main(): Promise<void> {
  console.log(environmentBanner());
  console.log(configBanner(IN_PROCESS));
  const dataDir = mkdtempSync(join(tmpdir(), 'keysafe-bench-auth-'));
  let issuer: OidcIssuer | undefined;
  let server: RunningServer | undefined;
  let load: LoadGenerator | undefined;
  const all: HttpRunResult[] = [];
  try {
    issuer = await startOidcIssuer();
    const configFile = join(dataDir, 'keysafe.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        issuers: [{ name: 'cluster', issuer: issuer.url, audiences: [AUDIENCE], discovery: true }],
        roles: [
          {
            name: ROLE,
            issuer: 'cluster',
            subjects: [`system:serviceaccount:${NAMESPACE}:*`],
            claims: { 'kubernetes.io.namespace': NAMESPACE, 'kubernetes.io.serviceaccount.name': ['web', 'worker-*'] },
            sessionTtl: '1h',
            policy: POLICY,
          },
          {
            name: SIMPLE_ROLE,
            issuer: 'cluster',
            subjects: [`system:serviceaccount:${NAMESPACE}:*`],
            sessionTtl: '1h',
            policy: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: SECRET_ARN('bench/*') },
              ],
            },
          },
        ],
        audit: { insecureNoSync: !AUDIT_SYNC },
      }),
    );
    server = await startServer(loadServerConfig({ listen: '127.0.0.1:0', dataDir, config: configFile }, {}), {
      logger: createLogger('warn'),
    });
    const t0 = performance.now();
    const values = NAMES.map((_, i) => secretJson(i));
    for (let i = 0; i < SECRETS; i++) {
      await server.secrets.createSecret({ name: NAMES[i]!, value: { string: values[i]! } });
    }
    for (const name of [DENIED_SECRET, OTHER_SECRET]) {
      await server.secrets.createSecret({ name, value: { string: secretJson(0) } });
    }
    notes.push(
      `setup: ${SECRETS} secrets (${VALUE_BYTES}-byte JSON strings, ${NAMES[0]}…${NAMES[SECRETS - 1]}) and two the role ` +
        `may not read created in ${((performance.now() - t0) / 1000).toFixed(1)} s; role ${ROLE} bound to ` +
        `system:serviceaccount:${NAMESPACE}:* with two claim conditions; its policy has ${POLICY.Statement.length} statements ` +
        `(Deny secretsmanager:* on bench-admin/*, Deny writes on *, an Allow through ${NAMESPACE_VARIABLE}, ` +
        'the Allow on bench/* with StringEquals on jwt:kubernetes.io.namespace and secretsmanager:VersionStage and ' +
        'StringLike on aws:PrincipalArn, an Allow of kms:Decrypt with an encryption-context condition); before the runs ' +
        'the role is checked to read bench/*, to be refused bench-admin/* by the explicit Deny and billing/* for want of an Allow.',
    );

    load = await LoadGenerator.start({ pinCpus: HTTP.pin });
    notes.unshift(
      `HTTP: ${load.pinned ? 'server process pinned to cpu0, load generator to cpu1' : 'not pinned (client and server share the CPUs)'}; ` +
        `${HTTP.connections} keep-alive connections; ` +
        (cfg.quick
          ? `${HTTP.warmupMs / 1000} s warm-up before each run, then`
          : `each variant primed first (${HTTP.warmupMs / 1000} s warm-up, ${PRIME_MS / 1000} s unrecorded), then ` +
            `every measured run ${HTTP.rewarmMs / 1000} s re-warm-up and`) +
        ` ${HTTP.durationMs / 1000} s per Bearer run and ${SHORT_MS / 1000} s ` +
        'per SigV4 and login run' +
        (cfg.quick ? '' : ', in ABBA order so that drift hits both alike') +
        '; median per variant. ' +
        (AUDIT_SYNC
          ? 'Audit log on and fsynced (group commit) for every variant, as in production (BENCH_AUDIT_SYNC=1).'
          : 'Audit log on for every variant but not fsynced, so request time is CPU only: a stricter bar for the ' +
            'authorization share than production, and free of disk noise (BENCH_AUDIT_SYNC=1 fsyncs as in production).'),
    );
    const sections = { bearer: enabled('bearer'), sigv4: enabled('sigv4') };
    const roleUs =
      sections.bearer || sections.sigv4
        ? await getSecretFigures(load, server, values, issuer, sections, all)
        : undefined;
    const tokens = await workloadTokens(issuer);
    let logins: number | undefined;
    if (enabled('login')) logins = await loginFigure(load, server, issuer, tokens, all);
    if (enabled('verify')) await verifyFigure(issuer, tokens, logins);
    if (enabled('authz')) await authorizationFigure(server, issuer, roleUs);
    if (enabled('patterns')) await patternFigure();
    const foreign = foreignCpuNote(all);
    if (foreign) notes.push(foreign);
    await requestTotals(server);
  } finally {
    await load?.close();
    await server?.close();
    await issuer?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  rows.sort((a, b) => a.id.localeCompare(b.id));
  printReport(rows, notes, startedAt);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
