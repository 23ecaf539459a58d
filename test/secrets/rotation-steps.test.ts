// Rotation in process: the steps write AWSPENDING then promote it; failures are recorded, retried after a
// backoff and abandoned; claims, cancel and schedules, through the engine's named rotation writes.
import { describe, expect, it } from 'vitest';
import type { AccessCheck } from '../../src/core/access.js';
import { DAY_MS } from '../../src/core/clock.js';
import { MAX_ATTEMPTS } from '../../src/secrets/rotation.js';
import { type FakeAuthorizer, rotationOnStore, stagesOf, T0 } from '../support/secrets-engine.js';

const RANDOM = 'keysafe:rotation:random-password';
const ADMIN = { kind: 'admin' } as const;
const OLD = JSON.stringify({ username: 'app', password: 'old' });

/** Holds the first check of `action` open until released. */
function holdAt(authorizer: FakeAuthorizer, action: string) {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const arrived = new Promise<void>((r) => {
    reached = r;
  });
  authorizer.gate = (check: AccessCheck) => {
    if (check.action !== action) return undefined;
    authorizer.gate = undefined;
    reached();
    return released;
  };
  return { arrived, release };
}

type RotationParts = Awaited<ReturnType<typeof rotationOnStore>>;

/** Moves the clock to the failed step's retry time and lets the runner take it. */
async function retryWhenDue({ secrets, rotation, clock }: Pick<RotationParts, 'secrets' | 'rotation' | 'clock'>) {
  clock.set((await secrets.find('app/db')).rotation!.inProgress!.nextAttemptAt);
  await rotation.runDue(clock.now());
  await rotation.idle();
}

async function rotated() {
  const parts = await rotationOnStore();
  const { versionId } = await parts.secrets.createSecret({ name: 'app/db', value: { string: OLD } });
  return { ...parts, first: versionId! };
}

describe('a rotation run', () => {
  it('stores the new value as AWSPENDING, then finishSecret moves AWSCURRENT to it', async () => {
    const { secrets, rotation, authorizer, first } = await rotated();
    const finish = holdAt(authorizer, 'secretsmanager:UpdateSecretVersionStage');
    const { versionId: token } = await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN });
    await finish.arrived;

    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: first, AWSPENDING: token });
    const pending = JSON.parse((await secrets.getSecretValue('app/db', token)).value.string!);
    expect(pending.username).toBe('app');
    expect(pending.password).not.toBe('old');
    expect((await secrets.find('app/db')).rotation?.inProgress).toMatchObject({
      token,
      step: 'finishSecret',
      pendingMade: true,
    });
    expect((await secrets.getSecretValue('app/db')).value.string).toBe(OLD);

    finish.release();
    await rotation.idle();
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: token, AWSPREVIOUS: first });
    expect(JSON.parse((await secrets.getSecretValue('app/db')).value.string!)).toEqual(pending);
    const record = (await secrets.find('app/db')).rotation;
    expect(record?.inProgress).toBeUndefined();
    expect(record?.lastRotatedAt).toBe(T0);
    expect(authorizer.checks.map((c) => c.action)).toEqual(
      expect.arrayContaining(['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue']),
    );
  });

  it('the same RotateSecret again is the rotation under way; another token is refused meanwhile', async () => {
    const { rotation, authorizer } = await rotated();
    const held = holdAt(authorizer, 'secretsmanager:GetSecretValue');
    const token = 'rotation-token-00000000000000000001';
    await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN, token });
    await held.arrived;
    expect((await rotation.rotateSecret('app/db', { token })).versionId).toBe(token);
    await expect(
      rotation.rotateSecret('app/db', { token: 'rotation-token-00000000000000000002' }),
    ).rejects.toMatchObject({
      code: 'InvalidRequestException',
      message: "A previous rotation isn't complete. That rotation will be reattempted.",
    });
    held.release();
    await rotation.idle();
  });

  it('one runner wins the claim of a step: a claim from a stale read loses', async () => {
    const { secrets, store, rotation, authorizer } = await rotated();
    authorizer.refuse.add('secretsmanager:PutSecretValue');
    await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN });
    await rotation.idle();
    const read = (await store.secrets.getSecretByName('app/db'))!;
    const claimed = await secrets.claimRotationStep(read, 60_000);
    expect(claimed?.rotation?.inProgress?.nextAttemptAt).toBe(T0 + 60_000);
    expect(await secrets.claimRotationStep(read, 60_000)).toBeUndefined();
  });
});

