// The secrets engine's write path: revision-checked commits retried on conflict (two engines on one store,
// as two replicas), lastChangedAt, and the change doorbell the watch streams listen to.
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createSecretsEngine } from '../../src/secrets/index.js';
import { engineOnStore, rotationOnStore, T0 } from '../support/secrets-engine.js';

describe('commits', () => {
  it('writers racing on one secret from two engines all land: a lost revision check is retried', async () => {
    const parts = await engineOnStore();
    const other = createSecretsEngine({
      store: parts.store.secrets,
      kms: parts.kms,
      clock: parts.clock,
      partition: { region: 'us-east-1', accountId: '000000000000' },
    });
    const { secret } = await parts.secrets.createSecret({ name: 'app/db', value: { string: 'v0' } });
    const writes = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? parts.secrets : other).tagResource('app/db', [{ Key: `k${i}`, Value: 'v' }]),
    );
    await Promise.all(writes);
    const after = await parts.secrets.find('app/db');
    expect(after.tags).toHaveLength(10);
    expect(after.revision).toBe(secret.revision + 10);
  });

  it('a change stamps lastChangedAt with the clock; a plan with nothing to change writes nothing', async () => {
    const { secrets, clock } = await engineOnStore();
    const { secret } = await secrets.createSecret({ name: 'app/db' });
    expect(secret.lastChangedAt).toBe(T0);
    clock.advance(5_000);
    expect((await secrets.updateSecret('app/db', { description: 'd' })).secret.lastChangedAt).toBe(T0 + 5_000);
    clock.advance(5_000);
    const unchanged = await secrets.restoreSecret('app/db');
    expect(unchanged.lastChangedAt).toBe(T0 + 5_000);
  });

  it('rings the listeners after a change that records events, not after a rotation claim', async () => {
    const { secrets, store, rotation, authorizer } = await rotationOnStore();
    let rung = 0;
    const unsubscribe = secrets.onChange(() => rung++);
    await secrets.createSecret({ name: 'app/db', value: { string: 'v' } });
    await secrets.putSecretValue('app/db', { value: { string: 'w' } });
    await tick();
    expect(rung).toBe(1); // CreateSecret goes to the store directly; the feed polls for it

    authorizer.refuse.add('secretsmanager:GetSecretValue');
    await rotation.rotateSecret('app/db', {
      lambdaArn: 'keysafe:rotation:random-password',
      principal: { kind: 'admin' },
    });
    await rotation.idle();
    await tick();
    const afterStart = rung;
    const read = (await store.secrets.getSecretByName('app/db'))!;
    expect(await secrets.claimRotationStep(read, 1_000)).toBeDefined();
    await tick();
    expect(rung).toBe(afterStart);

    unsubscribe();
    await secrets.putSecretValue('app/db', { value: { string: 'x' } });
    await tick();
    expect(rung).toBe(afterStart);
  });
});
