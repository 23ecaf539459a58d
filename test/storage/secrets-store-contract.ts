// The SecretsStore contract every storage driver must pass, written against the interface only.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SecretChange, SecretRecord, SecretsStore, SecretVersionRecord } from '../../src/secrets/index.js';
import type { Store } from '../../src/storage/types.js';

/** 2026-01-01T00:00:00Z, in ms. */
const T0 = Date.UTC(2026, 0, 1);

export function secretArn(name: string): string {
  return `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-${randomUUID().slice(0, 6)}`;
}

export function newSecret(name: string, overrides: Partial<SecretRecord> = {}): SecretRecord {
  return { arn: secretArn(name), name, revision: 1, createdAt: T0, lastChangedAt: T0, tags: [], ...overrides };
}

/** Every byte value, so encodings that mangle NULs, high bytes or UTF-8 show up. */
function allBytes(): Buffer {
  return Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 7 + 3) % 256));
}

export function newSecretVersion(
  secretArn: string,
  versionId: string,
  overrides: Partial<Omit<SecretVersionRecord, 'stages'>> = {},
): Omit<SecretVersionRecord, 'stages'> {
  return {
    secretArn,
    versionId,
    createdAt: T0,
    kmsKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/k1',
    wrappedKey: Buffer.from(`wrapped ${versionId}`),
    ciphertext: Buffer.from(`value ${versionId}`),
    binary: false,
    ...overrides,
  };
}

/** Stages are a set: the interface does not order them. */
function withSortedStages(v: SecretVersionRecord | undefined) {
  return v && { ...v, stages: [...v.stages].sort() };
}

