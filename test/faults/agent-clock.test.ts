// Fault: the clock jumps forward past the expiry of both the agent's session and the workload's token
// (a VM resumed from suspend). Server and agent run in process on one ManualClock so the jump is real
// for both. Expected: the agent's re-login with the expired token is refused and logged clearly, the
// last value stays served whole, and the agent logs in with the token kubelet writes next (it reads
// the token file again) and catches up on the change it missed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig, type RunningAgent, startAgent } from '../../src/agent/index.js';
import { serveEndpoint } from '../../src/cli/agent.js';
import { ManualClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/observability/logger.js';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import { freePort } from '../support/process.js';
import type { TestServer } from '../support/server.js';
import { bearerCall } from '../support/session.js';
import { sleep, until } from '../support/wait.js';
import { startWorkloadServer } from '../support/workload.js';
import { endpointVersionAt, expectOnlyWholeValues, secretValue, startConsumers, VALUE_MARK } from './agent-harness.js';

const TOKEN_LIFETIME_S = 120;
const clock = new ManualClock(Date.now());
let issuer: OidcIssuer;
let server: TestServer;
let agent: RunningAgent;
let endpoint: { url: string; close(): Promise<void> };
const logs: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'keysafe-clock-'));
const secretsDir = join(dir, 'secrets');
const tokenFile = join(dir, 'token');
const log = () => logs.join('');

/** A Secrets Manager call with the admin's bearer token: SigV4 would be refused as skewed after the jump. */
async function secretsCall(operation: string, input: object): Promise<void> {
  const res = await bearerCall(server.url, server.admin.token, `secretsmanager.${operation}`, input);
  expect(res.status, await res.text()).toBe(200);
}

const writeToken = async () =>
  writeFileSync(
    tokenFile,
    await issuer.kubernetesToken({ issuedAt: Math.floor(clock.now() / 1000), lifetime: TOKEN_LIFETIME_S }),
  );

beforeAll(async () => {
  ({ issuer, server } = await startWorkloadServer({ clock }));
  await secretsCall('CreateSecret', { Name: 'app/db', SecretString: secretValue(0) });
  await writeToken();
  const config = parseAgentConfig({
    server: server.url,
    auth: { role: 'web', tokenFile },
    listen: `127.0.0.1:${await freePort()}`,
    localTokenFile: join(dir, 'local-token'),
    secrets: [
      { id: 'app/db', path: join(secretsDir, 'db.json') },
      { id: 'app/db', path: join(secretsDir, 'db.url'), format: 'template', template: 'v{{v}}:{{pad}}:end' },
    ],
  });
  const logger = createLogger('debug', (line) => logs.push(line));
  agent = await startAgent(config, { logger, now: () => clock.now() });
  endpoint = await serveEndpoint(config, agent, logger);
  await agent.firstSync;
});

afterAll(async () => {
  await endpoint?.close();
  await agent?.stop();
  await server?.stop();
  await issuer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent clock jump', () => {
  it('is refused with the expired token after the jump, keeps serving, and logs in with the next token kubelet writes', async () => {
    const localToken = readFileSync(join(dir, 'local-token'), 'utf8').trim();
    const consumers = await startConsumers(secretsDir, () => endpointVersionAt(endpoint.url, localToken));
    const fileVersion = () => (JSON.parse(readFileSync(join(secretsDir, 'db.json'), 'utf8')) as { v: number }).v;

    // 20 minutes pass at once: the 15-minute session and the 2-minute token have both expired.
    clock.advance(20 * 60_000);
    await secretsCall('PutSecretValue', { SecretId: 'app/db', SecretString: secretValue(1) });
    // The server ends the watch of an expired session; the agent must log in again and cannot yet.
    await until(
      () => /"msg":"login failed; retrying"[^\n]*The web identity token is expired/.test(log()),
      5000,
      'the refused login is logged',
    );
    await sleep(500);
    expect(fileVersion()).toBe(0);
    expect(await endpointVersionAt(endpoint.url, localToken)).toBe(0);
    expect(agent.status().lastError).toMatch(/expired/);

    // kubelet writes a fresh token (its clock jumped too): read from the file, it logs the agent in.
    const logins = log().split('"msg":"logged in"').length;
    await writeToken();
    await until(() => log().split('"msg":"logged in"').length > logins, 5000, 'a login with the new token');
    await until(
      async () => fileVersion() === 1 && (await endpointVersionAt(endpoint.url, localToken)) === 1,
      5000,
      'files and endpoint at v1',
    );

    const seen = await consumers.stop();
    expectOnlyWholeValues(seen);
    expect(seen.files.versions).toEqual([0, 1]);
    expect(seen.endpoint.versions).toEqual([0, 1]);
    expect(log()).not.toContain('eyJ'); // no token in any log line
    expect(log()).not.toContain(VALUE_MARK); // nor a value
  });
});
