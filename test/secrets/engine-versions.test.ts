// Secrets engine versions and staging labels: AWSCURRENT/AWSPREVIOUS moves, client request tokens, the
// kept-version limit, UpdateSecretVersionStage and value checks, on a real SQLite store with a manual clock.
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/core/clock.js';
import { engineOnStore, expectCode, stagesOf } from '../support/secrets-engine.js';

const text = (string: string) => ({ value: { string } });

describe('new versions and the AWS labels', () => {
  it('each new value takes AWSCURRENT; the one before keeps AWSPREVIOUS; older ones lose their labels', async () => {
    const { secrets } = await engineOnStore();
    const { versionId: v1 } = await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    const { versionId: v2, stages } = await secrets.putSecretValue('app/db', text('two'));
    expect(stages).toEqual(['AWSCURRENT']);
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: v2, AWSPREVIOUS: v1 });
    const { versionId: v3 } = await secrets.putSecretValue('app/db', text('three'));
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: v3, AWSPREVIOUS: v2 });
    const v1Row = (await secrets.listVersions('app/db')).versions.find((v) => v.versionId === v1);
    expect(v1Row?.stages).toEqual([]);
    expect((await secrets.getSecretValue('app/db')).value.string).toBe('three');
    expect((await secrets.getSecretValue('app/db', undefined, 'AWSPREVIOUS')).value.string).toBe('two');
    expect((await secrets.getSecretValue('app/db', v1)).value.string).toBe('one');
  });

  it('a value put under another label leaves AWSCURRENT where it was', async () => {
    const { secrets } = await engineOnStore();
    const { versionId: v1 } = await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    const { versionId: pending } = await secrets.putSecretValue('app/db', { ...text('next'), stages: ['AWSPENDING'] });
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: v1, AWSPENDING: pending });
    expect((await secrets.getSecretValue('app/db')).value.string).toBe('one');
  });

  it('the first value of a secret made empty takes AWSCURRENT whatever labels it asks for', async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db' });
    const { versionId, stages } = await secrets.putSecretValue('app/db', { ...text('v'), stages: ['BLUE'] });
    expect(stages.sort()).toEqual(['AWSCURRENT', 'BLUE']);
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: versionId, BLUE: versionId });
  });

  it('binary values come back as the same bytes', async () => {
    const { secrets } = await engineOnStore();
    const bytes = Buffer.from([0, 1, 2, 254, 255]);
    await secrets.createSecret({ name: 'app/bin', value: { binary: bytes } });
    const { value } = await secrets.getSecretValue('app/bin');
    expect(value.string).toBeUndefined();
    expect(value.binary?.equals(bytes)).toBe(true);
  });
});

describe('client request tokens', () => {
  it('the same token and value again is the same version: nothing new is stored', async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    const first = await secrets.putSecretValue('app/db', {
      ...text('two'),
      token: 'token-0000000000000000000000000002',
    });
    const again = await secrets.putSecretValue('app/db', {
      ...text('two'),
      token: 'token-0000000000000000000000000002',
    });
    expect(again.versionId).toBe(first.versionId);
    expect(again.secret.revision).toBe(first.secret.revision);
    expect((await secrets.listVersions('app/db')).versions).toHaveLength(2);
  });

  it('the same token with another value is refused, and the stored value stays', async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    const token = 'token-0000000000000000000000000003';
    await secrets.putSecretValue('app/db', { ...text('two'), token });
    await expectCode(
      secrets.putSecretValue('app/db', { ...text('other'), token }),
      'ResourceExistsException',
      "You can't modify an existing version, you can only create a new version.",
    );
    await expectCode(
      secrets.putSecretValue('app/db', { value: { binary: Buffer.from('two') }, token }),
      'ResourceExistsException',
    );
    expect((await secrets.getSecretValue('app/db', token)).value.string).toBe('two');
  });

  it('CreateSecret retried with its token answers the same secret; with another value the token is in use', async () => {
    const { secrets } = await engineOnStore();
    const token = 'token-0000000000000000000000000004';
    const made = await secrets.createSecret({ name: 'app/db', value: { string: 'v' }, token });
    const retried = await secrets.createSecret({ name: 'app/db', value: { string: 'v' }, token });
    expect(retried).toEqual({ secret: made.secret, versionId: token });
    await expectCode(
      secrets.createSecret({ name: 'app/db', value: { string: 'w' }, token }),
      'ResourceExistsException',
      `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${made.secret.arn}.`,
    );
    await expectCode(
      secrets.createSecret({ name: 'app/db', value: { string: 'w' }, token: 'token-0000000000000000000000000005' }),
      'ResourceExistsException',
      'The operation failed because the secret app/db already exists.',
    );
  });
});

describe('the kept-version limit', () => {
  it('beyond 100 versions the oldest unlabelled ones over a day old are deleted, labelled ones kept', async () => {
    const { secrets, clock } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db', value: { string: 'v0' } });
    const { versionId: blue } = await secrets.putSecretValue('app/db', { ...text('blue'), stages: ['BLUE'] });
    for (let i = 1; i <= 98; i++) await secrets.putSecretValue('app/db', text(`v${i}`));
    expect((await secrets.listVersions('app/db')).versions).toHaveLength(100);

    // Under a day old, deprecated versions are kept even over the limit.
    await secrets.putSecretValue('app/db', text('v99'));
    expect((await secrets.listVersions('app/db')).versions).toHaveLength(101);

    clock.advance(DAY_MS + 1);
    await secrets.putSecretValue('app/db', text('v100'));
    const kept = (await secrets.listVersions('app/db')).versions;
    expect(kept).toHaveLength(100);
    expect(kept.some((v) => v.versionId === blue)).toBe(true);
    const values = await Promise.all(
      kept.map(async (v) => (await secrets.getSecretValue('app/db', v.versionId)).value),
    );
    expect(values.map((v) => v.string)).not.toContain('v0');
    expect(values.map((v) => v.string)).not.toContain('v1');
    expect(values.map((v) => v.string)).toContain('v2');
    expect((await secrets.getSecretValue('app/db', undefined, 'AWSPREVIOUS')).value.string).toBe('v99');
  });
});