export function describeSecretsStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`SecretsStore contract: ${name}`, () => {
    let store: Store;
    let secrets: SecretsStore;

    beforeEach(async () => {
      store = await open();
      secrets = store.secrets;
    });

    afterEach(async () => {
      await store.close();
    });

    /** Creates a secret with version v1 as AWSCURRENT and returns it as stored. */
    async function seed(name: string, overrides: Partial<SecretRecord> = {}) {
      const secret = newSecret(name, overrides);
      const v1 = newSecretVersion(secret.arn, 'v1');
      const created = await secrets.createSecret({
        secret,
        newVersion: v1,
        stages: { AWSCURRENT: 'v1' },
        events: [{ type: 'SecretCreated' }, { type: 'VersionCreated', versionId: 'v1' }],
      });
      expect(created).toBe(true);
      return { secret: (await secrets.getSecretByArn(secret.arn))!, v1 };
    }

    /** A commit of `secret` as read, with the given extras. */
    function change(secret: SecretRecord, extra: Partial<SecretChange> = {}): SecretChange {
      return { secret: { ...secret, lastChangedAt: secret.lastChangedAt + 1 }, events: [], ...extra };
    }

    async function stagesOf(arn: string) {
      return (await secrets.listVersions(arn)).map((v) => [v.versionId, [...v.stages].sort()]);
    }

    describe('createSecret and reads', () => {
      it('round-trips every field of a full secret at revision 1, by ARN, by name and in the list', async () => {
        const full = newSecret('full', {
          description: 'the database',
          kmsKeyId: 'alias/app',
          tags: [
            { Key: 'team', Value: 'payments' },
            { Key: 'env', Value: 'prod' },
          ],
          deletedAt: T0 + 5,
          purgeAt: T0 + 10,
          resourcePolicy: '{"Version":"2012-10-17","Statement":[]}',
          rotation: {
            enabled: true,
            lambdaArn: 'keysafe:rotation:postgres:single-user',
            rules: { AutomaticallyAfterDays: 30, Duration: '2h' },
            nextRotationAt: T0 + 30,
            lastRotatedAt: T0 - 1,
            inProgress: { token: 't1', step: 'setSecret', attempts: 2, nextAttemptAt: T0 + 7, testOnly: true },
            lastFailure: { at: T0 + 1, step: 'testSecret', message: 'connection refused' },
          },
        });
        expect(await secrets.createSecret({ secret: full, events: [{ type: 'SecretCreated' }] })).toBe(true);
        expect(await secrets.getSecretByArn(full.arn)).toEqual(full);
        expect(await secrets.getSecretByName('full')).toEqual(full);
        expect(await secrets.listSecrets()).toEqual([full]);
        expect(await secrets.listVersions(full.arn)).toEqual([]);
      });

      it('answers undefined for an unknown ARN, name, version or stage', async () => {
        const { secret } = await seed('known');
        expect(await secrets.getSecretByArn(`${secret.arn}x`)).toBeUndefined();
        expect(await secrets.getSecretByName('unknown')).toBeUndefined();
        expect(await secrets.getVersion(secret.arn, 'nope')).toBeUndefined();
        expect(await secrets.getVersionByStage(secret.arn, 'AWSPREVIOUS')).toBeUndefined();
        expect(await secrets.getVersion('arn:other', 'v1')).toBeUndefined();
      });

      it('stores the first version with every byte intact and its stage', async () => {
        const secret = newSecret('bytes');
        const v1 = newSecretVersion(secret.arn, 'v1', { wrappedKey: allBytes(), ciphertext: allBytes(), binary: true });
        await secrets.createSecret({ secret, newVersion: v1, stages: { AWSCURRENT: 'v1' }, events: [] });
        expect(await secrets.getVersion(secret.arn, 'v1')).toEqual({ ...v1, stages: ['AWSCURRENT'] });
        expect(await secrets.getVersionByStage(secret.arn, 'AWSCURRENT')).toEqual({ ...v1, stages: ['AWSCURRENT'] });
      });

      it('refuses a taken name or a taken ARN without changing anything or recording events', async () => {
        const { secret } = await seed('taken');
        const before = await secrets.eventCursors();
        const sameName = newSecret('taken', { description: 'second' });
        expect(
          await secrets.createSecret({
            secret: sameName,
            newVersion: newSecretVersion(sameName.arn, 'x'),
            stages: { AWSCURRENT: 'x' },
            events: [{ type: 'SecretCreated' }],
          }),
        ).toBe(false);
        const sameArn = { ...newSecret('other'), arn: secret.arn };
        expect(await secrets.createSecret({ secret: sameArn, events: [{ type: 'SecretCreated' }] })).toBe(false);

        expect(await secrets.listSecrets()).toEqual([secret]);
        expect(await secrets.getSecretByArn(sameName.arn)).toBeUndefined();
        expect(await secrets.listVersions(sameName.arn)).toEqual([]);
        expect(await secrets.eventCursors()).toEqual(before);
      });

      it('lists secrets in byte order of their names', async () => {
        for (const n of ['b', 'a/x', 'B', 'a']) await seed(n);
        expect((await secrets.listSecrets()).map((s) => s.name)).toEqual(['B', 'a', 'a/x', 'b']);
      });
    });

    describe('commit', () => {
      it('bumps the revision and stores the new record when the revision read is current', async () => {
        const { secret } = await seed('app');
        const updated = { ...secret, description: 'new', tags: [{ Key: 'k', Value: 'v' }], lastChangedAt: T0 + 9 };
        const stored = await secrets.commit({ secret: updated, events: [{ type: 'SecretUpdated' }] }, T0 + 9);
        expect(stored).toEqual({ ...updated, revision: 2 });
        expect(await secrets.getSecretByArn(secret.arn)).toEqual({ ...updated, revision: 2 });
        expect(await secrets.getSecretByName('app')).toEqual({ ...updated, revision: 2 });
      });

      it('refuses a commit from a stale revision and applies none of it', async () => {
        const { secret } = await seed('app');
        expect(await secrets.commit(change(secret, { events: [{ type: 'SecretUpdated' }] }), T0 + 1)).toBeDefined();
        const before = await secrets.eventCursors();
        const stale = change(secret, {
          secret: { ...secret, description: 'stale' },
          newVersion: newSecretVersion(secret.arn, 'v2'),
          stages: { AWSCURRENT: 'v2', AWSPREVIOUS: 'v1' },
          events: [{ type: 'VersionCreated', versionId: 'v2' }],
        });
        expect(await secrets.commit(stale, T0 + 2)).toBeUndefined();
        expect((await secrets.getSecretByArn(secret.arn))!.revision).toBe(2);
        expect((await secrets.getSecretByArn(secret.arn))!.description).toBeUndefined();
        expect(await stagesOf(secret.arn)).toEqual([['v1', ['AWSCURRENT']]]);
        expect(await secrets.eventCursors()).toEqual(before);
      });

      it('refuses a commit for a secret that does not exist', async () => {
        expect(await secrets.commit(change(newSecret('ghost')), T0)).toBeUndefined();
        expect(await secrets.listSecrets()).toEqual([]);
      });

      it('lets exactly one of several commits from the same read win', async () => {
        const { secret } = await seed('race');
        const commits = ['a', 'b', 'c', 'd'].map((id) =>
          secrets.commit(
            change(secret, {
              newVersion: newSecretVersion(secret.arn, id, { createdAt: T0 + 1 }),
              stages: { AWSCURRENT: id, AWSPREVIOUS: 'v1' },
              events: [{ type: 'VersionCreated', versionId: id }],
            }),
            T0 + 1,
          ),
        );
        const results = await Promise.all(commits);
        expect(results.filter((r) => r !== undefined)).toHaveLength(1);
        const winner = ['a', 'b', 'c', 'd'][results.findIndex((r) => r !== undefined)]!;
        expect((await secrets.getSecretByArn(secret.arn))!.revision).toBe(2);
        expect(await stagesOf(secret.arn)).toEqual([
          ['v1', ['AWSPREVIOUS']],
          [winner, ['AWSCURRENT']],
        ]);
        expect((await secrets.eventsAfter(0, 10)).filter((e) => e.type === 'VersionCreated')).toHaveLength(2);
      });

      it('moves stages between versions, removes a stage with null, and keeps a label on one version', async () => {
        const { secret } = await seed('stages');
        let s = (await secrets.commit(
          change(secret, {
            newVersion: newSecretVersion(secret.arn, 'v2', { createdAt: T0 + 1 }),
            stages: { AWSCURRENT: 'v2', AWSPREVIOUS: 'v1', custom: 'v2' },
            events: [{ type: 'VersionCreated', versionId: 'v2' }, { type: 'StagesMoved' }],
          }),
          T0 + 1,
        ))!;
        expect(await stagesOf(secret.arn)).toEqual([
          ['v1', ['AWSPREVIOUS']],
          ['v2', ['AWSCURRENT', 'custom']],
        ]);
        expect(withSortedStages(await secrets.getVersionByStage(secret.arn, 'custom'))).toEqual(
          withSortedStages(await secrets.getVersion(secret.arn, 'v2')),
        );

        s = (await secrets.commit(
          change(s, { stages: { custom: 'v1', AWSPREVIOUS: null }, events: [{ type: 'StagesMoved' }] }),
          T0 + 2,
        ))!;
        expect(s.revision).toBe(3);
        expect(await stagesOf(secret.arn)).toEqual([
          ['v1', ['custom']],
          ['v2', ['AWSCURRENT']],
        ]);
        expect(await secrets.getVersionByStage(secret.arn, 'AWSPREVIOUS')).toBeUndefined();
        expect((await secrets.getVersionByStage(secret.arn, 'custom'))!.versionId).toBe('v1');
      });

      it('fills an empty placeholder version under the same id but never overwrites a stored value', async () => {
        const { secret } = await seed('rotating');
        const placeholder = newSecretVersion(secret.arn, 'tok', { createdAt: T0 + 1 });
        delete placeholder.kmsKeyArn;
        delete placeholder.wrappedKey;
        delete placeholder.ciphertext;
        let s = (await secrets.commit(
          change(secret, { newVersion: placeholder, stages: { AWSPENDING: 'tok' }, events: [] }),
          T0 + 1,
        ))!;
        expect(await secrets.getVersion(secret.arn, 'tok')).toEqual({ ...placeholder, stages: ['AWSPENDING'] });

        const filled = newSecretVersion(secret.arn, 'tok', { createdAt: T0 + 1, binary: true });
        s = (await secrets.commit(change(s, { newVersion: filled, events: [] }), T0 + 2))!;
        expect(await secrets.getVersion(secret.arn, 'tok')).toEqual({ ...filled, stages: ['AWSPENDING'] });

        const again = newSecretVersion(secret.arn, 'tok', { createdAt: T0 + 1, ciphertext: Buffer.from('other') });
        expect(await secrets.commit(change(s, { newVersion: again, events: [] }), T0 + 3)).toBeDefined();
        expect(await secrets.getVersion(secret.arn, 'tok')).toEqual({ ...filled, stages: ['AWSPENDING'] });
        expect((await secrets.listVersions(secret.arn)).map((v) => v.versionId)).toEqual(['v1', 'tok']);
      });

      it('deletes only unlabelled versions named in deleteVersions', async () => {
        const { secret } = await seed('cleanup');
        let s = secret;
        for (const [i, id] of ['v2', 'v3'].entries()) {
          s = (await secrets.commit(
            change(s, {
              newVersion: newSecretVersion(secret.arn, id, { createdAt: T0 + i + 1 }),
              stages: { AWSCURRENT: id },
              events: [],
            }),
            T0 + i + 1,
          ))!;
        }
        expect(await stagesOf(secret.arn)).toEqual([
          ['v1', []],
          ['v2', []],
          ['v3', ['AWSCURRENT']],
        ]);
        expect(
          await secrets.commit(change(s, { deleteVersions: ['v1', 'v3', 'missing'], events: [] }), T0 + 5),
        ).toBeDefined();
        expect(await stagesOf(secret.arn)).toEqual([
          ['v2', []],
          ['v3', ['AWSCURRENT']],
        ]);
        expect(await secrets.getVersion(secret.arn, 'v1')).toBeUndefined();
      });

      it('replaces the key, wrapped key and ciphertext of re-encrypted versions, keeping their stages', async () => {
        const { secret, v1 } = await seed('rekey');
        const re = { ...v1, kmsKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/k2', wrappedKey: allBytes() };
        re.ciphertext = Buffer.from('re-encrypted');
        const updated = { ...secret, kmsKeyId: 'k2' };
        expect(
          await secrets.commit({ secret: updated, reencrypted: [re], events: [{ type: 'SecretUpdated' }] }, T0 + 1),
        ).toEqual({ ...updated, revision: 2 });
        expect(await secrets.getVersion(secret.arn, 'v1')).toEqual({ ...re, stages: ['AWSCURRENT'] });
      });

      it('lists versions oldest first, ties in insertion order', async () => {
        const { secret } = await seed('order');
        let s = secret;
        // Created at T0+3, T0-1, T0+3, T0 (the last ties with v1).
        const made: [string, number][] = [
          ['late-1', T0 + 3],
          ['early', T0 - 1],
          ['late-2', T0 + 3],
          ['tie', T0],
        ];
        for (const [id, createdAt] of made) {
          s = (await secrets.commit(
            change(s, { newVersion: newSecretVersion(secret.arn, id, { createdAt }), events: [] }),
            T0,
          ))!;
        }
        expect((await secrets.listVersions(secret.arn)).map((v) => v.versionId)).toEqual([
          'early',
          'v1',
          'tie',
          'late-1',
          'late-2',
        ]);
        expect(s.revision).toBe(5);
      });

      it('keeps the versions of one secret apart from another with the same version ids', async () => {
        const a = await seed('a');
        const b = await seed('b');
        expect((await secrets.listVersions(a.secret.arn)).map((v) => v.secretArn)).toEqual([a.secret.arn]);
        expect((await secrets.getVersionByStage(b.secret.arn, 'AWSCURRENT'))!.secretArn).toBe(b.secret.arn);
        await secrets.commit(change(a.secret, { stages: { AWSCURRENT: null }, events: [] }), T0);
        expect(await secrets.getVersionByStage(a.secret.arn, 'AWSCURRENT')).toBeUndefined();
        expect(await secrets.getVersionByStage(b.secret.arn, 'AWSCURRENT')).toBeDefined();
      });
    });

    describe('the change feed', () => {
      it('records every event in commit order with consecutive cursors, its time, secret and version', async () => {
        expect(await secrets.eventCursors()).toEqual({ latest: 0, oldest: undefined });
        expect(await secrets.eventsAfter(0, 10)).toEqual([]);
        const { secret } = await seed('feed');
        await secrets.commit(
          change(secret, {
            newVersion: newSecretVersion(secret.arn, 'v2'),
            stages: { AWSCURRENT: 'v2' },
            events: [{ type: 'VersionCreated', versionId: 'v2' }, { type: 'StagesMoved' }],
          }),
          T0 + 7,
        );
        const common = { secretArn: secret.arn, secretName: 'feed' };
        expect(await secrets.eventsAfter(0, 10)).toEqual([
          { cursor: 1, at: T0, ...common, type: 'SecretCreated' },
          { cursor: 2, at: T0, ...common, type: 'VersionCreated', versionId: 'v1' },
          { cursor: 3, at: T0 + 7, ...common, type: 'VersionCreated', versionId: 'v2' },
          { cursor: 4, at: T0 + 7, ...common, type: 'StagesMoved' },
        ]);
        expect(await secrets.eventCursors()).toEqual({ latest: 4, oldest: 1 });
        expect((await secrets.eventsAfter(1, 2)).map((e) => e.cursor)).toEqual([2, 3]);
        expect(await secrets.eventsAfter(4, 10)).toEqual([]);
      });

      it('hands out gap-free cursors under concurrent writers', async () => {
        await Promise.all(Array.from({ length: 10 }, (_, i) => seed(`s${i}`)));
        const events = await secrets.eventsAfter(0, 100);
        expect(events.map((e) => e.cursor)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        // Each secret's own events stay in the order given.
        for (let i = 0; i < 10; i++) {
          expect(events.filter((e) => e.secretName === `s${i}`).map((e) => e.type)).toEqual([
            'SecretCreated',
            'VersionCreated',
          ]);
        }
      });

      it('trims events older than a time, keeping the newest cursor ever given, and never reuses cursors', async () => {
        const a = await seed('a');
        await secrets.commit(change(a.secret, { events: [{ type: 'SecretUpdated' }] }), T0 + 10);
        expect(await secrets.trimEvents(T0 + 10)).toBe(2);
        expect(await secrets.eventCursors()).toEqual({ latest: 3, oldest: 3 });
        expect((await secrets.eventsAfter(0, 10)).map((e) => e.cursor)).toEqual([3]);
        expect(await secrets.trimEvents(T0 + 11)).toBe(1);
        expect(await secrets.trimEvents(T0 + 11)).toBe(0);
        expect(await secrets.eventCursors()).toEqual({ latest: 3, oldest: undefined });
        await seed('b');
        expect((await secrets.eventsAfter(0, 10)).map((e) => e.cursor)).toEqual([4, 5]);
        expect(await secrets.eventCursors()).toEqual({ latest: 5, oldest: 4 });
      });
    });

    describe('purgeSecret', () => {
      it('removes the secret and its versions, records SecretPurged, and frees the name', async () => {
        const { secret } = await seed('gone');
        const other = await seed('kept');
        expect(await secrets.purgeSecret(secret, T0 + 50)).toBe(true);
        expect(await secrets.getSecretByArn(secret.arn)).toBeUndefined();
        expect(await secrets.getSecretByName('gone')).toBeUndefined();
        expect(await secrets.listVersions(secret.arn)).toEqual([]);
        expect(await secrets.getVersionByStage(secret.arn, 'AWSCURRENT')).toBeUndefined();
        expect(await secrets.listSecrets()).toEqual([other.secret]);
        expect(await secrets.eventsAfter(4, 10)).toEqual([
          { cursor: 5, at: T0 + 50, secretArn: secret.arn, secretName: 'gone', type: 'SecretPurged' },
        ]);
        expect(await secrets.purgeSecret(secret, T0 + 51)).toBe(false);

        const reborn = newSecret('gone');
        expect(
          await secrets.createSecret({
            secret: reborn,
            newVersion: newSecretVersion(reborn.arn, 'v1'),
            stages: { AWSCURRENT: 'v1' },
            events: [],
          }),
        ).toBe(true);
        expect((await secrets.getSecretByName('gone'))!.arn).toBe(reborn.arn);
      });

      it('refuses a stale revision and keeps the secret', async () => {
        const { secret } = await seed('restored');
        await secrets.commit(change(secret, { events: [{ type: 'SecretRestored' }] }), T0 + 1);
        expect(await secrets.purgeSecret(secret, T0 + 2)).toBe(false);
        expect((await secrets.getSecretByArn(secret.arn))!.revision).toBe(2);
        expect(await secrets.listVersions(secret.arn)).toHaveLength(1);
        expect((await secrets.eventsAfter(0, 10)).map((e) => e.type)).not.toContain('SecretPurged');
      });
    });

    describe('dueSecrets', () => {
      it('answers secrets whose purge, rotation or retry is due, earliest first, up to the limit', async () => {
        await seed('purge', { deletedAt: T0, purgeAt: T0 + 300 });
        await seed('rotate', { rotation: { enabled: true, nextRotationAt: T0 + 100 } });
        await seed('retry', {
          rotation: {
            enabled: true,
            nextRotationAt: T0 + 900,
            inProgress: { token: 't', step: 'testSecret', attempts: 1, nextAttemptAt: T0 + 200 },
          },
        });
        await seed('disabled', { rotation: { enabled: false, nextRotationAt: T0 } });
        await seed('idle');

        expect(await secrets.dueSecrets(T0 + 99, 10)).toEqual([]);
        expect((await secrets.dueSecrets(T0 + 100, 10)).map((s) => s.name)).toEqual(['rotate']);
        expect((await secrets.dueSecrets(T0 + 1_000, 10)).map((s) => s.name)).toEqual(['rotate', 'retry', 'purge']);
        expect((await secrets.dueSecrets(T0 + 1_000, 2)).map((s) => s.name)).toEqual(['rotate', 'retry']);
        const due = await secrets.dueSecrets(T0 + 1_000, 1);
        expect(due).toEqual([await secrets.getSecretByName('rotate')]);
      });

      it('follows the due time a commit sets and forgets it when cleared', async () => {
        const { secret } = await seed('moving', { rotation: { enabled: true, nextRotationAt: T0 + 100 } });
        const later = (await secrets.commit(
          change(secret, { secret: { ...secret, rotation: { enabled: true, nextRotationAt: T0 + 500 } } }),
          T0,
        ))!;
        expect(await secrets.dueSecrets(T0 + 499, 10)).toEqual([]);
        expect((await secrets.dueSecrets(T0 + 500, 10)).map((s) => s.revision)).toEqual([2]);
        // A purge time wins over rotation.
        const deleted = (await secrets.commit(
          change(later, { secret: { ...later, deletedAt: T0, purgeAt: T0 + 50 } }),
          T0,
        ))!;
        expect((await secrets.dueSecrets(T0 + 50, 10)).map((s) => s.name)).toEqual(['moving']);
        const { deletedAt: _d, purgeAt: _p, ...restored } = deleted;
        await secrets.commit(change(deleted, { secret: { ...restored, rotation: { enabled: false } } }), T0);
        expect(await secrets.dueSecrets(T0 + 10_000, 10)).toEqual([]);
      });
    });

    describe('regions', () => {
      it('keeps secrets, names and events of one region out of another', async () => {
        const { secret } = await seed('same/name');
        const eu = store.inRegion('eu-west-1').secrets;
        const { latest } = await secrets.eventCursors();
        expect(await eu.getSecretByName('same/name')).toBeUndefined();
        expect(await eu.getSecretByArn(secret.arn)).toBeUndefined();
        expect(await eu.listSecrets()).toEqual([]);
        expect(await eu.eventsAfter(0, 100)).toEqual([]);
        expect(await eu.commit({ secret, events: [] }, T0)).toBeUndefined();
        expect(await eu.purgeSecret(secret, T0)).toBe(false);

        // The same name in the other region, under its own ARN; its events are its own.
        const euSecret = { ...newSecret('same/name'), arn: secret.arn.replace('us-east-1', 'eu-west-1') };
        expect(await eu.createSecret({ secret: euSecret, events: [{ type: 'SecretCreated' }] })).toBe(true);
        expect((await eu.getSecretByName('same/name'))!.arn).toBe(euSecret.arn);
        expect((await secrets.getSecretByName('same/name'))!.arn).toBe(secret.arn);
        expect((await eu.eventsAfter(0, 100)).map((e) => e.secretArn)).toEqual([euSecret.arn]);
        expect((await secrets.eventsAfter(0, 100)).every((e) => e.secretArn === secret.arn)).toBe(true);
        // Cursors are one sequence for the whole store.
        expect((await eu.eventCursors()).latest).toBe(latest + 1);
        expect(await store.regions()).toEqual([store.defaultRegion, 'eu-west-1'].sort());
      });

      it('finds due secrets per region', async () => {
        await seed('due/one', { purgeAt: T0, deletedAt: T0 });
        expect(await store.inRegion('eu-west-1').secrets.dueSecrets(T0 + 1, 10)).toEqual([]);
        expect(await secrets.dueSecrets(T0 + 1, 10)).toHaveLength(1);
      });
    });

    describe('LastAccessedDate', () => {
      const DAY = 86_400_000;
      it('records a day forward only, outside the revision, the document and the change feed', async () => {
        const { secret } = await seed('accessed/a');
        const { secret: other } = await seed('accessed/b');
        const before = await secrets.eventCursors();
        await secrets.recordAccess([secret.arn, other.arn, secretArn('accessed/gone')], T0 + DAY);
        const read = (await secrets.getSecretByArn(secret.arn))!;
        expect(read).toEqual({ ...secret, lastAccessedAt: T0 + DAY });
        expect((await secrets.getSecretByName('accessed/b'))!.lastAccessedAt).toBe(T0 + DAY);
        expect((await secrets.listSecrets()).map((s) => s.lastAccessedAt)).toEqual([T0 + DAY, T0 + DAY]);
        expect(await secrets.eventCursors()).toEqual(before);
        // An older day never overwrites a newer one; a newer one does.
        await secrets.recordAccess([secret.arn], T0);
        expect((await secrets.getSecretByArn(secret.arn))!.lastAccessedAt).toBe(T0 + DAY);
        await secrets.recordAccess([secret.arn], T0 + 2 * DAY);
        expect((await secrets.getSecretByArn(secret.arn))!.lastAccessedAt).toBe(T0 + 2 * DAY);
        await secrets.recordAccess([], T0 + 3 * DAY);
      });

      it('a commit from a read made before the access keeps the access date', async () => {
        const { secret } = await seed('accessed/c');
        await secrets.recordAccess([secret.arn], T0 + DAY);
        // `secret` was read before the access: committing it neither conflicts nor loses the date.
        const saved = await secrets.commit(change({ ...secret, description: 'd' }), T0 + 1);
        expect(saved?.revision).toBe(2);
        expect((await secrets.getSecretByArn(secret.arn))!).toMatchObject({
          description: 'd',
          lastAccessedAt: T0 + DAY,
        });
        // And a record carrying a date never writes it through a commit.
        const fresh = (await secrets.getSecretByArn(secret.arn))!;
        await secrets.commit(change({ ...fresh, lastAccessedAt: T0 + 9 * DAY }), T0 + 2);
        expect((await secrets.getSecretByArn(secret.arn))!.lastAccessedAt).toBe(T0 + DAY);
      });
    });
  });
}
