// Keysafe KMS benchmark: every figure next to a baseline measured in the same run, as a ratio.
//
//   npm run bench:kms              default: 5 runs × 1 s per figure (about 82 s in all)
//   npm run bench:kms -- --quick   CI smoke: 1 run × 0.2 s, short HTTP runs
//   BENCH_SECONDS / BENCH_RUNS     per-run length / number of runs of the in-process figures
//   BENCH_HTTP_SECONDS             measured seconds per HTTP run (default 4, after a 1 s warm-up)
//   BENCH_PIN=0                    do not pin server and load generator to separate CPUs
//   BENCH_ONLY=crypto,datakey,envelope,http   run only those sections (e.g. under node --cpu-prof)
import { strict as assert } from 'node:assert';
import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { systemClock } from '../src/core/clock.js';
import { AeadKey, encodeEncryptionContext, RootKey, RootKeyring } from '../src/crypto/index.js';
import { createKmsEngine, type KmsEngine } from '../src/kms/index.js';
import { createLogger } from '../src/observability/logger.js';
import { loadServerConfig } from '../src/server/config.js';
import { type RunningServer, startServer } from '../src/server/main.js';
import { openStore } from '../src/storage/index.js';
import {
  type Bench,
  configBanner,
  environmentBanner,
  fmtRatio,
  foreignCpuMeter,
  harnessConfig,
  measureInterleaved,
  median,
  printReport,
  type Row,
  ratioRow,
  rawOpen,
  rawSeal,
  sectionFilter,
  spreadSuffix as withSpread,
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
  runsOf as runList,
  serverCpuRow,
} from './http-load.js';
import { type LoadTarget, SIGNER_UNAVAILABLE, type SigV4Signing } from './loadgen-protocol.js';

const cfg = harnessConfig();
const HTTP = httpConfig(cfg, 4);
const HTTP_WARMUP_MS = HTTP.warmupMs;
const HTTP_REWARM_MS = HTTP.rewarmMs;
const HTTP_MS = HTTP.durationMs;
/** The SigV4 variant is an extra, measured once and shorter, to keep the default run under 90 s. */
const SIGV4_MS = Math.min(HTTP_MS, cfg.quick ? 500 : 2500);
const CONNECTIONS = HTTP.connections;
const PIN = HTTP.pin;
const CONTEXT = { purpose: 'bench', tenant: 'acme' } as const;
const PARTITION = { region: 'us-east-1', accountId: '000000000000' };
const enabled = sectionFilter();

const rows: Row[] = [];
const notes: string[] = [];
const startedAt = performance.now();

function row(
  id: string,
  figure: string,
  subject: number,
  baseline: number,
  baselineName: string,
  goal?: number,
  unit = 'ops/s',
  extra: { subject?: string; baseline?: string } = {},
): number {
  rows.push(ratioRow(id, figure, subject, baseline, baselineName, goal, unit, extra));
  return subject / baseline;
}

// --- in-process figures ----------------------------------------------------------------------

async function openEngine(dir: string) {
  const store = await openStore(`sqlite:${join(dir, 'bench.db')}`);
  const engine = createKmsEngine({
    store: store.kms,
    rootKeys: new RootKeyring(RootKey.fromBytesInsecure(RootKey.generateBytesInsecure())),
    clock: systemClock,
    partition: PARTITION,
  });
  const key = await engine.createKey({ description: 'bench' });
  return { store, engine, keyId: key.keyId };
}

async function encryptDecrypt(engine: KmsEngine, keyId: string, kek: KeyObject): Promise<void> {
  for (const size of [32, 1024, 4096]) {
    const pt = randomBytes(size);
    const check = await engine.decrypt(
      (await engine.encrypt(keyId, pt, CONTEXT)).ciphertext,
      CONTEXT,
      undefined,
      undefined,
    );
    assert.ok(check.plaintext.equals(pt), 'engine round trip');
    assert.ok(rawOpen(kek, rawSeal(kek, pt)).equals(pt), 'raw round trip');
    const [raw, subject] = await measureInterleaved(cfg, [
      { kind: 'sync', fn: () => rawOpen(kek, rawSeal(kek, pt)) },
      {
        kind: 'async',
        fn: async () =>
          (await engine.decrypt((await engine.encrypt(keyId, pt, CONTEXT)).ciphertext, CONTEXT, undefined, undefined))
            .plaintext,
      },
    ]);
    const label = size >= 1024 ? `${size / 1024} KB` : `${size} B`;
    row(
      '1',
      `Encrypt+Decrypt ${label}, in-process`,
      subject!.opsPerSec,
      raw!.opsPerSec,
      'node:crypto AES-256-GCM enc+dec',
      size === 1024 ? 0.5 : undefined,
      'ops/s',
      { subject: withSpread(subject!), baseline: withSpread(raw!) },
    );
  }
}

