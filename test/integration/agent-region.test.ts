// A real agent beside a replica: `region: eu-west-1` reads and watches that region's secrets, so a value put on
// the primary in us-east-1 reaches its files once the replica commits; without `region:` it reads the default region.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, runAgentOnce, spawnAgent, writeAgentConfig } from '../support/agent.js';
import { secretsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

const US = 'us-east-1';
const EU = 'eu-west-1';

let workload: WorkloadServer;
let eu: SecretsManagerClient;
let dir: string;
let agent: AgentProcess;

const file = (name: string) => join(dir, 'secrets', name);
const read = (name: string) => (existsSync(file(name)) ? readFileSync(file(name), 'utf8') : undefined);

beforeAll(async () => {
  workload = await startWorkloadServer({ config: { region: US, regions: [US, EU] } });
  eu = secretsClient(workload.server, { region: EU });
  const made = await workload.admin.send(
    new CreateSecretCommand({ Name: 'app/replicated', SecretString: 'v1', AddReplicaRegions: [{ Region: EU }] }),
  );
  expect(made.ReplicationStatus).toEqual([expect.objectContaining({ Region: EU, Status: 'InSync' })]);
  // Only in eu-west-1: an agent reading the default region would not find it.
  await eu.send(new CreateSecretCommand({ Name: 'app/eu-only', SecretString: 'eu' }));

  dir = tempDir('keysafe-agent-region-');
  writeFileSync(join(dir, 'token'), await workload.issuer.kubernetesToken());
  agent = await spawnAgent({
    dir,
    server: workload.server.url,
    endpoint: false,
    secrets: [
      { id: 'app/replicated', path: file('replicated') },
      { id: 'app/eu-only', path: file('eu-only') },
    ],
    settings: { region: EU },
  });
  await until(() => read('replicated') !== undefined && read('eu-only') !== undefined, 10_000, 'the first files');
});

afterAll(async () => {
  agent?.child.kill('SIGTERM');
  eu?.destroy();
  await workload?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent region:', () => {
  it("reads the replica region's secrets", () => {
    expect(read('replicated')).toBe('v1');
    expect(read('eu-only')).toBe('eu');
  });

  it("sees a value put on the primary in us-east-1 once the replica commits (eu-west-1's change feed)", async () => {
    await workload.admin.send(new PutSecretValueCommand({ SecretId: 'app/replicated', SecretString: 'v2' }));
    // The safety-net poll is minutes away (pollIntervalSeconds 300): only the watch stream can bring this.
    await until(() => read('replicated') === 'v2', 5000, 'the replica’s new value in the agent’s file');
    expect(read('eu-only')).toBe('eu');
  });

  it('without region: reads the server’s default region, where the eu-only secret is not', async () => {
    const { configFile } = await writeAgentConfig({
      dir,
      file: 'default-region.json',
      server: workload.server.url,
      endpoint: false,
      secrets: [{ id: 'app/eu-only', path: file('default-eu-only') }],
    });
    const once = await runAgentOnce(configFile);
    expect(once.code).not.toBe(0);
    expect(once.out).toContain('ResourceNotFoundException');
    expect(existsSync(file('default-eu-only'))).toBe(false);
  });
});
