// A multi-Region primary's deletion through the real server (two regions, a manual clock): AWS's
// PendingReplicaDeletion until its last replica is deleted, then PendingDeletion from that time;
// refused uses meanwhile; CancelKeyDeletion; and a replica removed by another process (no help from it).
import { join } from 'node:path';
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  type KMSClient,
  ReplicateKeyCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, ManualClock } from '../../src/core/clock.js';
import { ACCOUNT, failure, kmsClient, withBearer } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';

const US = 'us-east-1';
const EU = 'eu-west-1';

let server: TestServer;
let us: KMSClient;
let eu: KMSClient;
// SigV4 carries the wall-clock time: the clock moves ahead, so the clients use the admin's bearer token.
const clock = new ManualClock(Date.now());

/** The admin's bearer client in `region` (x-keysafe-region: bearer calls carry no signed scope). */
function bearerIn(region: string): KMSClient {
  const client = withBearer(kmsClient(server, { region }), server.admin.token);
  client.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-keysafe-region'] = region;
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'region' },
  );
  return client;
}

beforeAll(async () => {
  server = await startTestServer({ clock, config: { region: US, regions: [US, EU] } });
  us = bearerIn(US);
  eu = bearerIn(EU);
});
afterAll(async () => {
  us.destroy();
  eu.destroy();
  await server.stop();
});

const arnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;
const describeIn = async (client: KMSClient, keyId: string) =>
  (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

/** A multi-Region primary in US with its replica in EU. */
async function replicated(): Promise<string> {
  const keyId = (await us.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.KeyId!;
  await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: EU }));
  return keyId;
}

/** Schedules the primary's deletion and checks AWS's PendingReplicaDeletion answer. */
async function schedulePrimary(keyId: string, days: number): Promise<void> {
  const scheduled = await us.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days }));
  expect(scheduled).toMatchObject({ KeyId: arnIn(US, keyId), KeyState: 'PendingReplicaDeletion' });
  expect(scheduled.PendingWindowInDays).toBe(days);
  expect(scheduled.DeletionDate).toBeUndefined();
}

describe('deleting a multi-Region primary with replicas', () => {
  it('waits in PendingReplicaDeletion, unusable, until its last replica is deleted; then its window starts', async () => {
    const keyId = await replicated();
    const ciphertext = (await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('kept') })))
      .CiphertextBlob!;
    await schedulePrimary(keyId, 7);
    const waiting = await describeIn(us, keyId);
    expect(waiting).toMatchObject({ KeyState: 'PendingReplicaDeletion', Enabled: false });
    expect(waiting.PendingDeletionWindowInDays).toBe(7);
    expect(waiting.DeletionDate).toBeUndefined();

    const refusal = { name: 'KMSInvalidStateException', message: `${arnIn(US, keyId)} is pending replica deletion.` };
    expect(await failure(us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).toMatchObject(
      refusal,
    );
    expect(await failure(us.send(new DecryptCommand({ CiphertextBlob: ciphertext })))).toMatchObject(refusal);
    expect(await failure(us.send(new EnableKeyCommand({ KeyId: keyId })))).toMatchObject(refusal);
    expect(
      await failure(us.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }))),
    ).toMatchObject(refusal);
    // The replica is a key of its own: still usable.
    const plain = (await eu.send(new DecryptCommand({ CiphertextBlob: ciphertext }))).Plaintext!;
    expect(Buffer.from(plain).toString()).toBe('kept');

    // "This status can continue indefinitely": nothing happens while the replica lives.
    clock.advance(40 * DAY_MS);
    await server.runScheduler();
    expect((await describeIn(us, keyId)).KeyState).toBe('PendingReplicaDeletion');

    // Scheduled is not enough: the replica must be deleted.
    const replica = await eu.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 10 }));
    expect(replica.KeyState).toBe('PendingDeletion');
    clock.advance(9 * DAY_MS);
    await server.runScheduler();
    expect((await describeIn(us, keyId)).KeyState).toBe('PendingReplicaDeletion');

    clock.advance(1 * DAY_MS);
    const ran = await server.runScheduler();
    expect(ran.deleted).toBe(1);
    expect((await failure(eu.send(new DescribeKeyCommand({ KeyId: keyId })))).name).toBe('NotFoundException');
    const pending = await describeIn(us, keyId);
    expect(pending.KeyState).toBe('PendingDeletion');
    expect(pending.PendingDeletionWindowInDays).toBeUndefined();
    // Its 7 days start when the replica was deleted (this run), not when it was scheduled.
    expect(pending.DeletionDate!.getTime()).toBe(clock.now() + 7 * DAY_MS);
    expect(pending.MultiRegionConfiguration?.ReplicaKeys).toEqual([]);

    clock.advance(7 * DAY_MS);
    expect((await server.runScheduler()).deleted).toBe(1);
    expect((await failure(us.send(new DescribeKeyCommand({ KeyId: keyId })))).name).toBe('NotFoundException');
  });

  it('CancelKeyDeletion returns a PendingReplicaDeletion primary to Disabled', async () => {
    const keyId = await replicated();
    await schedulePrimary(keyId, 30);
    await us.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    const cancelled = await describeIn(us, keyId);
    expect(cancelled.KeyState).toBe('Disabled');
    expect(cancelled.PendingDeletionWindowInDays).toBeUndefined();
    expect(cancelled.DeletionDate).toBeUndefined();
  });

  it('moves on when another process removed the replica without telling the primary', async () => {
    const keyId = await replicated();
    await schedulePrimary(keyId, 7);
    // As if another process deleted the replica and stopped before looking at the primary.
    const db = new Database(join(server.dataDir, 'keysafe.db'), { fileMustExist: true });
    try {
      expect(db.prepare('DELETE FROM kms_keys WHERE region = ? AND key_id = ?').run(EU, keyId).changes).toBe(1);
    } finally {
      db.close();
    }
    await server.runScheduler();
    const pending = await describeIn(us, keyId);
    expect(pending.KeyState).toBe('PendingDeletion');
    expect(pending.DeletionDate!.getTime()).toBe(clock.now() + 7 * DAY_MS);
  });
});
