// The GetSecretValue read cache: expiry, per-secret invalidation and its bound.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { SecretRecord, SecretVersionRecord } from '../../src/secrets/index.js';
import { SecretReadCache } from '../../src/secrets/read-cache.js';

const secret = (arn: string, name = arn.split(':').at(-1)!): SecretRecord => ({
  arn,
  name,
  revision: 1,
  createdAt: 0,
  lastChangedAt: 0,
  tags: [],
});
const version = (arn: string, versionId: string): SecretVersionRecord => ({
  secretArn: arn,
  versionId,
  createdAt: 0,
  stages: ['AWSCURRENT'],
  binary: false,
});

describe('secret read cache', () => {
  it('serves records and stage lookups until the TTL passes, values until invalidated', () => {
    const clock = new ManualClock(0);
    const cache = new SecretReadCache(1000, 10, () => clock.now());
    cache.putRecord('app/db', secret('arn:a'));
    cache.putVersion('arn:a', 'AWSCURRENT', version('arn:a', 'v1'));
    cache.putValue('arn:a', 'v1', { string: 'x' });
    clock.advance(1000);
    expect(cache.record('app/db')?.arn).toBe('arn:a');
    expect(cache.version('arn:a', 'AWSCURRENT')?.versionId).toBe('v1');
    clock.advance(1);
    expect(cache.record('app/db')).toBeUndefined();
    expect(cache.version('arn:a', 'AWSCURRENT')).toBeUndefined();
    expect(cache.value('arn:a', 'v1')).toEqual({ string: 'x' });
  });

  it('drops everything about one secret on invalidate, and nothing about others', () => {
    const cache = new SecretReadCache(1000, 10, () => 0);
    for (const arn of ['arn:a', 'arn:b']) {
      cache.putRecord(arn, secret(arn));
      cache.putVersion(arn, 'AWSCURRENT', version(arn, 'v1'));
      cache.putValue(arn, 'v1', { string: arn });
    }
    cache.invalidate('arn:a');
    expect([cache.record('arn:a'), cache.version('arn:a', 'AWSCURRENT'), cache.value('arn:a', 'v1')]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(cache.value('arn:b', 'v1')).toEqual({ string: 'arn:b' });
  });

  it('holds at most maxSecrets secrets, dropping the oldest', () => {
    const cache = new SecretReadCache(1000, 2, () => 0);
    for (const arn of ['arn:a', 'arn:b', 'arn:c']) cache.putValue(arn, 'v', { string: arn });
    expect(cache.value('arn:a', 'v')).toBeUndefined();
    expect(cache.value('arn:c', 'v')).toEqual({ string: 'arn:c' });
  });
});
