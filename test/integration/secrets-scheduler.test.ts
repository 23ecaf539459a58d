// Secret schedules on a manual clock: scheduled rotation, purge after the recovery window, the change feed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, ManualClock } from '../../src/core/clock.js';
import { openStore } from '../../src/storage/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ clock });
});
afterAll(async () => {
  await server.stop();
});

const current = async (id: string) => (await server.secrets.getSecretValue(id)).value.string;

describe('secret schedules', () => {
  it('rotates when AutomaticallyAfterDays has passed, at the start of that UTC day', async () => {
    await server.secrets.createSecret({ name: 'sched/a', value: { string: '{"password":"p0"}' } });
    await server.rotation.rotateSecret('sched/a', {
      lambdaArn: 'keysafe:rotation:random-password',
      rules: { AutomaticallyAfterDays: 2 },
      principal: { kind: 'admin' },
    });
    await server.rotation.idle();
    const afterFirst = await current('sched/a');
    const described = await server.secrets.find('sched/a');
    expect(described.rotation?.nextRotationAt).toBe(Date.UTC(2026, 5, 3));
    clock.set(Date.UTC(2026, 5, 2, 23, 59));
    expect((await server.runScheduler()).secretRotationsStarted).toBe(0);
    clock.set(Date.UTC(2026, 5, 3, 0, 0, 1));
    expect((await server.runScheduler()).secretRotationsStarted).toBe(1);
    await server.rotation.idle();
    expect(await current('sched/a')).not.toBe(afterFirst);
    expect((await server.secrets.find('sched/a')).rotation?.nextRotationAt).toBe(Date.UTC(2026, 5, 5));
  });

  it('purges a deleted secret when its recovery window ends, not before', async () => {
    await server.secrets.createSecret({ name: 'sched/gone', value: { string: 'x' } });
    await server.secrets.deleteSecret('sched/gone', 7, false);
    clock.advance(7 * DAY_MS - 1000);
    expect((await server.runScheduler()).secretsPurged).toBe(0);
    await server.secrets.restoreSecret('sched/gone');
    await server.secrets.deleteSecret('sched/gone', 7, false);
    clock.advance(7 * DAY_MS);
    expect((await server.runScheduler()).secretsPurged).toBe(1);
    await expect(server.secrets.find('sched/gone')).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
    // The name is free again.
    await server.secrets.createSecret({ name: 'sched/gone', value: { string: 'y' } });
  });

  it('records every committed change in order with increasing cursors', async () => {
    const store = await openStore(`sqlite:${server.dataDir}/keysafe.db`);
    try {
      const before = (await store.secrets.eventsAfter(0, 100_000)).at(-1)?.cursor ?? 0;
      const { secret } = await server.secrets.createSecret({ name: 'feed/x', value: { string: '1' } });
      const put = await server.secrets.putSecretValue('feed/x', { value: { string: '2' } });
      await server.secrets.updateSecretVersionStage('feed/x', 'BLUE', put.versionId);
      await server.secrets.deleteSecret('feed/x', undefined, false);
      await server.secrets.restoreSecret('feed/x');
      await server.secrets.deleteSecret('feed/x', undefined, true);
      const events = (await store.secrets.eventsAfter(before, 100)).filter((e) => e.secretArn === secret.arn);
      expect(events.map((e) => e.type)).toEqual([
        'SecretCreated',
        'VersionCreated',
        'VersionCreated',
        'StagesMoved',
        'StagesMoved',
        'SecretDeleted',
        'SecretRestored',
        'SecretPurged',
      ]);
      const cursors = events.map((e) => e.cursor);
      expect([...cursors].sort((a, b) => a - b)).toEqual(cursors);
      expect(new Set(cursors).size).toBe(cursors.length);
      expect(events.every((e) => e.secretName === 'feed/x')).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe('version history', () => {
  it('keeps about 100 versions: deprecated ones older than a day go first, labelled ones never', async () => {
    await server.secrets.createSecret({ name: 'history/x', value: { string: 'v0' } });
    const blue = await server.secrets.putSecretValue('history/x', { value: { string: 'blue' }, stages: ['BLUE'] });
    for (let i = 1; i <= 105; i++) {
      await server.secrets.putSecretValue('history/x', { value: { string: `v${i}` } });
      if (i === 50) clock.advance(DAY_MS + 1000);
    }
    const { versions } = await server.secrets.listVersions('history/x');
    expect(versions).toHaveLength(100);
    // The custom-labelled version from the first day is kept; AWSCURRENT is the newest.
    expect(versions.find((v) => v.versionId === blue.versionId)?.stages).toEqual(['BLUE']);
    expect((await server.secrets.getSecretValue('history/x')).value.string).toBe('v105');
    expect((await server.secrets.getSecretValue('history/x', undefined, 'AWSPREVIOUS')).value.string).toBe('v104');
    // Versions made less than a day ago are never pruned, even over the limit.
    for (let i = 106; i <= 110; i++) await server.secrets.putSecretValue('history/x', { value: { string: `v${i}` } });
    const after = (await server.secrets.listVersions('history/x')).versions;
    expect(after.length).toBe(100);
    const recent = after.filter((v) => v.createdAt > clock.now() - DAY_MS);
    expect(recent.length).toBe(60);
  });
});
