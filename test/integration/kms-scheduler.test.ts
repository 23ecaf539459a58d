// Scheduled rotation and deletion, driven by a manual clock through a real server.
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyRotationStatusCommand,
  type KMSClient,
  ListKeyRotationsCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, ManualClock } from '../../src/core/clock.js';
import { withBearer } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let kms: KMSClient;
// SigV4 requests carry the wall-clock time, so the server's clock starts at "now" and moves ahead.
const clock = new ManualClock(Date.now());

beforeAll(async () => {
  server = await startTestServer({ clock });
  // The AWS SDK signs with real time; bearer auth keeps the test independent of the moved clock.
  kms = withBearer(server.kmsClient(), server.admin.token);
});
afterAll(async () => {
  kms.destroy();
  await server.stop();
});

const blobVersion = (b: Uint8Array) => Buffer.from(b).readUInt32BE(18);

describe('scheduled rotation', () => {
  it('rotates a key when its period elapses; old ciphertexts still decrypt', async () => {
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    const before = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('v1') }));
    clock.advance(89 * DAY_MS);
    await server.runScheduler();
    expect(
      blobVersion(
        (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }))).CiphertextBlob!,
      ),
    ).toBe(1);
    clock.advance(1 * DAY_MS + 1);
    const ran = await server.runScheduler();
    expect(ran.rotated).toBeGreaterThanOrEqual(1);
    const after = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('v2') }));
    expect(blobVersion(after.CiphertextBlob!)).toBe(2);
    expect(
      Buffer.from(
        (await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext!,
      ).toString(),
    ).toBe('v1');
    const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }));
    expect(rotations.Rotations?.map((r) => r.RotationType)).toEqual(['AUTOMATIC']);
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    expect(status.NextRotationDate!.getTime()).toBe(clock.now() + 90 * DAY_MS);
    // Running again at the same moment does nothing: the due time moved on.
    await server.runScheduler();
    const again = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
    expect(blobVersion(again.CiphertextBlob!)).toBe(2);
  });

  it('does not rotate a disabled key, and catches up once it is enabled', async () => {
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    clock.advance(91 * DAY_MS);
    await server.runScheduler();
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    expect((await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }))).Rotations).toEqual([]);
    await server.runScheduler();
    expect((await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }))).Rotations).toHaveLength(1);
  });
});

describe('scheduled deletion', () => {
  it('deletes a key once its pending window has ended, not before', async () => {
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })))
      .CiphertextBlob!;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    clock.advance(7 * DAY_MS - 1000);
    await server.runScheduler();
    expect((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.KeyState).toBe(
      'PendingDeletion',
    );
    clock.advance(1000);
    expect((await server.runScheduler()).deleted).toBe(1);
    await expect(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).rejects.toMatchObject({
      name: 'NotFoundException',
    });
    await expect(kms.send(new DecryptCommand({ CiphertextBlob: blob }))).rejects.toMatchObject({
      name: 'InvalidCiphertextException',
    });
  });
});

// Last: it stops the shared server (afterAll's stop() is idempotent).
describe('due work survives a restart', () => {
  it('runs rotation that came due while the server was down, exactly once', async () => {
    const dataDir = server.dataDir;
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    const rotationsBefore = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }))).Rotations!.length;
    await server.close();
    clock.advance(100 * DAY_MS);
    // Start a new server on the same data: due work runs at start-up.
    const restarted = await startTestServer({ clock, dataDir });
    try {
      const rotations = await restarted.kms.listKeyRotations(key.KeyId!);
      expect(rotations.rotations.length).toBe(rotationsBefore + 1);
      await restarted.runScheduler();
      expect((await restarted.kms.listKeyRotations(key.KeyId!)).rotations.length).toBe(rotationsBefore + 1);
    } finally {
      await restarted.close();
    }
  });
});