async function generateDataKey(engine: KmsEngine, keyId: string, kek: KeyObject): Promise<void> {
  const [raw, subject] = await measureInterleaved(cfg, [
    { kind: 'sync', fn: () => rawSeal(kek, randomBytes(32)).ct },
    { kind: 'async', fn: async () => (await engine.generateDataKey(keyId, 32, CONTEXT)).ciphertext },
  ]);
  row(
    '2',
    'GenerateDataKey (32 B), in-process',
    subject!.opsPerSec,
    raw!.opsPerSec,
    'randomBytes(32) + 1 AES-GCM encrypt',
    undefined,
    'ops/s',
    { subject: withSpread(subject!), baseline: withSpread(raw!) },
  );
}

/** Times the encrypt and decrypt halves of each round trip separately, over the measured runs only. */
class Split {
  n = 0;
  enc = 0;
  dec = 0;
  reset = () => {
    this.n = 0;
    this.enc = 0;
    this.dec = 0;
  };
  add(t0: number, t1: number, t2: number): void {
    this.n++;
    this.enc += t1 - t0;
    this.dec += t2 - t1;
  }
  get encPerSec(): number {
    return (this.n * 1000) / this.enc;
  }
  get decPerSec(): number {
    return (this.n * 1000) / this.dec;
  }
}