describe('UpdateSecretVersionStage', () => {
  it('moving AWSCURRENT names the version that holds it, and moves AWSPREVIOUS to that one', async () => {
    const { secrets } = await engineOnStore();
    const { versionId: v1 } = await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    const { versionId: v2 } = await secrets.putSecretValue('app/db', { ...text('two'), stages: ['AWSPENDING'] });
    await expectCode(
      secrets.updateSecretVersionStage('app/db', 'AWSCURRENT', v2),
      'InvalidParameterException',
      `Staging label AWSCURRENT is currently attached to version ${v1}`,
    );
    await secrets.updateSecretVersionStage('app/db', 'AWSCURRENT', v2, v1);
    expect(await stagesOf(secrets, 'app/db')).toEqual({ AWSCURRENT: v2, AWSPREVIOUS: v1, AWSPENDING: v2 });
    expect((await secrets.getSecretValue('app/db')).value.string).toBe('two');
  });

  it('a label moved to where it already is changes nothing; AWSCURRENT is never just removed', async () => {
    const { secrets } = await engineOnStore();
    const { versionId: v1 } = await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    const before = await secrets.find('app/db');
    const after = await secrets.updateSecretVersionStage('app/db', 'AWSCURRENT', v1);
    expect(after.revision).toBe(before.revision);
    await expectCode(
      secrets.updateSecretVersionStage('app/db', 'AWSCURRENT', undefined, v1),
      'InvalidParameterException',
      'AWSCURRENT can only be moved',
    );
  });

  it('a version that does not exist, or a label named on the wrong version, is refused', async () => {
    const { secrets } = await engineOnStore();
    const { versionId: v1 } = await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    await expectCode(
      secrets.updateSecretVersionStage('app/db', 'BLUE', 'no-such-version'),
      'ResourceNotFoundException',
      'VersionId: no-such-version',
    );
    await expectCode(
      secrets.updateSecretVersionStage('app/db', 'BLUE', undefined, v1),
      'InvalidRequestException',
      'not associated',
    );
  });

  it('labels named "__proto__" and "constructor" are labels like any other (one used to vanish, the other to be "held")', async () => {
    const { secrets } = await engineOnStore();
    const { versionId: v1 } = await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    const { versionId: v2, stages } = await secrets.putSecretValue('app/db', { ...text('two'), stages: ['__proto__'] });
    expect(stages).toEqual(['__proto__']);
    const labelled = (await secrets.listVersions('app/db')).versions.find((v) => v.versionId === v2);
    expect(labelled?.stages).toEqual(['__proto__']);
    expect((await secrets.getSecretValue('app/db', undefined, '__proto__')).value.string).toBe('two');
    // Moving it needs its holder named, as any label; "constructor" is held by no version yet.
    await expectCode(
      secrets.updateSecretVersionStage('app/db', '__proto__', v1),
      'InvalidParameterException',
      `Staging label __proto__ is currently attached to version ${v2}`,
    );
    await secrets.updateSecretVersionStage('app/db', '__proto__', v1, v2);
    await secrets.updateSecretVersionStage('app/db', 'constructor', v2);
    const versions = (await secrets.listVersions('app/db')).versions;
    expect(versions.find((v) => v.versionId === v1)?.stages.sort()).toEqual(['AWSCURRENT', '__proto__']);
    expect(versions.find((v) => v.versionId === v2)?.stages).toEqual(['constructor']);
  });

  it('a version carries at most 20 labels', async () => {
    const { secrets } = await engineOnStore();
    const { versionId } = await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    for (let i = 1; i <= 19; i++) await secrets.updateSecretVersionStage('app/db', `L${i}`, versionId);
    await expectCode(
      secrets.updateSecretVersionStage('app/db', 'L20', versionId),
      'LimitExceededException',
      'at most 20 staging labels',
    );
  });
});

describe('values the engine refuses', () => {
  it('neither or both of SecretString and SecretBinary, and values outside 1 to 65,536 bytes', async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db' });
    for (const value of [{}, { string: 'a', binary: Buffer.from('a') }]) {
      await expectCode(secrets.putSecretValue('app/db', { value }), 'InvalidParameterException', 'not both');
    }
    for (const value of [{ string: '' }, { string: 'x'.repeat(65_537) }, { binary: Buffer.alloc(0) }]) {
      await expectCode(secrets.putSecretValue('app/db', { value }), 'InvalidParameterException', 'between 1 and 65536');
    }
    await secrets.putSecretValue('app/db', { value: { string: 'é'.repeat(32_768) } });
  });

  it('a read by version id and a label that version does not carry', async () => {
    const { secrets } = await engineOnStore();
    const { versionId } = await secrets.createSecret({ name: 'app/db', value: { string: 'one' } });
    await expectCode(
      secrets.getSecretValue('app/db', versionId, 'AWSPREVIOUS'),
      'InvalidRequestException',
      'not associated to the provided VersionId',
    );
    await expectCode(secrets.getSecretValue('app/db', undefined, 'BLUE'), 'ResourceNotFoundException', 'label: BLUE');
  });
});
