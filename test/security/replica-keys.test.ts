// A replica's customer-managed key is checked in the replica's region, by that key's policy, before
// anything is written: a role may not have a secret sealed under another region's key it may not use
// (through the real server with STS role credentials, two regions).
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  ReplicateSecretToRegionsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, assumeRole, failure, roleArn, sdkClients } from '../support/sdk.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

const US = 'us-east-1';
const EU = 'eu-west-1';

let ws: WorkloadServer;
let euAdmin: KMSClient;
let usAdminSecrets: SecretsManagerClient;
let ops: SecretsManagerClient;
let euOps: SecretsManagerClient;

beforeAll(async () => {
  ws = await startWorkloadServer({
    config: { region: US, regions: [US, EU] },
    roles: [
      {
        name: 'ops',
        subjects: ['system:serviceaccount:ops:ops'],
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    ],
  });
  euAdmin = sdkClients(ws.server, { region: EU }).kms;
  usAdminSecrets = sdkClients(ws.server, { region: US }).secrets;
  const jwt = await ws.issuer.kubernetesToken({ namespace: 'ops', serviceAccount: 'ops' });
  const { credentials } = await assumeRole(ws.server.url, 'ops', 'ops-session', jwt);
  ops = sdkClients(ws.server, { region: US, credentials }).secrets;
  euOps = sdkClients(ws.server, { region: EU, credentials }).secrets;
});
afterAll(async () => {
  for (const c of [euAdmin, usAdminSecrets, ops, euOps]) c.destroy();
  await ws.stop();
});

/** A key in EU whose policy lets the account decide, except kms:GenerateDataKey refused to the ops role. */
async function euKeyRefusingOps(): Promise<string> {
  const Policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: { AWS: roleArn('ops') }, Action: 'kms:GenerateDataKey', Resource: '*' },
    ],
  });
  return (await euAdmin.send(new CreateKeyCommand({ Policy }))).KeyMetadata!.Arn!;
}

describe("a replica's customer-managed key", () => {
  it('CreateSecret with AddReplicaRegions is refused on a replica key the caller may not use, creating nothing', async () => {
    const key = await euKeyRefusingOps();
    const denied = await failure(
      ops.send(
        new CreateSecretCommand({
          Name: 'replica-keys/create',
          SecretString: 'v1',
          AddReplicaRegions: [{ Region: EU, KmsKeyId: key }],
        }),
      ),
    );
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`kms:GenerateDataKey on resource: ${key}`);
    for (const c of [ops, euOps]) {
      const missing = await failure(c.send(new DescribeSecretCommand({ SecretId: 'replica-keys/create' })));
      expect(missing.name).toBe('ResourceNotFoundException');
    }
  });

  it('ReplicateSecretToRegions is refused on it too; an allowed key replicates', async () => {
    const made = await ops.send(new CreateSecretCommand({ Name: 'replica-keys/replicate', SecretString: 'v1' }));
    const key = await euKeyRefusingOps();
    const denied = await failure(
      ops.send(
        new ReplicateSecretToRegionsCommand({ SecretId: made.ARN, AddReplicaRegions: [{ Region: EU, KmsKeyId: key }] }),
      ),
    );
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`kms:GenerateDataKey on resource: ${key}`);
    const unchanged = await usAdminSecrets.send(new DescribeSecretCommand({ SecretId: made.ARN }));
    expect(unchanged.ReplicationStatus).toBeUndefined();

    const allowed = (await euAdmin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const r = await ops.send(
      new ReplicateSecretToRegionsCommand({
        SecretId: made.ARN,
        AddReplicaRegions: [{ Region: EU, KmsKeyId: allowed }],
      }),
    );
    expect(r.ReplicationStatus).toEqual([expect.objectContaining({ Region: EU, KmsKeyId: allowed, Status: 'InSync' })]);
  });
});