async function envelope(engine: KmsEngine, keyId: string): Promise<void> {
  const message = randomBytes(1024);
  const aad = encodeEncryptionContext(CONTEXT);
  const kek = createSecretKey(randomBytes(32));

  // Keysafe: GenerateDataKey in-process, seal with the data key; Decrypt of the wrapped key, open.
  const keysafe = new Split();
  const keysafeRoundTrip = async () => {
    const t0 = performance.now();
    const dk = await engine.generateDataKey(keyId, 32, CONTEXT);
    const sealed = AeadKey.fromBytesInsecure(dk.plaintext).seal(message, aad);
    dk.plaintext.fill(0);
    const t1 = performance.now();
    const unwrapped = (await engine.decrypt(dk.ciphertext, CONTEXT, undefined, undefined)).plaintext;
    const opened = AeadKey.fromBytesInsecure(unwrapped).open(sealed, aad);
    unwrapped.fill(0);
    keysafe.add(t0, t1, performance.now());
    return opened;
  };

  // Hand-rolled floor: random DEK, AES-GCM(DEK) on the data, AES-GCM(KEK) wraps the DEK; AAD = context.
  const floor = new Split();
  const floorRoundTrip = () => {
    const t0 = performance.now();
    const dek = randomBytes(32);
    const data = rawSeal(dek, message, aad);
    const wrapped = rawSeal(kek, dek, aad);
    dek.fill(0);
    const t1 = performance.now();
    const dek2 = rawOpen(kek, wrapped, aad);
    const opened = rawOpen(dek2, data, aad);
    dek2.fill(0);
    floor.add(t0, t1, performance.now());
    return opened;
  };

  // AWS Encryption SDK, committing non-signing suite, raw AES keyring.
  const esdkClient = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new RawAesKeyringNode({
    keyName: 'bench-kek',
    keyNamespace: 'keysafe-bench',
    unencryptedMasterKey: randomBytes(32),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const esdk = new Split();
  const esdkRoundTrip = async () => {
    const t0 = performance.now();
    const { result } = await esdkClient.encrypt(keyring, message, {
      encryptionContext: CONTEXT,
      suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
    });
    const t1 = performance.now();
    const { plaintext } = await esdkClient.decrypt(keyring, result);
    esdk.add(t0, t1, performance.now());
    return plaintext;
  };

  for (const fn of [keysafeRoundTrip, floorRoundTrip, esdkRoundTrip]) {
    assert.ok(Buffer.from(await fn()).equals(message), 'envelope round trip');
  }
  const [f, k, e] = await measureInterleaved(cfg, [
    { kind: 'sync', fn: floorRoundTrip, afterWarmup: floor.reset },
    { kind: 'async', fn: keysafeRoundTrip, afterWarmup: keysafe.reset },
    { kind: 'async', fn: esdkRoundTrip, afterWarmup: esdk.reset },
  ] satisfies Bench[]);
  const floorName = 'hand-rolled node:crypto envelope';
  const esdkName = 'ESDK 5, committing non-signing suite';
  const spreads = { subject: withSpread(k!), baseline: withSpread(f!) };
  row('4', 'Envelope 1 KB, encrypt+decrypt', k!.opsPerSec, f!.opsPerSec, floorName, 0.5, 'ops/s', spreads);
  row('4', '  · encrypt half', keysafe.encPerSec, floor.encPerSec, floorName, 0.5);
  row('4', '  · decrypt half', keysafe.decPerSec, floor.decPerSec, floorName, 0.5);
  row('4', 'Envelope 1 KB, encrypt+decrypt', k!.opsPerSec, e!.opsPerSec, esdkName, undefined, 'ops/s', {
    subject: withSpread(k!),
    baseline: withSpread(e!),
  });
  row('4', '  · encrypt half', keysafe.encPerSec, esdk.encPerSec, esdkName);
  row('4', '  · decrypt half', keysafe.decPerSec, esdk.decPerSec, esdkName);
}

// --- HTTP ------------------------------------------------------------------------------------

interface Variant {
  name: string;
  port: number;
  target: LoadTarget;
  sigv4?: SigV4Signing;
  durationMs: number;
  results: HttpRunResult[];
  visited: boolean;
}

async function http(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keysafe-bench-http-'));
  let keysafe: RunningServer | undefined;
  let bare: Server | undefined;
  let load: LoadGenerator | undefined;
  let pinned = false;
  try {
    const config = loadServerConfig({ listen: '127.0.0.1:0', dataDir }, { KEYSAFE_LOG_LEVEL: 'warn' });
    keysafe = await startServer(config, { logger: createLogger('warn') });
    const key = await keysafe.kms.createKey({ description: 'bench-http' });
    const port = Number(new URL(keysafe.url).port);
    const plaintext = randomBytes(32);
    const body = JSON.stringify({ KeyId: key.keyId, Plaintext: plaintext.toString('base64') });
    const headers = {
      host: `127.0.0.1:${port}`,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'TrentService.Encrypt',
    };

    // One real request first: it checks the wiring and gives the bare server a same-sized body.
    const probe = await fetch(keysafe.url, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${keysafe.admin.token}` },
      body,
    });
    const sample = Buffer.from(await probe.arrayBuffer());
    assert.equal(probe.status, 200, `probe: ${sample.toString()}`);
    bare = await bareServer(sample);
    const barePort = (bare as Server & { port: number }).port;

    const verify = async (v: Variant, r: HttpRunResult) => {
      if (r.errors > 0) throw new Error(`${v.name}: ${r.errors} failed requests, first: ${r.firstError}`);
      if (v.port !== port) return;
      const blob = Buffer.from(JSON.parse(r.sampleBody ?? '{}').CiphertextBlob ?? '', 'base64');
      assert.ok(
        (await keysafe!.kms.decrypt(blob, undefined, undefined, undefined)).plaintext.equals(plaintext),
        'HTTP Encrypt result',
      );
    };

    load = await LoadGenerator.start({ pinCpus: PIN });
    pinned = load.pinned;
    const sigv4: SigV4Signing = {
      accessKeyId: keysafe.admin.accessKeyId,
      secretAccessKey: keysafe.admin.secretAccessKey,
      region: PARTITION.region,
      service: 'kms',
    };
    const baseline: Variant = {
      name: 'bare node:http',
      port: barePort,
      target: { host: '127.0.0.1', port: barePort, headers: { ...headers, host: `127.0.0.1:${barePort}` }, body },
      durationMs: HTTP_MS,
      results: [],
      visited: false,
    };
    const bearer: Variant = {
      name: 'Keysafe, Bearer',
      port,
      target: {
        host: '127.0.0.1',
        port,
        headers: { ...headers, authorization: `Bearer ${keysafe.admin.token}` },
        body,
      },
      durationMs: HTTP_MS,
      results: [],
      visited: false,
    };
    const signed: Variant = {
      name: 'Keysafe, SigV4',
      port,
      target: { host: '127.0.0.1', port, headers, body },
      sigv4,
      durationMs: SIGV4_MS,
      results: [],
      visited: false,
    };
    const schedule = cfg.quick ? [baseline, bearer, signed] : [baseline, bearer, signed, baseline, bearer];
    let sigv4Available = true;
    for (const v of schedule) {
      if (v === signed && !sigv4Available) continue;
      const r = await load.run({
        target: v.target,
        ...(v.sigv4 && { sigv4: v.sigv4 }),
        connections: CONNECTIONS,
        // The SigV4 run follows a Bearer run on the same, already-warm server: half the warm-up.
        warmupMs: v.visited ? HTTP_REWARM_MS : v === signed ? HTTP_WARMUP_MS / 2 : HTTP_WARMUP_MS,
        durationMs: v.durationMs,
      });
      v.visited = true;
      if (v === signed && r.firstError?.startsWith(SIGNER_UNAVAILABLE)) {
        sigv4Available = false;
        notes.push(`SigV4 variant skipped: ${r.firstError}`);
        continue;
      }
      await verify(v, r);
      v.results.push(r);
    }

    const med = (v: Variant, f: (r: HttpRunResult) => number) => median(v.results.map(f));
    const rps = (v: Variant) => reqPerSec(v.results);
    const clientLoad = (v: Variant) => clientBusy(v.results);
    const foreign = foreignCpuNote([baseline, bearer, signed].flatMap((v) => v.results));
    if (foreign) notes.push(foreign);
    const runsOf = (v: Variant) => runList(v.results);
    const bareName = `bare node:http, same load gen (n=${baseline.results.length})`;
    for (const v of [bearer, signed]) {
      if (v.results.length === 0) continue;
      row(
        '3',
        `HTTP Encrypt 32 B, ${v.name}, c=${CONNECTIONS} (n=${v.results.length})`,
        rps(v),
        rps(baseline),
        bareName,
        0.4,
        'req/s',
        {
          subject: runsOf(v),
          baseline: runsOf(baseline),
        },
      );
      rows.push(latencyRow('3', `  · p99 latency, ${v.name}`, v.results, baseline.results, 'bare node:http'));
      rows.push(
        serverCpuRow('3', `  · server CPU per request, ${v.name}`, v.results, baseline.results, 'bare node:http'),
      );
    }
    notes.push(
      `HTTP: ${pinned ? 'server process pinned to cpu0, load generator to cpu1' : 'not pinned (client and server share the CPUs)'}; ` +
        `${CONNECTIONS} keep-alive connections, ${HTTP_WARMUP_MS / 1000} s warm-up then ${HTTP_MS / 1000} s per run (SigV4: ${SIGV4_MS / 1000} s, once); ` +
        `order ${schedule.map((v) => (v === baseline ? 'B' : v === bearer ? 'K' : 'S')).join(' ')} (B bare, K Bearer, S SigV4), median per variant.`,
    );
    notes.push(
      `HTTP load generator busy (CPU ÷ wall): bare ${fmtRatio(clientLoad(baseline))}, Bearer ${fmtRatio(clientLoad(bearer))}` +
        (signed.results.length ? `, SigV4 ${fmtRatio(clientLoad(signed))}` : '') +
        ' — near 100% means the client, not the server, limits that figure.',
    );
    if (signed.results.length > 0) {
      const clientUs = (v: Variant) => med(v, (r) => (r.clientCpuMs * 1000) / r.requests);
      notes.push(
        `SigV4 client cost: the load generator spent ${clientUs(signed).toFixed(1)} µs of CPU per SigV4 request ` +
          `(@smithy/signature-v4, signed per request) vs ${clientUs(bearer).toFixed(1)} µs per Bearer request; client CPU is not server time.`,
      );
    }
  } finally {
    await load?.close();
    await new Promise<void>((ok) => (bare ? bare.close(() => ok()) : ok()));
    await keysafe?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// --- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(environmentBanner());
  console.log(configBanner(cfg));
  const dir = mkdtempSync(join(tmpdir(), 'keysafe-bench-'));
  const meter = foreignCpuMeter();
  try {
    const { store, engine, keyId } = await openEngine(dir);
    const kek = createSecretKey(randomBytes(32));
    try {
      if (enabled('crypto')) await encryptDecrypt(engine, keyId, kek);
      if (enabled('datakey')) await generateDataKey(engine, keyId, kek);
      if (enabled('envelope')) await envelope(engine, keyId);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const inProcessNote = meter.note('the in-process figures');
  if (inProcessNote) notes.unshift(inProcessNote);
  if (enabled('http')) await http();

  printReport(
    rows,
    [
      `encryption context on every Keysafe call and on the envelope AAD: ${JSON.stringify(CONTEXT)}; the raw enc+dec baselines use none.`,
      ...notes,
    ],
    startedAt,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