describe('a failed step', () => {
  it('is recorded with its step and message, leaves AWSCURRENT alone, and waits out its backoff', async () => {
    const { secrets, rotation, authorizer, clock, first, lines } = await rotated();
    authorizer.refuse.add('secretsmanager:PutSecretValue');
    const { versionId: token } = await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN });
    await rotation.idle();

    const record = (await secrets.find('app/db')).rotation!;
    expect(record.lastFailure).toEqual({
      at: T0,
      step: 'createSecret',
      message: expect.stringContaining('secretsmanager:PutSecretValue'),
    });
    expect(record.inProgress).toMatchObject({ token, step: 'createSecret', attempts: 1 });
    const retryAt = record.inProgress!.nextAttemptAt;
    expect(retryAt).toBeGreaterThanOrEqual(T0 + 30_000);
    expect(retryAt).toBeLessThanOrEqual(T0 + 30_000 + 30 * 60_000);
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: first, AWSPENDING: token });
    expect(lines.filter((l) => l.msg === 'rotation step failed')).toHaveLength(1);

    clock.set(retryAt - 1);
    await rotation.runDue(clock.now());
    await rotation.idle();
    expect((await secrets.find('app/db')).rotation?.inProgress?.attempts).toBe(1);
  });

  it('runs again once due, and a success clears the failure', async () => {
    const { secrets, rotation, authorizer, clock, first } = await rotated();
    authorizer.refuse.add('secretsmanager:PutSecretValue');
    const { versionId: token } = await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN });
    await rotation.idle();
    authorizer.refuse.clear();
    await retryWhenDue({ secrets, rotation, clock });
    const record = (await secrets.find('app/db')).rotation!;
    expect(record.lastFailure).toBeUndefined();
    expect(record.inProgress).toBeUndefined();
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: token, AWSPREVIOUS: first });
  });

  it(`after ${MAX_ATTEMPTS} attempts the rotation is abandoned and AWSPENDING removed`, async () => {
    const { secrets, rotation, authorizer, clock, first, lines } = await rotated();
    authorizer.refuse.add('secretsmanager:PutSecretValue');
    await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN });
    await rotation.idle();
    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt++) {
      await retryWhenDue({ secrets, rotation, clock });
    }
    const record = (await secrets.find('app/db')).rotation!;
    expect(record.inProgress).toBeUndefined();
    expect(record.lastFailure?.step).toBe('createSecret');
    expect(record.lastFailure?.at).toBe(clock.now());
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: first });
    expect(lines.filter((l) => l.msg === 'rotation step failed').map((l) => l.fields?.attempts)).toEqual([
      1, 2, 3, 4, 5,
    ]);
  });

  it('a pending value whose commit landed before the step failed stays the rotation’s own on retry', async () => {
    // The store committed the value but the step saw an error (a PostgreSQL COMMIT whose answer was lost):
    // recording the failure must keep the commit's pendingMade mark, or the retry refuses its own value.
    let loseAnswer = true;
    const { secrets, rotation, clock } = await rotationOnStore({
      engine: (engine) => ({
        ...engine,
        async putPendingValue(arn, token, value) {
          await engine.putPendingValue(arn, token, value);
          if (loseAnswer) {
            loseAnswer = false;
            throw new Error('connection lost after COMMIT');
          }
        },
      }),
    });
    const { versionId: first } = await secrets.createSecret({ name: 'app/db', value: { string: OLD } });
    const { versionId: token } = await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN });
    await rotation.idle();
    const made = (await secrets.getSecretValue('app/db', token)).value.string;
    expect((await secrets.find('app/db')).rotation?.inProgress).toMatchObject({
      token,
      step: 'createSecret',
      attempts: 1,
      pendingMade: true,
    });

    await retryWhenDue({ secrets, rotation, clock });
    const record = (await secrets.find('app/db')).rotation!;
    expect(record.lastFailure).toBeUndefined();
    expect(record.inProgress).toBeUndefined();
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: token, AWSPREVIOUS: first });
    expect((await secrets.getSecretValue('app/db')).value.string).toBe(made);
  });

  it('a value a caller put at the rotation token is not taken for the rotation’s own', async () => {
    const { secrets, rotation, authorizer, clock } = await rotated();
    authorizer.refuse.add('secretsmanager:GetSecretValue');
    const { versionId: token } = await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN });
    await rotation.idle();
    authorizer.refuse.clear();
    await secrets.putSecretValue('app/db', { value: { string: 'planted' }, token, stages: ['AWSPENDING'] });
    await retryWhenDue({ secrets, rotation, clock });
    const record = (await secrets.find('app/db')).rotation!;
    expect(record.lastFailure?.message).toMatch(/^createSecret: version .* holds a value this rotation did not make/);
    expect((await secrets.getSecretValue('app/db')).value.string).toBe(OLD);
  });

  it('CancelRotateSecret drops the rotation under way with its AWSPENDING', async () => {
    const { secrets, rotation, authorizer, first } = await rotated();
    authorizer.refuse.add('secretsmanager:PutSecretValue');
    const { versionId: token } = await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN });
    await rotation.idle();
    expect((await rotation.cancelRotateSecret('app/db')).versionId).toBe(token);
    const record = (await secrets.find('app/db')).rotation!;
    expect(record).toMatchObject({ enabled: false, lambdaArn: RANDOM });
    expect(record.inProgress).toBeUndefined();
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: first });
  });
});

