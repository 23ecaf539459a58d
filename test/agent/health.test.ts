// Readiness and the in-memory cache on their own: ages on the ManualClock, what the status reports, and
// the on-demand cache's bound and order.
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/agent/config.js';
import { AgentHealth } from '../../src/agent/health.js';
import { cachedSecret, ON_DEMAND_MAX, SecretCache } from '../../src/agent/secret-cache.js';
import { ManualClock } from '../../src/core/clock.js';

const secret = (versionId: string, fetchedAt: number) =>
  cachedSecret({ body: { VersionId: versionId, SecretString: 'x' }, versionId }, fetchedAt);

describe('agent health', () => {
  it('ages a value from when it was fetched or the stream went down, whichever is later; 0 while live', () => {
    const clock = new ManualClock();
    const health = new AgentHealth(() => clock.now());
    const s = secret('v1', clock.now());
    clock.advance(10_000);
    expect(health.ageSeconds(s)).toBe(10);
    health.streamUp();
    clock.advance(60_000);
    expect(health.ageSeconds(s)).toBe(0);
    health.streamDown();
    clock.advance(2_500);
    expect(health.ageSeconds(s)).toBe(2);
  });

  it('is ready once every configured secret is written (or fetched, without a file), and says why not', () => {
    const config = parseAgentConfig({
      server: 'http://127.0.0.1:1',
      auth: { role: 'web', tokenFile: '/t' },
      secrets: [{ id: 'app/db', path: '/s/db' }, { id: 'app/http' }],
    });
    const clock = new ManualClock();
    const health = new AgentHealth(() => clock.now());
    const cache = new SecretCache(['app/db', 'app/http']);
    const written = new Set<string>();
    const problems = new Map<string, string>();
    const status = () =>
      health.status({ secrets: config.secrets, cached: (id) => cache.get(id), written, problems, server: 'http://s' });

    health.fail('cannot reach http://s');
    expect(status()).toEqual({
      ready: false,
      server: 'http://s',
      connected: false,
      lastError: 'cannot reach http://s',
      secrets: { 'app/db': { written: false }, 'app/http': { written: false } },
    });

    cache.set('app/db', secret('v1', clock.now()));
    cache.set('app/http', secret('h1', clock.now()));
    problems.set('app/db', 'EROFS: read-only file system');
    expect(status().ready).toBe(false);
    written.add('app/db');
    problems.clear();
    health.streamUp();
    expect(status()).toEqual({
      ready: true,
      server: 'http://s',
      connected: true,
      secrets: {
        'app/db': { written: true, versionId: 'v1', ageSeconds: 0 },
        'app/http': { written: true, versionId: 'h1', ageSeconds: 0 },
      },
    });
  });
});

describe('the secret cache', () => {
  it('lists the configured secrets first, and keeps at most ON_DEMAND_MAX others, the least recently asked going first', () => {
    const cache = new SecretCache(['app/b', 'app/a']);
    cache.set('app/a', secret('a', 0));
    for (let i = 0; i <= ON_DEMAND_MAX; i++) cache.keep(`asked/${i}`, secret(`${i}`, 0));
    expect(cache.has('asked/0')).toBe(false);
    expect(cache.ids().slice(0, 3)).toEqual(['app/b', 'app/a', 'asked/1']);
    expect(cache.ids()).toHaveLength(2 + ON_DEMAND_MAX);

    cache.touch('asked/1');
    cache.keep('asked/new', secret('n', 0));
    expect(cache.has('asked/1')).toBe(true);
    expect(cache.has('asked/2')).toBe(false);
    // A configured secret asked for is never counted, nor evicted.
    cache.keep('app/b', secret('b', 0));
    expect(cache.has('asked/3')).toBe(true);
    expect(cache.get('app/b')?.json).toBe('{"VersionId":"b","SecretString":"x"}');
  });
});
