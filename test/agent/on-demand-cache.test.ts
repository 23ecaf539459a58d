// The agent keeps secrets a local caller asks for beyond the configured ones, but a bounded number.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ON_DEMAND_MAX, type RunningAgent, startAgent } from '../../src/agent/agent.js';
import { parseAgentConfig } from '../../src/agent/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { tempDir } from '../support/server.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

let ws: WorkloadServer;
let agent: RunningAgent;

beforeAll(async () => {
  ws = await startWorkloadServer();
  await ws.admin.send(new CreateSecretCommand({ Name: 'app/configured', SecretString: 'c' }));
  for (let i = 0; i <= ON_DEMAND_MAX; i += 50) {
    const batch = Array.from({ length: 50 }, (_, j) => i + j).filter((n) => n <= ON_DEMAND_MAX);
    await Promise.all(
      batch.map((n) => ws.admin.send(new CreateSecretCommand({ Name: `app/asked-${n}`, SecretString: `v${n}` }))),
    );
  }
  const dir = tempDir();
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, await ws.issuer.kubernetesToken());
  const config = parseAgentConfig({
    server: ws.server.url,
    auth: { role: 'web', tokenFile },
    secrets: [{ id: 'app/configured' }],
  });
  agent = await startAgent(config, { logger: createLogger('error', () => {}) });
  await agent.firstSync;
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await ws?.stop();
});

it(`keeps at most ${ON_DEMAND_MAX} secrets asked for on demand, the least recently asked going first, and always the configured ones`, async () => {
  // In order: 0, 1, 2, then the rest (ON_DEMAND_MAX + 1 in all, so exactly one is dropped).
  for (const i of [0, 1, 2]) await agent.get(`app/asked-${i}`);
  for (let i = 3; i <= ON_DEMAND_MAX; i += 50) {
    const batch = Array.from({ length: 50 }, (_, j) => i + j).filter((n) => n <= ON_DEMAND_MAX);
    await Promise.all(batch.map((n) => agent.get(`app/asked-${n}`)));
  }
  expect(agent.peek('app/asked-0')).toBeUndefined();
  expect(agent.peek('app/asked-1')?.body.SecretString).toBe('v1');
  expect(agent.peek(`app/asked-${ON_DEMAND_MAX}`)?.body.SecretString).toBe(`v${ON_DEMAND_MAX}`);
  expect(agent.peek('app/configured')?.body.SecretString).toBe('c');
  // Asking again keeps it longer: app/asked-1 is now the newest, app/asked-2 the oldest.
  await agent.get('app/asked-1');
  await agent.get('app/asked-0');
  expect(agent.peek('app/asked-1')).toBeDefined();
  expect(agent.peek('app/asked-2')).toBeUndefined();
}, 120_000);
