// Secrets Manager replication through the real server, with SDK clients in two regions: replicas made on create
// and later, following the primary's values, labels and settings, read-only, overwritten only when forced,
// removed, promoted; the reconciler repairs a replica left behind.
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  type CreateSecretRequest,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  type SecretsManagerClient,
  StopReplicationToReplicaCommand,
  TagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, sdkClients } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';

const US = 'us-east-1';
const EU = 'eu-west-1';
const AP = 'ap-south-1';

let server: TestServer;
let us: { kms: KMSClient; secrets: SecretsManagerClient };
let eu: { kms: KMSClient; secrets: SecretsManagerClient };

beforeAll(async () => {
  server = await startTestServer({ config: { region: US, regions: [US, EU, AP] } });
  us = sdkClients(server, { region: US });
  eu = sdkClients(server, { region: EU });
});
afterAll(async () => {
  for (const c of [us, eu]) {
    c.kms.destroy();
    c.secrets.destroy();
  }
  await server.stop();
});

let n = 0;
const create = (input: Partial<CreateSecretRequest> = {}) =>
  us.secrets.send(new CreateSecretCommand({ Name: `repl/${++n}`, SecretString: 'v1', ...input }));
const value = async (c: SecretsManagerClient, id: string, stage?: string) =>
  (await c.send(new GetSecretValueCommand({ SecretId: id, ...(stage && { VersionStage: stage }) }))).SecretString;
const replicaArnOf = (arn: string) => arn.replace(`:${US}:`, `:${EU}:`);

