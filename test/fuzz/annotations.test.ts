// The injector's annotation parser under fuzzing: any annotation map is an injection spec or an
// AnnotationError (a ConfigError naming a keysafe.dev annotation), never a TypeError, and no message
// repeats an annotation's value. Specs that come out are well formed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config-error.js';
import { AnnotationError, parseAnnotations, wantsInjection } from '../../src/injector/annotations.js';
import {
  edgeString,
  expectTypedError,
  fuzzRuns,
  fuzzTimeout,
  hugeString,
  outcomeOf,
  unicodeString,
} from './support.js';

const P = 'keysafe.dev/';
const CANARY = 'CANARY-annotation';

const SIMPLE = [
  'inject',
  'status',
  'role',
  'mode',
  'on-change',
  'server',
  'image',
  'run-as-user',
  'cpu-request',
  'memory-request',
  'cpu-limit',
  'memory-limit',
  'audience',
  'token-expiration-seconds',
];
const PER_SECRET = ['secret', 'format', 'template', 'mode', 'env'];
const NAMES = ['db', 'api', 'a.b', 'x_1', '.hidden', '..data', 'a/b', '', '-x', 'x'.repeat(63), 'x'.repeat(64), '💥'];

/** Plausible values per annotation, plus hostile ones (some carrying the canary). */
const value = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'true',
      'TRUE',
      'yes',
      '1',
      'false',
      'app/db',
      ' app/db ',
      '',
      '   ',
      'web',
      'sidecar',
      'init-only',
      'raw',
      'json',
      'env',
      'template',
      '0400',
      '0o400',
      '0800',
      '{{username}}',
      '{{',
      'DB_URL',
      'username=DB_USER,password=DB_PASSWORD',
      '__proto__=X',
      'a=B=C',
      '=X',
      'a=,b=C',
      'signal:HUP',
      'signal:sigterm:nginx',
      'signal:HUP:a:b',
      'signal:',
      'signal:HUP:/bin/x',
      'command:nginx -s reload',
      'command:',
      'http:http://127.0.0.1:8080/-/reload',
      'http:ftp://x',
      'http:',
      'restart',
      'restart:nginx',
      'restart: ',
      'http://keysafe:8270',
      'https://[::1]:8443',
      'javascript:alert(1)',
      'ghcr.io/keysafe/agent:1.0',
      'image with space',
      '1000',
      '0',
      '2147483647',
      '2147483648',
      '99999999999',
      '50m',
      '64Mi',
      '1.5Gi',
      '1e3',
      '600',
      '599',
      '999999999',
      '1000000000',
    ),
  },
  { weight: 2, arbitrary: fc.oneof(edgeString, unicodeString(30)).map((s) => `${CANARY}${s}`) },
  { weight: 1, arbitrary: fc.oneof(edgeString, unicodeString(30), hugeString) },
);

const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SIMPLE).map((k) => P + k) },
  {
    weight: 4,
    arbitrary: fc.tuple(fc.constantFrom(...PER_SECRET), fc.constantFrom(...NAMES)).map(([k, n]) => `${P}${k}-${n}`),
  },
  // Entries for the base secret (db), so format/template/mode/env combinations meet a secret.
  { weight: 3, arbitrary: fc.constantFrom(...PER_SECRET).map((k) => `${P}${k}-db`) },
  { weight: 1, arbitrary: fc.oneof(edgeString, unicodeString(12)).map((s) => P + s) },
  { weight: 1, arbitrary: fc.constantFrom('app', 'kubectl.kubernetes.io/restartedAt', '__proto__', 'keysafe.dev') },
);

/** Always one valid secret and role, so refusals come from the fuzzed entries, not from their absence. */
const annotations = fc.tuple(fc.boolean(), fc.array(fc.tuple(key, value), { maxLength: 8 })).map(([base, entries]) => {
  const out: Record<string, string> = base ? { [`${P}secret-db`]: 'app/db', [`${P}role`]: 'web' } : {};
  for (const [k, v] of entries)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
});

describe('injector annotation parser under fuzzing', { timeout: fuzzTimeout() }, () => {
  it('parses any annotation map into a well-formed spec or an AnnotationError that repeats no value', () => {
    fc.assert(
      fc.property(annotations, (a) => {
        expect(typeof wantsInjection(a)).toBe('boolean');
        const r = outcomeOf(() => parseAnnotations(a));
        if (!r.ok) {
          expectTypedError(r.error, [AnnotationError]);
          const e = r.error as AnnotationError;
          expect(e).toBeInstanceOf(ConfigError);
          expect(e.annotation.startsWith(P)).toBe(true);
          expect(e.message).not.toContain(CANARY);
          return;
        }
        const spec = r.value;
        expect(spec.role.trim()).toBe(spec.role);
        expect(spec.role).not.toBe('');
        expect(['sidecar', 'init-only']).toContain(spec.mode);
        expect(spec.secrets.length).toBeGreaterThan(0);
        const names = spec.secrets.map((s) => s.name);
        expect(new Set(names).size).toBe(names.length);
        for (const s of spec.secrets) {
          expect(s.name).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
          expect(s.id.trim()).toBe(s.id);
          expect(s.id).not.toBe('');
          expect((s.template !== undefined) === (s.format === 'template')).toBe(true);
          if (s.mode !== undefined) expect(s.mode).toMatch(/^0?[0-7]{3}$/);
          // Every env mapping named in the annotation arrives: none silently dropped.
          const env = a[`${P}env-${s.name}`];
          if (env?.includes('=')) {
            const fields = env.split(',').map((p) => p.split('=')[0]!.trim());
            expect(Object.keys(s.env as object).sort()).toEqual([...new Set(fields)].sort());
          }
        }
        if (spec.runAsUser !== undefined) expect(spec.runAsUser).toBeGreaterThan(0);
        if (spec.tokenExpirationSeconds !== undefined) expect(spec.tokenExpirationSeconds).toBeGreaterThanOrEqual(600);
        if (spec.server !== undefined) expect(spec.server).toMatch(/^https?:/);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });
});
