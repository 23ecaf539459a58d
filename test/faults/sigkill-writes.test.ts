// Fault: the server is SIGKILLed while every kind of write is in flight, several times in a row on the
// same data dir. After each restart every acknowledged (2xx) write is there and consistent, and a write
// in flight at the kill is either wholly there or wholly absent.
//
// test/integration/durability.test.ts kills a server after a burst of CreateKey/Encrypt has been
// answered (nothing in flight), and secrets-rotation.test.ts kills one parked inside a rotation step;
// here the kill lands at a random moment under concurrent CreateSecret, PutSecretValue,
// UpdateSecretVersionStage, RotateSecret (its steps run in the background), Terraform state POSTs
// and CreateKey.
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../../src/audit/index.js';
import { type ServerProcess, spawnServer } from '../support/process.js';
import { kmsClient, secretsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';
import { sleep, until } from '../support/wait.js';

const ROUNDS = 3;
const dir = tempDir('keysafe-sigkill-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The expected state: what was acknowledged, and what was in flight when the server died. */
const expected = {
  created: new Map<string, string>(),
  /** Names whose CreateSecret was sent but not answered: present with that value, or absent. */
  createdMaybe: new Map<string, string>(),
  puts: [] as { versionId: string; value: string }[],
  putInFlight: undefined as { versionId: string; value: string } | undefined,
  /** The version AWSCURRENT was last moved to (acknowledged), and the one a move in flight targets. */
  stage: { current: '', inFlight: undefined as string | undefined },
  /** Rotations started (RotateSecret answered); a RotateSecret in flight may have started one too. */
  rotations: [] as string[],
  rotationInFlight: undefined as string | undefined,
  keys: [] as string[],
  tfSerial: 0,
  tfInFlight: undefined as number | undefined,
};
let stageVersions: [string, string];

const tfState = (serial: number) =>
  JSON.stringify({
    version: 4,
    terraform_version: '1.11.4',
    serial,
    lineage: 'sigkill-lineage',
    outputs: { serial: { value: serial, type: 'number' } },
    resources: [
      { mode: 'managed', type: 'null_resource', name: 'pad', instances: [{ attributes: { id: 'x'.repeat(4096) } }] },
    ],
  });

async function tf(server: ServerProcess, method: 'GET' | 'POST', body?: string) {
  const res = await fetch(`${server.url}/v1/terraform/state/sigkill/app`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(`keysafe:${server.admin.token}`).toString('base64')}` },
    ...(body !== undefined && { body }),
  });
  return { status: res.status, text: await res.text() };
}

/** Runs every writer until the server dies; records acknowledgements and in-flight writes in `expected`. */
async function writeUntilKilled(server: ServerProcess, round: number): Promise<void> {
  const sm = secretsClient(server);
  const kms = kmsClient(server);
  let dead = false;
  const loop = async (write: (i: number) => Promise<void>) => {
    for (let i = 0; !dead; i++) {
      try {
        await write(i);
      } catch (e) {
        // A refusal while alive is a test bug (rotation's "not complete" is handled below).
        if (!dead && !isConnectionError(e)) throw e;
      }
    }
  };
  const writers = [
    loop(async (i) => {
      const name = `kill/r${round}-c${i}`;
      const value = `created ${round}.${i} ${'c'.repeat(1024)}`;
      expected.createdMaybe.set(name, value);
      await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
      expected.createdMaybe.delete(name);
      expected.created.set(name, value);
    }),
    loop(async (i) => {
      const put = { versionId: randomUUID(), value: `put ${round}.${i}` };
      expected.putInFlight = put;
      await sm.send(
        new PutSecretValueCommand({ SecretId: 'kill/put', SecretString: put.value, ClientRequestToken: put.versionId }),
      );
      expected.putInFlight = undefined;
      expected.puts.push(put);
    }),
    loop(async () => {
      const [a, b] = stageVersions;
      const to = expected.stage.current === a ? b : a;
      expected.stage.inFlight = to;
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: 'kill/stage',
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: to,
          RemoveFromVersionId: expected.stage.current,
        }),
      );
      expected.stage = { current: to, inFlight: undefined };
    }),
    loop(async () => {
      const token = randomUUID();
      expected.rotationInFlight = token;
      try {
        await sm.send(
          new RotateSecretCommand({
            SecretId: 'kill/rotate',
            RotationLambdaARN: 'keysafe:rotation:random-password',
            ClientRequestToken: token,
          }),
        );
        expected.rotations.push(token);
      } catch (e) {
        if ((e as Error).name !== 'InvalidRequestException') throw e;
        await sleep(5); // the one before is still running its steps
      }
      expected.rotationInFlight = undefined;
    }),
    loop(async () => {
      const serial = expected.tfSerial + 1;
      expected.tfInFlight = serial;
      const r = await tf(server, 'POST', tfState(serial));
      expect(r.status).toBe(200);
      expected.tfSerial = serial;
      expected.tfInFlight = undefined;
    }),
    loop(async () => {
      expected.keys.push((await kms.send(new CreateKeyCommand({ Description: `round ${round}` }))).KeyMetadata!.KeyId!);
    }),
  ];
  await sleep(150 + Math.floor(Math.random() * 300));
  server.child.kill('SIGKILL');
  dead = true;
  await server.exited;
  await Promise.all(writers);
  sm.destroy();
  kms.destroy();
}

function isConnectionError(e: unknown): boolean {
  const text = `${(e as Error)?.name} ${(e as Error)?.message} ${(e as { code?: string })?.code}`;
  return /ECONNRESET|ECONNREFUSED|socket hang up|fetch failed|EPIPE|other side closed/i.test(text);
}

/** Checks the restarted server against `expected`, then folds in-flight writes into the expectations. */
async function verify(server: ServerProcess): Promise<void> {
  const sm = secretsClient(server);
  const kms = kmsClient(server);
  try {
    for (const [name, value] of expected.created) {
      expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(value);
    }
    for (const [name, value] of expected.createdMaybe) {
      // Wholly there or wholly absent: never a secret without its value.
      try {
        expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(value);
        expected.created.set(name, value);
      } catch (e) {
        expect((e as Error).name).toBe('ResourceNotFoundException');
      }
    }
    expected.createdMaybe.clear();

    const puts = await sm.send(new DescribeSecretCommand({ SecretId: 'kill/put' }));
    const current = Object.entries(puts.VersionIdsToStages!).filter(([, s]) => s.includes('AWSCURRENT'));
    expect(current).toHaveLength(1);
    const last = expected.puts.at(-1)!;
    const allowed = [last.versionId, expected.putInFlight?.versionId].filter(Boolean);
    expect(allowed).toContain(current[0]![0]);
    const value = (await sm.send(new GetSecretValueCommand({ SecretId: 'kill/put' }))).SecretString;
    if (current[0]![0] === last.versionId) expect(value).toBe(last.value);
    else {
      expect(value).toBe(expected.putInFlight!.value);
      expected.puts.push(expected.putInFlight!);
    }
    expected.putInFlight = undefined;

    const stages = (await sm.send(new DescribeSecretCommand({ SecretId: 'kill/stage' }))).VersionIdsToStages!;
    const holders = (stage: string) => Object.keys(stages).filter((v) => stages[v]!.includes(stage));
    expect(holders('AWSCURRENT')).toHaveLength(1);
    expect(holders('AWSPREVIOUS')).toHaveLength(1);
    expect([expected.stage.current, expected.stage.inFlight]).toContain(holders('AWSCURRENT')[0]);
    expect(holders('AWSPREVIOUS')[0]).not.toBe(holders('AWSCURRENT')[0]);
    expected.stage = { current: holders('AWSCURRENT')[0]!, inFlight: undefined };

    // An acknowledged rotation resumes after its lease and completes: its version becomes AWSCURRENT,
    // unless the RotateSecret in flight started another after it, which completes in turn.
    const lastRotation = expected.rotations.at(-1);
    const rotationStages = async () =>
      (await sm.send(new DescribeSecretCommand({ SecretId: 'kill/rotate' }))).VersionIdsToStages!;
    if (lastRotation) {
      const done = (st: Record<string, string[]>) =>
        [lastRotation, expected.rotationInFlight].some((v) => v && st[v]?.includes('AWSCURRENT')) &&
        !Object.values(st).some((x) => x.includes('AWSPENDING'));
      await until(
        async () => done(await rotationStages()),
        8000,
        `rotation ${lastRotation} completes after the restart`,
      );
      const st = await rotationStages();
      if (!st[lastRotation]!.includes('AWSCURRENT')) {
        expect(st[lastRotation]).toEqual(['AWSPREVIOUS']);
        expected.rotations.push(expected.rotationInFlight!);
      }
    }
    expected.rotationInFlight = undefined;
    const rotated = await sm.send(new DescribeSecretCommand({ SecretId: 'kill/rotate' }));
    const rstages = Object.values(rotated.VersionIdsToStages!);
    expect(rstages.filter((s) => s.includes('AWSCURRENT'))).toHaveLength(1);
    expect(rstages.filter((s) => s.includes('AWSPENDING'))).toHaveLength(0);
    const doc = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: 'kill/rotate' }))).SecretString!);
    expect(doc).toMatchObject({ username: 'app', password: expect.stringMatching(/^.{32}$/) });

    const state = await tf(server, 'GET');
    expect(state.status).toBe(200);
    const serial = (JSON.parse(state.text) as { serial: number }).serial;
    expect([expected.tfSerial, expected.tfInFlight]).toContain(serial);
    expect(state.text).toBe(tfState(serial));
    expected.tfSerial = serial;
    expected.tfInFlight = undefined;

    for (const keyId of expected.keys) {
      expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('Enabled');
    }
    // The newest keys' material is whole: they encrypt and decrypt.
    for (const keyId of expected.keys.slice(-3)) {
      const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(keyId) }))).CiphertextBlob;
      expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(
        keyId,
      );
    }
  } finally {
    sm.destroy();
    kms.destroy();
  }
}

describe('SIGKILL during writes', () => {
  it(`keeps every acknowledged write of every kind across ${ROUNDS} kills under load`, async () => {
    const dataDir = join(dir, 'data');
    const config = join(dir, 'server.json');
    // A rotation step whose runner died is retried after its lease; the scheduler finds it.
    writeFileSync(config, JSON.stringify({ rotationLeaseMs: 1000, schedulerIntervalMs: 200 }));
    const start = () => spawnServer(dataDir, ['--config', config]);

    let server = await start();
    const sm = secretsClient(server);
    const put = await sm.send(new CreateSecretCommand({ Name: 'kill/put', SecretString: 'put initial' }));
    expected.puts.push({ versionId: put.VersionId!, value: 'put initial' });
    const a = await sm.send(new CreateSecretCommand({ Name: 'kill/stage', SecretString: 'a' }));
    const b = await sm.send(new PutSecretValueCommand({ SecretId: 'kill/stage', SecretString: 'b' }));
    stageVersions = [a.VersionId!, b.VersionId!];
    expected.stage.current = b.VersionId!;
    await sm.send(
      new CreateSecretCommand({
        Name: 'kill/rotate',
        SecretString: JSON.stringify({ username: 'app', password: 'initial' }),
      }),
    );
    sm.destroy();

    for (let round = 0; round < ROUNDS; round++) {
      await writeUntilKilled(server, round);
      server = await start();
      await verify(server);
      // The audit record torn by the kill was cut off; the chain is whole.
      expect(verifyAuditLog(join(dataDir, 'audit'))).toMatchObject({ ok: true });
      expect(server.output()).not.toContain('c'.repeat(64)); // no value in any log line
    }
    // The load reached every kind of write.
    expect(expected.created.size).toBeGreaterThan(0);
    expect(expected.puts.length).toBeGreaterThan(1);
    expect(expected.rotations.length).toBeGreaterThan(0);
    expect(expected.tfSerial).toBeGreaterThan(0);
    expect(expected.keys.length).toBeGreaterThan(0);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 60_000);
});