describe('scheduled rotations', () => {
  it('RotateImmediately=false records the schedule only; the scheduler starts it when due', async () => {
    const { secrets, rotation, clock, first } = await rotated();
    const rules = { AutomaticallyAfterDays: 7 };
    const r = await rotation.rotateSecret('app/db', {
      lambdaArn: RANDOM,
      principal: ADMIN,
      rules,
      rotateImmediately: false,
    });
    expect(r.versionId).toBeUndefined();
    expect((await secrets.find('app/db')).rotation).toMatchObject({ enabled: true, nextRotationAt: T0 + 7 * DAY_MS });
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: first });

    clock.set(T0 + 7 * DAY_MS - 1);
    expect(await rotation.runDue(clock.now())).toBe(0);
    clock.set(T0 + 7 * DAY_MS);
    expect(await rotation.runDue(clock.now())).toBe(1);
    await rotation.idle();
    expect((await stagesOf(secrets, 'app/db')).AWSPREVIOUS).toBe(first);
    expect((await secrets.find('app/db')).rotation?.nextRotationAt).toBe(T0 + 14 * DAY_MS);
  });

  it('a new value put by hand counts as a rotation for AutomaticallyAfterDays', async () => {
    const { secrets, rotation, clock } = await rotated();
    const rules = { AutomaticallyAfterDays: 7 };
    await rotation.rotateSecret('app/db', { lambdaArn: RANDOM, principal: ADMIN, rules, rotateImmediately: false });
    clock.set(T0 + 2 * DAY_MS + 5_000);
    await secrets.putSecretValue('app/db', { value: { string: 'by hand' } });
    expect((await secrets.find('app/db')).rotation).toMatchObject({
      lastRotatedAt: T0 + 2 * DAY_MS + 5_000,
      nextRotationAt: T0 + 9 * DAY_MS,
    });
  });
});