describe('replicas', () => {
  it('CreateSecret with AddReplicaRegions makes a read-only replica under the replica region key', async () => {
    const euKey = await eu.kms.send(new CreateKeyCommand({}));
    await eu.kms.send(new CreateAliasCommand({ AliasName: 'alias/repl-eu', TargetKeyId: euKey.KeyMetadata!.KeyId! }));
    const made = await create({ AddReplicaRegions: [{ Region: EU, KmsKeyId: 'alias/repl-eu' }] });
    expect(made.ReplicationStatus).toEqual([{ Region: EU, KmsKeyId: 'alias/repl-eu', Status: 'InSync' }]);
    const replica = replicaArnOf(made.ARN!);
    expect(await value(eu.secrets, made.Name!)).toBe('v1');
    const read = await eu.secrets.send(new GetSecretValueCommand({ SecretId: replica }));
    expect(read.ARN).toBe(replica);
    expect(read.VersionId).toBe(made.VersionId);

    const described = await eu.secrets.send(new DescribeSecretCommand({ SecretId: made.Name }));
    expect(described).toMatchObject({ ARN: replica, PrimaryRegion: US, KmsKeyId: 'alias/repl-eu' });
    expect(described.ReplicationStatus).toBeUndefined();
    const primary = await us.secrets.send(new DescribeSecretCommand({ SecretId: made.ARN }));
    expect(primary).toMatchObject({ PrimaryRegion: US, ReplicationStatus: [{ Region: EU, Status: 'InSync' }] });

    // Writes in the replica's region are refused, the value unchanged.
    const refused = {
      name: 'InvalidRequestException',
      message: "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
    };
    const writes = [
      () => eu.secrets.send(new PutSecretValueCommand({ SecretId: made.Name, SecretString: 'nope' })),
      () => eu.secrets.send(new UpdateSecretCommand({ SecretId: made.Name, Description: 'nope' })),
      () => eu.secrets.send(new TagResourceCommand({ SecretId: made.Name, Tags: [{ Key: 'k', Value: 'v' }] })),
      () => eu.secrets.send(new DeleteSecretCommand({ SecretId: made.Name })),
    ];
    for (const write of writes) expect(await failure(write())).toMatchObject(refused);
    expect(await value(eu.secrets, made.Name!)).toBe('v1');

    const listed = await eu.secrets.send(
      new ListSecretsCommand({ Filters: [{ Key: 'primary-region', Values: [US] }] }),
    );
    expect(listed.SecretList?.map((s) => s.Name)).toContain(made.Name);
  });

  it('follows new values, labels, description and tags of the primary; its watchers hear of them', async () => {
    const made = await create({ Description: 'd1' });
    const r = await us.secrets.send(
      new ReplicateSecretToRegionsCommand({ SecretId: made.ARN, AddReplicaRegions: [{ Region: EU }] }),
    );
    expect(r).toMatchObject({ ARN: made.ARN, ReplicationStatus: [{ Region: EU, Status: 'InSync' }] });
    const put = await us.secrets.send(new PutSecretValueCommand({ SecretId: made.ARN, SecretString: 'v2' }));
    await us.secrets.send(new UpdateSecretCommand({ SecretId: made.ARN, Description: 'd2' }));
    await us.secrets.send(new TagResourceCommand({ SecretId: made.ARN, Tags: [{ Key: 'team', Value: 'a' }] }));
    await server.replicasSettled();
    expect(await value(eu.secrets, made.Name!)).toBe('v2');
    expect(await value(eu.secrets, made.Name!, 'AWSPREVIOUS')).toBe('v1');
    const d = await eu.secrets.send(new DescribeSecretCommand({ SecretId: made.Name }));
    expect(d).toMatchObject({ Description: 'd2', Tags: [{ Key: 'team', Value: 'a' }] });
    expect(d.VersionIdsToStages?.[put.VersionId!]).toEqual(['AWSCURRENT']);

    // Labels moved back by hand follow too.
    await us.secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: made.ARN,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: made.VersionId,
        RemoveFromVersionId: put.VersionId,
      }),
    );
    await server.replicasSettled();
    expect(await value(eu.secrets, made.Name!)).toBe('v1');
    const p = await us.secrets.send(new DescribeSecretCommand({ SecretId: made.ARN }));
    expect(p.ReplicationStatus).toEqual([{ Region: EU, KmsKeyId: 'alias/keysafe/secretsmanager', Status: 'InSync' }]);
  });

  it("refuses AWS's bad regions and deleting a primary with replicas", async () => {
    const made = await create({ AddReplicaRegions: [{ Region: EU }] });
    const bad = [[{ Region: US }], [{ Region: AP }, { Region: AP }], [{ Region: EU }], [{ Region: 'us-west-2' }]];
    for (const regions of bad) {
      const e = await failure(
        us.secrets.send(new ReplicateSecretToRegionsCommand({ SecretId: made.ARN, AddReplicaRegions: regions })),
      );
      expect(e).toMatchObject({ name: 'InvalidParameterException' });
    }
    expect(await failure(us.secrets.send(new DeleteSecretCommand({ SecretId: made.ARN })))).toMatchObject({
      name: 'InvalidRequestException',
    });
    // A refused region on CreateSecret leaves no secret behind.
    const name = `repl/refused-${++n}`;
    await failure(create({ Name: name, AddReplicaRegions: [{ Region: US }] }));
    expect(await failure(us.secrets.send(new DescribeSecretCommand({ SecretId: name })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('a name taken in the replica region fails the replica unless ForceOverwriteReplicaSecret', async () => {
    const name = `repl/taken-${++n}`;
    await eu.secrets.send(new CreateSecretCommand({ Name: name, SecretString: 'eu own' }));
    const made = await create({ Name: name, AddReplicaRegions: [{ Region: EU }] });
    expect(made.ReplicationStatus).toEqual([
      expect.objectContaining({
        Region: EU,
        Status: 'Failed',
        StatusMessage: 'Secret with this name already exists in this region',
      }),
    ]);
    expect(await value(eu.secrets, name)).toBe('eu own');
    await us.secrets.send(new RemoveRegionsFromReplicationCommand({ SecretId: made.ARN, RemoveReplicaRegions: [EU] }));
    expect(await value(eu.secrets, name)).toBe('eu own'); // not a replica: removing leaves it alone
    const forced = await us.secrets.send(
      new ReplicateSecretToRegionsCommand({
        SecretId: made.ARN,
        AddReplicaRegions: [{ Region: EU }],
        ForceOverwriteReplicaSecret: true,
      }),
    );
    expect(forced.ReplicationStatus).toEqual([expect.objectContaining({ Region: EU, Status: 'InSync' })]);
    expect(await value(eu.secrets, name)).toBe('v1');
  });

  it('RemoveRegionsFromReplication deletes the replica; StopReplicationToReplica promotes it', async () => {
    const made = await create({ AddReplicaRegions: [{ Region: EU }, { Region: AP }] });
    const removed = await us.secrets.send(
      new RemoveRegionsFromReplicationCommand({ SecretId: made.ARN, RemoveReplicaRegions: [AP] }),
    );
    expect(removed.ReplicationStatus?.map((s) => s.Region)).toEqual([EU]);
    const ap = sdkClients(server, { region: AP });
    expect(await failure(ap.secrets.send(new GetSecretValueCommand({ SecretId: made.Name })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
    ap.kms.destroy();
    ap.secrets.destroy();

    const stopped = await eu.secrets.send(new StopReplicationToReplicaCommand({ SecretId: made.Name }));
    expect(stopped.ARN).toBe(replicaArnOf(made.ARN!));
    await eu.secrets.send(new PutSecretValueCommand({ SecretId: made.Name, SecretString: 'eu now' }));
    expect(await value(eu.secrets, made.Name!)).toBe('eu now');
    expect(await value(us.secrets, made.ARN!)).toBe('v1');
    const primary = await us.secrets.send(new DescribeSecretCommand({ SecretId: made.ARN }));
    expect(primary.ReplicationStatus).toBeUndefined();
    expect((await eu.secrets.send(new DescribeSecretCommand({ SecretId: made.Name }))).PrimaryRegion).toBeUndefined();
  });

  it('a replica whose sync failed is Failed, truthfully, until the reconciler repairs it', async () => {
    const key = (await eu.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const made = await create({ AddReplicaRegions: [{ Region: EU, KmsKeyId: key }] });
    await eu.kms.send(new DisableKeyCommand({ KeyId: key }));
    await us.secrets.send(new PutSecretValueCommand({ SecretId: made.ARN, SecretString: 'v2' }));
    await server.replicasSettled();
    const failed = await us.secrets.send(new DescribeSecretCommand({ SecretId: made.ARN }));
    expect(failed.ReplicationStatus?.[0]).toMatchObject({ Region: EU, Status: 'Failed' });
    expect(failed.ReplicationStatus?.[0]?.StatusMessage).toMatch(/EncryptionFailure/);
    await eu.kms.send(new EnableKeyCommand({ KeyId: key }));
    expect(await value(eu.secrets, made.Name!, 'AWSPREVIOUS').catch(() => 'none')).toBe('none');

    expect((await server.runScheduler()).replicasReconciled).toBeGreaterThanOrEqual(1);
    expect(await value(eu.secrets, made.Name!)).toBe('v2');
    expect(await value(eu.secrets, made.Name!, 'AWSPREVIOUS')).toBe('v1');
    const repaired = await us.secrets.send(new DescribeSecretCommand({ SecretId: made.ARN }));
    expect(repaired.ReplicationStatus).toEqual([{ Region: EU, KmsKeyId: key, Status: 'InSync' }]);
  });
});
