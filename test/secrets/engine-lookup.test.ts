// Secrets engine lookups: a SecretId as a name, a full ARN or a partial ARN; deleted secrets; the read cache.
import { describe, expect, it, vi } from 'vitest';
import { createSecretsEngine } from '../../src/secrets/index.js';
import { SqliteSecretsStore } from '../../src/storage/sqlite/secrets-store.js';
import { engineOnStore, expectCode, PREFIX } from '../support/secrets-engine.js';

describe('finding a secret', () => {
  it('by name, by full ARN, and by partial ARN (the ARN without its random suffix)', async () => {
    const { secrets } = await engineOnStore();
    const { secret } = await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    expect(secret.arn).toMatch(new RegExp(`^${PREFIX}app/db-[A-Za-z0-9]{6}$`));
    for (const id of ['app/db', secret.arn, `${PREFIX}app/db`]) {
      expect((await secrets.find(id)).arn).toBe(secret.arn);
      expect((await secrets.getSecretValue(id)).value.string).toBe('v');
    }
  });

  it('a partial ARN names the secret with exactly that name, not one whose name extends it', async () => {
    const { secrets } = await engineOnStore();
    const longer = (await secrets.createSecret({ name: 'app-db' })).secret;
    await expectCode(secrets.find(`${PREFIX}app`), 'ResourceNotFoundException');
    const shorter = (await secrets.createSecret({ name: 'app' })).secret;
    expect((await secrets.find(`${PREFIX}app`)).arn).toBe(shorter.arn);
    expect((await secrets.find(`${PREFIX}app-db`)).arn).toBe(longer.arn);
    expect((await secrets.find(longer.arn)).name).toBe('app-db');
  });

  it('a name that itself ends like a suffix is found by that name and by its own ARN', async () => {
    const { secrets } = await engineOnStore();
    const { secret } = await secrets.createSecret({ name: 'svc/token-AbC123' });
    expect((await secrets.find('svc/token-AbC123')).arn).toBe(secret.arn);
    expect((await secrets.find(secret.arn)).name).toBe('svc/token-AbC123');
    await expectCode(secrets.find('svc/token'), 'ResourceNotFoundException');
  });

  it("an ARN of another account or region is not read as a name: AWS's not-found answer", async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db' });
    for (const id of [
      'arn:aws:secretsmanager:eu-west-1:000000000000:secret:app/db',
      'arn:aws:secretsmanager:us-east-1:111111111111:secret:app/db',
    ]) {
      await expectCode(
        secrets.find(id),
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    }
  });

  it('the ARN a missing secret would have: a name gets the prefix, an ARN stays', async () => {
    const { secrets } = await engineOnStore();
    expect(secrets.arnForMissing('gone/x')).toBe(`${PREFIX}gone/x`);
    expect(secrets.arnForMissing(`${PREFIX}gone/x-abcdef`)).toBe(`${PREFIX}gone/x-abcdef`);
  });
});

describe('deleted secrets', () => {
  it('are found (DescribeSecret shows them) but refused to reads and writes', async () => {
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    await secrets.deleteSecret('app/db', 7, false);
    expect((await secrets.find('app/db')).deletedAt).toBeDefined();
    expect((await secrets.cachedSecret('app/db')).deletedAt).toBeDefined();
    for (const refused of [
      secrets.findLive('app/db'),
      secrets.getSecretValue('app/db'),
      secrets.putSecretValue('app/db', { value: { string: 'w' } }),
      secrets.tagResource('app/db', [{ Key: 'a', Value: 'b' }]),
    ]) {
      await expectCode(refused, 'InvalidRequestException', 'marked for deletion');
    }
  });
});

describe('the read cache', () => {
  it('answers concurrent lookups of one secret with one store read, and rereads after a write', async () => {
    // Spied before the store is opened: the store binds its methods when it is made.
    const reads = vi.spyOn(SqliteSecretsStore.prototype, 'getSecretByName');
    const { secrets } = await engineOnStore();
    await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    reads.mockClear();
    try {
      const all = await Promise.all(Array.from({ length: 20 }, () => secrets.cachedSecret('app/db')));
      expect(new Set(all.map((s) => s.arn)).size).toBe(1);
      expect(reads).toHaveBeenCalledTimes(1);
    } finally {
      reads.mockRestore();
    }
    await secrets.tagResource('app/db', [{ Key: 'team', Value: 'a' }]);
    expect((await secrets.cachedSecret('app/db')).tags).toEqual([{ Key: 'team', Value: 'a' }]);
  });

  it('serves a record another process changed until the TTL passes or it is invalidated', async () => {
    const parts = await engineOnStore();
    const { secrets, clock } = parts;
    const other = createSecretsEngine({
      store: parts.store.secrets,
      kms: parts.kms,
      clock,
      partition: { region: 'us-east-1', accountId: '000000000000' },
    });
    await secrets.createSecret({ name: 'app/db' });
    expect((await secrets.cachedSecret('app/db')).description).toBeUndefined();
    await other.updateSecret('app/db', { description: 'changed elsewhere' });
    expect((await secrets.cachedSecret('app/db')).description).toBeUndefined();
    clock.advance(1001);
    expect((await secrets.cachedSecret('app/db')).description).toBe('changed elsewhere');

    await other.updateSecret('app/db', { description: 'again' });
    secrets.invalidate((await secrets.find('app/db')).arn);
    expect((await secrets.cachedSecret('app/db')).description).toBe('again');
  });

  it('versionKey names the KMS key of the version a read selects, and nothing for a missing one', async () => {
    const { secrets } = await engineOnStore();
    const { versionId } = await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    const key = await secrets.versionKey('app/db');
    expect(key).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\//);
    expect(await secrets.versionKey('app/db', versionId)).toBe(key);
    expect(await secrets.versionKey('app/db', 'no-such-version')).toBeUndefined();
    expect(await secrets.versionKey('app/db', undefined, 'AWSPENDING')).toBeUndefined();
    expect(await secrets.versionKey('missing/secret')).toBeUndefined();
  });
});
