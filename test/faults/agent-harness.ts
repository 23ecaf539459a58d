// A real `keysafe agent` process against a real server, with a reader process on its files and a reader
// loop on its endpoint, for the agent fault tests. As root the agent runs as `nobody`, as it would in a
// pod: a root process would ignore the permission faults (chmod) these tests inject.
import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { expect } from 'vitest';
import { spawnAgent } from '../support/agent.js';
import { tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';
import { FaultProxy } from './fault-proxy.js';

const READER = fileURLToPath(new URL('./file-reader.mjs', import.meta.url));
const PAD = 'x'.repeat(3000);
const NOBODY = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** The secret's value at version n: a partial read of either rendered file cannot pass for a whole one. */
export const secretValue = (n: number) => JSON.stringify({ v: n, pad: PAD });

export interface ReaderSummary {
  iterations: number;
  versions: number[];
  violations: string[];
  violationCount: number;
  missing: number;
  last: number;
}

export interface EndpointSummary {
  reads: number;
  versions: number[];
  violations: string[];
}

export interface AgentUnderTest {
  workload: WorkloadServer;
  dir: string;
  secretsDir: string;
  tokenFile: string;
  endpoint: string;
  log(): string;
  /** False once the agent process exited: no fault may crash it. */
  alive(): boolean;
  /** Sets the secret to version n (PutSecretValue). */
  put(n: number): Promise<void>;
  /** The version in the agent's files now (-1 when absent). */
  fileVersion(): number;
  /** Resolves once files and endpoint both show version n. */
  converged(n: number, ms: number): Promise<void>;
  /** Starts a file reader and an endpoint reader (resolves once both read); `stop` ends them with what they saw. */
  readers(): Promise<{ stop(): Promise<{ files: ReaderSummary; endpoint: EndpointSummary }> }>;
  stop(): Promise<void>;
}

/**
 * Starts a server (trusting a local OIDC issuer), secret app/db at version 0, and the agent writing it to
 * `<dir>/secrets/db.json` (raw) and `db.url` (template), its endpoint on loopback. `serverUrl` lets a
 * test put a proxy between agent and server.
 */
export async function startAgentUnderTest(
  options: { serverUrl?: (server: string) => Promise<string>; agent?: object; server?: object } = {},
): Promise<AgentUnderTest> {
  const workload = await startWorkloadServer({ config: options.server });
  await workload.admin.send(new CreateSecretCommand({ Name: 'app/db', SecretString: secretValue(0) }));
  const dir = tempDir('keysafe-agent-fault-');
  chownSync(dir, NOBODY.uid ?? process.getuid!(), NOBODY.gid ?? process.getgid!());
  const secretsDir = join(dir, 'secrets');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, await workload.issuer.kubernetesToken());
  const agent = await spawnAgent({
    dir,
    server: options.serverUrl ? await options.serverUrl(workload.server.url) : workload.server.url,
    secrets: [
      { id: 'app/db', path: join(secretsDir, 'db.json') },
      { id: 'app/db', path: join(secretsDir, 'db.url'), format: 'template', template: 'v{{v}}:{{pad}}:end' },
    ],
    settings: options.agent,
    spawn: { ...NOBODY, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
  });
  const readerProcesses = new Set<ChildProcess>();
  const { endpoint } = agent;
  const fileVersion = () => {
    try {
      return (JSON.parse(readFileSync(join(secretsDir, 'db.json'), 'utf8')) as { v: number }).v;
    } catch {
      return -1;
    }
  };
  await until(
    () => fileVersion() === 0 && existsSync(join(secretsDir, 'db.url')) && existsSync(join(dir, 'local-token')),
    10_000,
    `the agent's first sync (log: ${agent.output()})`,
  );
  const localToken = agent.localToken();
  const endpointVersion = () => endpointVersionAt(endpoint, localToken);

  return {
    workload,
    dir,
    secretsDir,
    tokenFile,
    endpoint,
    log: agent.output,
    alive: () => agent.child.exitCode === null && agent.child.signalCode === null,
    async put(n) {
      await workload.admin.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: secretValue(n) }));
    },
    fileVersion,
    async converged(n, ms) {
      await until(
        async () => fileVersion() === n && (await endpointVersion()) === n,
        ms,
        `files and endpoint at v${n} (files at v${fileVersion()})`,
      );
    },
    readers: () => startConsumers(secretsDir, endpointVersion, readerProcesses),
    async stop() {
      for (const reader of readerProcesses) reader.kill('SIGKILL'); // left by a failed test
      agent.child.kill('SIGTERM');
      await agent.exited;
      await workload.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type ProxiedAgent = AgentUnderTest & { proxy: FaultProxy };

/** The same, with a fault proxy between agent and server; `stop` stops the proxy too. */
export async function startProxiedAgent(options: { agent?: object; server?: object } = {}): Promise<ProxiedAgent> {
  let proxy: FaultProxy | undefined;
  const agent = await startAgentUnderTest({
    ...options,
    serverUrl: (url) => {
      const { hostname, port } = new URL(url);
      proxy = new FaultProxy({ host: hostname, port: Number(port) });
      return proxy.start();
    },
  });
  const started = proxy!;
  return {
    ...agent,
    proxy: started,
    async stop() {
      await agent.stop();
      await started.stop();
    },
  };
}

/** A run of the padding every value of the secret carries: no log line may contain it. */
export const VALUE_MARK = PAD.slice(0, 64);

/** What every agent fault test asserts of its readers: whole values only, the endpoint never failing. */
export function expectOnlyWholeValues(
  seen: { files: ReaderSummary; endpoint: EndpointSummary },
  missingAllowed = false,
) {
  expect(seen.files.violations).toEqual([]);
  expect(seen.files.iterations).toBeGreaterThan(10);
  if (!missingAllowed) expect(seen.files.missing).toBe(0);
  expect(seen.endpoint.violations).toEqual([]);
  expect(seen.endpoint.reads).toBeGreaterThan(5);
}

/** The version the agent endpoint serves, or what is wrong with its answer. */
export async function endpointVersionAt(endpoint: string, localToken: string): Promise<number | string> {
  const res = await fetch(`${endpoint}/v1/secrets/app/db`, {
    headers: { 'X-Aws-Parameters-Secrets-Token': localToken },
  });
  const text = await res.text();
  if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 200)}`;
  const value = (JSON.parse(text) as { SecretString?: string }).SecretString ?? '';
  const v = (JSON.parse(value) as { v?: unknown }).v;
  return typeof v === 'number' && value === secretValue(v) ? v : `not a whole value: ${value.length} bytes`;
}

/**
 * A reader process on the files of `secretsDir` and a reader loop on the endpoint, both reading without
 * pause until stopped (resolves once both have read once). `stop` returns what they saw.
 */
export async function startConsumers(
  secretsDir: string,
  endpointVersion: () => Promise<number | string>,
  processes = new Set<ChildProcess>(),
): Promise<{ stop(): Promise<{ files: ReaderSummary; endpoint: EndpointSummary }> }> {
  const stopFile = join(dirname(secretsDir), `stop-${Date.now()}`);
  const reader = spawn(process.execPath, [READER, secretsDir, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  processes.add(reader);
  let out = '';
  reader.stdout!.on('data', (d) => {
    out += d;
  });
  const done = new Promise<void>((ok) => reader.on('exit', () => ok()));
  await until(() => out.startsWith('ready\n'), 5000, 'the file reader reads');
  const seen = { reads: 0, versions: new Set<number>(), violations: [] as string[] };
  let running = true;
  const loop = (async () => {
    while (running) {
      let v: number | string;
      try {
        v = await endpointVersion();
      } catch (e) {
        v = `request failed: ${(e as Error).message}`;
      }
      seen.reads++;
      if (typeof v === 'number') seen.versions.add(v);
      else if (seen.violations.length < 10) seen.violations.push(v);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  while (seen.reads === 0) await new Promise((r) => setTimeout(r, 5));
  return {
    async stop() {
      running = false;
      await loop;
      writeFileSync(stopFile, '');
      await done;
      processes.delete(reader);
      const files = JSON.parse(out.slice('ready\n'.length)) as ReaderSummary;
      return {
        files,
        endpoint: {
          reads: seen.reads,
          versions: [...seen.versions].sort((a, b) => a - b),
          violations: seen.violations,
        },
      };
    },
  };
}
