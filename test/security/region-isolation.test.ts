// Regions a caller names cannot cost others: a refused caller builds no region (the region cap is for
// authorized callers only), the scheduler reaches every region holding data however many, and
// ListRetirableGrants shows only the request's region's grants.
import {
  CreateGrantCommand,
  CreateKeyCommand,
  type KMSClient,
  ListGrantsCommand,
  ListKeysCommand,
  ListRetirableGrantsCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REGIONS } from '../../src/server/regions.js';
import { assumeRole, failure, kmsClient, roleArn } from '../support/sdk.js';
import { startTestServer } from '../support/server.js';
import { policyOf, startWorkloadServer, type WorkloadServer } from '../support/workload.js';

let ws: WorkloadServer;
const role = (name: string, statements: object[]) => ({
  name,
  subjects: [`system:serviceaccount:t:${name}`],
  policy: policyOf(statements),
});
beforeAll(async () => {
  ws = await startWorkloadServer({
    roles: [
      role('viewer', [{ Effect: 'Allow', Action: ['kms:ListGrants', 'kms:ListRetirableGrants'], Resource: '*' }]),
      role('nobody', [
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:*:*:secret:x/*' },
      ]),
    ],
  });
}, 60_000);
afterAll(async () => ws?.stop());

/** A KMS client signing as `name` in `region` (SigV4 scope). */
const as = async (name: string, region?: string): Promise<KMSClient> => {
  const jwt = await ws.issuer.kubernetesToken({ namespace: 't', serviceAccount: name });
  const { credentials } = await assumeRole(ws.server.url, name, `${name}-s`, jwt);
  return kmsClient(ws.server, { credentials, ...(region && { region }) });
};
const madeUp = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String.fromCharCode(97 + (i % 26))}${'q'.repeat(i / 26)}-1`);

describe('the region cap', () => {
  it('is not filled by a caller refused in made-up regions, by SigV4 scope or on /v1/watch', async () => {
    const jwt = await ws.issuer.kubernetesToken({ namespace: 't', serviceAccount: 'nobody' });
    const { credentials } = await assumeRole(ws.server.url, 'nobody', 'nobody-s', jwt);
    for (const region of madeUp('zz', MAX_REGIONS + 2)) {
      const c = kmsClient(ws.server, { credentials, region });
      expect((await failure(c.send(new ListKeysCommand({})))).name).toBe('AccessDeniedException');
      c.destroy();
    }
    const session = await ws.session('nobody', { namespace: 't', serviceAccount: 'nobody' });
    for (const region of madeUp('zw', MAX_REGIONS + 2)) {
      const res = await fetch(`${ws.server.url}/v1/watch`, {
        headers: { authorization: `Bearer ${session}`, 'x-keysafe-region': region },
      });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({
        __type: 'ResourceNotFoundException',
        message: `The region '${region}' holds no secrets here; watch a region listed in regions: or holding secrets.`,
      });
    }
    // The operator is served in a region never used before.
    const admin = kmsClient(ws.server, { region: 'ap-south-1' });
    expect((await admin.send(new ListKeysCommand({}))).Keys).toEqual([]);
    await admin.send(new CreateKeyCommand({}));
  });

  it('bounds regions an authorized caller names without data; those holding data are never refused', async () => {
    const s = await startTestServer();
    try {
      const call = (region: string, target: string) =>
        fetch(`${s.url}/`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': `TrentService.${target}`,
            authorization: `Bearer ${s.admin.token}`,
            'x-keysafe-region': region,
          },
          body: '{}',
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { Keys?: unknown[] } }));
      // Keys in more regions than the cap: each region then holds data.
      for (const region of madeUp('aa', MAX_REGIONS + 6)) expect((await call(region, 'CreateKey')).status).toBe(200);
      for (const region of madeUp('ab', MAX_REGIONS)) expect((await call(region, 'ListKeys')).status).toBe(200);
      expect(await call('ac-east-1', 'ListKeys')).toMatchObject({
        status: 400,
        body: { __type: 'LimitExceededException' },
      });
      expect((await call('aa-b-1', 'ListKeys')).body.Keys).toHaveLength(1);
    } finally {
      await s.stop();
    }
  });

  it('does not bind the scheduler: after a restart it runs in every region holding data', async () => {
    const first = await startTestServer();
    const create = (region: string) =>
      fetch(`${first.url}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'TrentService.CreateKey',
          authorization: `Bearer ${first.admin.token}`,
          'x-keysafe-region': region,
        },
        body: '{}',
      });
    for (const region of madeUp('ad', MAX_REGIONS + 2)) expect((await create(region)).status).toBe(200);
    await first.close();
    const again = await startTestServer({ dataDir: first.dataDir });
    try {
      await expect(again.runScheduler()).resolves.toMatchObject({ rotated: 0 });
      expect(again.logs.filter((l) => l.includes('scheduler failed'))).toEqual([]);
    } finally {
      await again.stop();
    }
  });
});

describe('ListRetirableGrants across regions', () => {
  it("lists the request's region's grants only; another region's key ARN is refused, not decided on the role policy", async () => {
    const admin = kmsClient(ws.server);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: roleArn('viewer') }, Action: 'kms:ListGrants', Resource: '*' },
      ],
    });
    const key = (await admin.send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata!.Arn!;
    const RetiringPrincipal = 'arn:aws:iam::000000000000:role/retirer';
    await admin.send(
      new CreateGrantCommand({
        KeyId: key,
        GranteePrincipal: roleArn('nobody'),
        RetiringPrincipal,
        Operations: ['Decrypt'],
      }),
    );
    const home = await as('viewer');
    expect((await failure(home.send(new ListGrantsCommand({ KeyId: key })))).name).toBe('AccessDeniedException');
    expect((await home.send(new ListRetirableGrantsCommand({ RetiringPrincipal }))).Grants).toEqual([]);
    const away = await as('viewer', 'eu-west-1');
    expect((await away.send(new ListRetirableGrantsCommand({ RetiringPrincipal }))).Grants).toEqual([]);
    expect(await failure(away.send(new ListGrantsCommand({ KeyId: key })))).toMatchObject({
      name: 'AccessDeniedException',
    });
    // The admin (no policy applies) still learns the ARN is of another region; and sees the grant at home only.
    expect((await admin.send(new ListRetirableGrantsCommand({ RetiringPrincipal }))).Grants).toHaveLength(1);
    const adminAway = kmsClient(ws.server, { region: 'eu-west-1' });
    expect((await adminAway.send(new ListRetirableGrantsCommand({ RetiringPrincipal }))).Grants).toEqual([]);
  });
});
