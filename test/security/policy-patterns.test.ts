// Issue 14, finding 4 end to end: a secret resource policy's `?` glob against a long request value must not freeze the server.

import { performance } from 'node:perf_hooks';
import { CreateSecretCommand, PutResourcePolicyCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerCall } from '../support/session.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

const LATENCY_BOUND_MS = 1000;

let workload: WorkloadServer;
let token: string;

/** The finding's pattern: five stars then `?b`, which a backtracking RegExp tries in O(n⁵) ways. */
const PATTERN = '*a*a*a*a*a?b';

beforeAll(async () => {
  workload = await startWorkloadServer();
  const { admin } = workload;
  await admin.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'app-db-value' }));
  await admin.send(
    new PutResourcePolicyCommand({
      SecretId: 'app/db',
      ResourcePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
            Condition: { StringLike: { 'secretsmanager:VersionStage': PATTERN } },
          },
        ],
      }),
    }),
  );
  token = await workload.session();
});

afterAll(async () => {
  await workload?.stop();
});

/** GetSecretValue as the workload, with its latency. */
async function getSecretValue(versionStage?: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  const res = await bearerCall(workload.server.url, token, 'secretsmanager.GetSecretValue', {
    SecretId: 'app/db',
    ...(versionStage !== undefined && { VersionStage: versionStage }),
  });
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - t0 };
}

describe('policy patterns against long request values', () => {
  it('answers a GetSecretValue whose VersionStage defeats a backtracking matcher promptly, and holds up no other client', async () => {
    // Warm the path, so that the timings below measure the policy and not a first request.
    expect((await getSecretValue()).status).toBe(200);
    // 130 characters held the event loop for 4 s with the RegExp matcher; no `b`, so every split is tried.
    const attack = getSecretValue('a'.repeat(130));
    const bystander = getSecretValue();
    const [a, b] = await Promise.all([attack, bystander]);
    // The Deny does not match (no `b`): the role's own Allow stands and the stage simply does not exist.
    expect(a.status).toBe(400);
    expect(a.body).toContain('ResourceNotFoundException');
    expect(b.status).toBe(200);
    expect(b.body).toContain('app-db-value');
    // A few ms on a quiet machine; the bound leaves room for a loaded runner and is still far below
    // the seconds a backtracking matcher takes.
    expect(a.ms).toBeLessThan(LATENCY_BOUND_MS);
    expect(b.ms).toBeLessThan(LATENCY_BOUND_MS);
  });

  it('still applies the Deny when the long value matches, and at the length limit of the stage', async () => {
    const matching = await getSecretValue(`${'a'.repeat(200)}xb`);
    expect(matching.status).toBe(400);
    expect(matching.body).toContain('AccessDeniedException');
    expect(matching.body).not.toContain('app-db-value');
    const longest = await getSecretValue('a'.repeat(256));
    expect(longest.body).toContain('ResourceNotFoundException');
    expect(longest.ms).toBeLessThan(LATENCY_BOUND_MS);
  });
});
