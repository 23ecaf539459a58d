// The injected pod simulated locally: the agent config the mutation generated, run by a real `keysafe agent`
// process against a real server, logging in with a token signed by a local issuer standing in for the cluster.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import jsonpatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_PORT, CONFIG_ENV, review, SECRETS_DIR, TOKEN_DIR } from '../../src/injector/index.js';
import { CLI, freePort, spawnCaptured } from '../support/process.js';
import { tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

// biome-ignore lint/suspicious/noExplicitAny: test data walked freely
type Json = any;

let workload: WorkloadServer;
let dir: string;
const children: ChildProcess[] = [];

/** The pod the API server would run: the review's pod with the injector's patch applied. */
function injectedPod(annotations: Record<string, string>): Json {
  const ar = JSON.parse(readFileSync(new URL('./fixtures/admission-review-job.json', import.meta.url), 'utf8'));
  ar.request.object.metadata.annotations = annotations;
  const response = review(ar).response;
  const patch = JSON.parse(Buffer.from(response.patch!, 'base64').toString());
  return jsonpatch.applyPatch(ar.request.object, patch).newDocument;
}

/** The agent container's env and probe with the pod's paths and port mapped into a temp dir on this host. */
function simulate(pod: Json, name: string, port: number) {
  const agent = pod.spec.initContainers.find((c: Json) => c.name === 'keysafe-agent');
  const root = join(dir, name);
  mkdirSync(join(root, 'secrets'), { recursive: true });
  mkdirSync(join(root, 'token'), { recursive: true });
  const remap = (s: string) =>
    s // the token dir first: it contains the string of the secrets dir (/var/run/secrets/keysafe.dev/…)
      .replaceAll(TOKEN_DIR, join(root, 'token'))
      .replaceAll(SECRETS_DIR, join(root, 'secrets'))
      .replaceAll(`127.0.0.1:${AGENT_PORT}`, `127.0.0.1:${port}`);
  const config = JSON.parse(remap(agent.env.find((e: Json) => e.name === CONFIG_ENV).value));
  config.server = workload.server.url; // the cluster Service name, as this host reaches the server
  return {
    root,
    args: agent.args as string[],
    env: { ...process.env, [CONFIG_ENV]: JSON.stringify(config) },
    probe: agent.startupProbe ? (agent.startupProbe.exec.command as string[]).map(remap) : undefined,
  };
}

beforeAll(async () => {
  workload = await startWorkloadServer();
  await workload.admin.send(
    new CreateSecretCommand({ Name: 'app/db', SecretString: '{"username":"app","password":"s3cret-v1"}' }),
  );
  dir = tempDir('keysafe-pod-');
});

afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  await workload?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an injected pod, simulated locally', () => {
  it('sidecar: the agent writes the files under the volume, its startup probe passes, the endpoint answers', async () => {
    const pod = injectedPod({
      'keysafe.dev/inject': 'true',
      'keysafe.dev/role': 'web',
      'keysafe.dev/secret-db.json': 'app/db',
      'keysafe.dev/format-db.json': 'json',
      'keysafe.dev/secret-db-url': 'app/db',
      'keysafe.dev/template-db-url': 'postgres://{{username}}:{{password}}@db/app',
    });
    const port = await freePort();
    const sim = simulate(pod, 'sidecar', port);
    writeFileSync(join(sim.root, 'token', 'token'), await workload.issuer.kubernetesToken());
    const probe = () => spawnSync(sim.probe![0]!, sim.probe!.slice(1), { encoding: 'utf8' }).status;
    expect(sim.probe![0]).toBe('node');
    expect(probe()).not.toBe(0); // nothing listens yet: the kubelet would hold the app containers back

    const running = spawnCaptured(process.execPath, [CLI, ...sim.args], { env: sim.env });
    const agent = running.child;
    children.push(agent);
    const log = running.output;
    // Both names, not one: on the very first write each visible link appears on its own (contents
    // switch together from then on); the kubelet waits for the startup probe, checked below.
    await until(
      () =>
        (existsSync(join(sim.root, 'secrets', 'db-url')) && existsSync(join(sim.root, 'secrets', 'db.json'))) ||
        agent.exitCode !== null,
      10_000,
    );
    expect(agent.exitCode, log()).toBeNull();
    expect(readFileSync(join(sim.root, 'secrets', 'db-url'), 'utf8')).toBe('postgres://app:s3cret-v1@db/app');
    expect(JSON.parse(readFileSync(join(sim.root, 'secrets', 'db.json'), 'utf8'))).toEqual({
      username: 'app',
      password: 's3cret-v1',
    });

    const started = Date.now();
    while (probe() !== 0) {
      expect(Date.now() - started, log()).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 50));
    }

    const localToken = readFileSync(join(sim.root, 'secrets', '.local-token'), 'utf8').trim();
    const res = await fetch(`http://127.0.0.1:${port}/secretsmanager/get?secretId=app/db`, {
      headers: { 'X-Aws-Parameters-Secrets-Token': localToken },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { SecretString: string }).SecretString).toBe(
      '{"username":"app","password":"s3cret-v1"}',
    );
    expect(log()).not.toContain('s3cret-v1');
  });

  it('init-only: `agent --once` writes the files and exits 0, as an init container must', async () => {
    const pod = injectedPod({
      'keysafe.dev/inject': 'true',
      'keysafe.dev/role': 'web',
      'keysafe.dev/mode': 'init-only',
      'keysafe.dev/secret-db': 'app/db',
      'keysafe.dev/format-db': 'env',
    });
    const sim = simulate(pod, 'init', await freePort());
    expect(sim.args).toEqual(['agent', '--once']);
    writeFileSync(join(sim.root, 'token', 'token'), await workload.issuer.kubernetesToken());
    const once = spawnCaptured(process.execPath, [CLI, ...sim.args], { env: sim.env });
    const run = { code: await once.exited, out: once.output() };
    expect(run.code, run.out).toBe(0);
    expect(readFileSync(join(sim.root, 'secrets', 'db'), 'utf8')).toBe("password='s3cret-v1'\nusername='app'\n");
  });
});
