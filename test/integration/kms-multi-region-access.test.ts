// Multi-Region key permissions decided where AWS decides them, through the real server with STS role
// credentials in two regions: UpdatePrimaryRegion needs kms:UpdatePrimaryRegion on the replica too (its
// own key policy, in its region), ReplicateKey kms:CreateKey in the replica Region (aws:RequestedRegion).
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  type KMSClient,
  ReplicateKeyCommand,
  UpdatePrimaryRegionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, assumeRole, failure, roleArn, sdkClients } from '../support/sdk.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

const US = 'us-east-1';
const EU = 'eu-west-1';
const OPS_SA = 'system:serviceaccount:ops:ops';

// Everything on KMS, except creating keys in EU (as a region-scoped IAM policy says it).
const OPS_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
    {
      Effect: 'Deny',
      Action: 'kms:CreateKey',
      Resource: '*',
      Condition: { StringEquals: { 'aws:RequestedRegion': EU } },
    },
  ],
};

let ws: WorkloadServer;
let admin: KMSClient;
let ops: KMSClient;

beforeAll(async () => {
  ws = await startWorkloadServer({
    config: { region: US, regions: [US, EU] },
    roles: [{ name: 'ops', subjects: [OPS_SA], policy: OPS_POLICY }],
  });
  admin = sdkClients(ws.server, { region: US }).kms;
  const jwt = await ws.issuer.kubernetesToken({ namespace: 'ops', serviceAccount: 'ops' });
  const { credentials } = await assumeRole(ws.server.url, 'ops', 'ops-session', jwt);
  ops = sdkClients(ws.server, { region: US, credentials }).kms;
});
afterAll(async () => {
  admin.destroy();
  ops.destroy();
  await ws.stop();
});

const arnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;

/** A key policy: the account's IAM policies decide, except `denied` to the ops role. */
const keyPolicy = (denied?: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
      ...(denied ? [{ Effect: 'Deny', Principal: { AWS: roleArn('ops') }, Action: denied, Resource: '*' }] : []),
    ],
  });

async function primaryWithReplica(replicaPolicy: string): Promise<string> {
  const keyId = (await admin.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.KeyId!;
  await admin.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: EU, Policy: replicaPolicy }));
  return keyId;
}

describe('multi-Region key permissions', () => {
  it('UpdatePrimaryRegion needs kms:UpdatePrimaryRegion on the replica, by its own key policy', async () => {
    const refused = await primaryWithReplica(keyPolicy('kms:UpdatePrimaryRegion'));
    for (const KeyId of [refused, arnIn(US, refused)]) {
      const denied = await failure(ops.send(new UpdatePrimaryRegionCommand({ KeyId, PrimaryRegion: EU })));
      expect(denied.name).toBe('AccessDeniedException');
      expect(denied.message).toContain(`perform: kms:UpdatePrimaryRegion on resource: ${arnIn(EU, refused)} `);
    }
    const unchanged = (await admin.send(new DescribeKeyCommand({ KeyId: refused }))).KeyMetadata!;
    expect(unchanged.MultiRegionConfiguration?.PrimaryKey?.Region).toBe(US);

    const allowed = await primaryWithReplica(keyPolicy());
    await ops.send(new UpdatePrimaryRegionCommand({ KeyId: allowed, PrimaryRegion: EU }));
    const moved = (await admin.send(new DescribeKeyCommand({ KeyId: allowed }))).KeyMetadata!;
    expect(moved.MultiRegionConfiguration?.PrimaryKey?.Region).toBe(EU);
  });

  it('ReplicateKey needs kms:CreateKey in the replica Region', async () => {
    // Creating in US is allowed: the deny names EU only.
    const keyId = (await ops.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.KeyId!;
    const denied = await failure(ops.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: EU })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain('perform: kms:CreateKey on resource: * with an explicit deny');
    const view = (await admin.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(view.MultiRegionConfiguration?.ReplicaKeys).toEqual([]);
  });
});
