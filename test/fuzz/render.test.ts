// The agent's renderer under fuzzing: any secret value with any format, template or env mapping renders
// or throws RenderError (InvalidParameterException), never a TypeError or stack overflow, and no error
// message carries any part of the secret value. Outputs match simple oracles (substitution, dotenv).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envFor, RenderError, renderSecret, templateFields } from '../../src/agent/render.js';
import type { SecretValue } from '../../src/core/secret-value.js';
import { edgeString, expectTypedError, fuzzRuns, fuzzTimeout, type Json, outcomeOf, unicodeString } from './support.js';

const CANARY = 'CANARY-render';

/** Secret values: canary-laden JSON objects (flat and nested), other JSON, non-JSON text and binary. */
const leaf: fc.Arbitrary<Json> = fc.oneof(
  unicodeString(12).map((s) => `${CANARY}${s}`),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constant([`${CANARY}-in-array`] as Json),
  fc.constant({ inner: `${CANARY}-nested` } as Json),
);
const fieldName = fc.oneof(
  fc.constantFrom('username', 'password', 'a.b', 'a', 'b', 'DB_URL', '__proto__', 'constructor', '0', 'x y', ''),
  unicodeString(6),
);
const jsonObject = fc.dictionary(fieldName, fc.oneof(leaf, fc.dictionary(fieldName, leaf, { maxKeys: 3 })), {
  maxKeys: 6,
});
const secretValue: fc.Arbitrary<SecretValue> = fc.oneof(
  { weight: 4, arbitrary: jsonObject.map((o) => ({ string: JSON.stringify(o) })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        `${CANARY} plain text`,
        `{"a": "${CANARY}"`,
        `["${CANARY}"]`,
        `"${CANARY}"`,
        '',
        'null',
        `{"a":"${CANARY}\\ud800"}`,
        `${'['.repeat(100_000)}"${CANARY}"${']'.repeat(100_000)}`,
        `${'{"a":'.repeat(50_000)}"${CANARY}-deep"${'}'.repeat(50_000)}`,
        `{"a":1,"a":"${CANARY}-dup"}`,
        `{"__proto__":{"password":"${CANARY}-proto"}}`,
      )
      .map((string) => ({ string })),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => ({ binary: Buffer.concat([Buffer.from(CANARY), b]) })),
  },
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.constant({ string: `${CANARY}\u0000nul` }) },
);

const template = fc.oneof(
  fc.constantFrom(
    'u={{username}} p={{ password }}',
    '{{a.b}}',
    '{{a}}{{a}}{{a}}',
    '{{__proto__}}',
    '{{constructor}}',
    '{{ }}',
    '{{a b}}',
    '{{',
    '}}',
    '{{{a}}}',
    '$& $1 $$ {{password}}',
    '',
  ),
  fc
    .array(
      fc.oneof(
        fieldName.map((f) => `{{${f}}}`),
        edgeString,
        unicodeString(8),
      ),
      { maxLength: 8 },
    )
    .map((p) => p.join('')),
);

const envSpec = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('DB_URL', 'X'),
  fc.dictionary(fieldName, fc.constantFrom('DB_USER', 'DB_PASSWORD', 'X'), { maxKeys: 3 }),
);

describe('agent renderer under fuzzing', { timeout: fuzzTimeout() }, () => {
  it('renders or throws RenderError, never a runtime fault, and never names a secret value', () => {
    fc.assert(
      fc.property(
        secretValue,
        fc.constantFrom('raw', 'json', 'env', 'template'),
        fc.option(template, { nil: undefined }),
        envSpec,
        (value, format, tpl, env) => {
          const spec = { format, ...(tpl !== undefined && { template: tpl }), ...(env !== undefined && { env }) };
          for (const f of [() => renderSecret(value, spec), () => envFor(value, spec)]) {
            const r = outcomeOf<unknown>(f);
            if (r.ok) continue;
            expectTypedError(r.error, [RenderError]);
            expect((r.error as RenderError).code).toBe('InvalidParameterException');
            expect((r.error as Error).message).not.toContain(CANARY);
          }
        },
      ),
      { numRuns: fuzzRuns(500) },
    );
  });

  it('templateFields lists placeholders or throws RenderError for any template text', () => {
    fc.assert(
      fc.property(fc.oneof(template, unicodeString(60)), (t) => {
        const r = outcomeOf(() => templateFields(t));
        if (!r.ok) {
          expectTypedError(r.error, [RenderError]);
          expect(t).toContain('{{');
        } else {
          for (const f of r.value) expect(f).toMatch(/^[^{}\s]+$/);
        }
      }),
      { numRuns: fuzzRuns(500) },
    );
  });

  it('a template renders as plain substitution of each field (no $-patterns, no re-expansion)', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/);
    fc.assert(
      fc.property(
        fc.dictionary(name, fc.oneof(unicodeString(10), fc.constantFrom('$&', '$1', "$'", '{{x}}'))),
        fc.array(
          fc.oneof(
            name,
            unicodeString(6).filter((s) => !s.includes('{') && !s.includes('}')),
          ),
          {
            maxLength: 6,
          },
        ),
        (doc, parts) => {
          const keys = Object.keys(doc);
          if (keys.length === 0) return;
          // Even parts are field names present in doc, odd parts literal text.
          const pieces = parts.map((p, i) => (i % 2 === 0 ? { field: keys[p.length % keys.length]! } : { text: p }));
          const tpl = pieces.map((p) => ('field' in p ? `{{${p.field}}}` : p.text)).join('');
          const expected = pieces.map((p) => ('field' in p ? doc[p.field!] : p.text)).join('');
          const out = renderSecret({ string: JSON.stringify(doc) }, { format: 'template', template: tpl });
          expect(out.toString('utf8')).toBe(Buffer.from(expected, 'utf8').toString('utf8'));
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('format env and shell write one single-quoted line per field that reads back exactly, or refuse it', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,7}$/);
    fc.assert(
      fc.property(
        fc.dictionary(name, fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.integer())),
        fc.constantFrom('env' as const, 'shell' as const),
        (doc, format) => {
          let out: string;
          try {
            out = renderSecret({ string: JSON.stringify(doc) }, { format }).toString('utf8');
          } catch (e) {
            // Refused only for what the format cannot carry, naming the field, never the value.
            expect((e as Error).message).toMatch(new RegExp(`^format ${format}: field \\w+ (holds|names) `));
            const values = Object.values(doc).map(String);
            const cannot = format === 'shell' ? /\0|\p{Cs}/u : /\0|\p{Cs}|'|\r|\\\\|\\$|\$\{/u;
            const byName = (e as Error).message.includes('names a variable that makes programs load code');
            expect(byName || values.some((v) => cannot.test(v))).toBe(true);
            return;
          }
          // A POSIX single-quoted word: '…' with each ' as '\''; no other character is special in it.
          const prefix = format === 'shell' ? 'export ' : '';
          const line = new RegExp(`${prefix}([A-Za-z_][A-Za-z0-9_]*)=((?:'[^']*'|\\\\')+)\n`, 'y');
          const read: Record<string, string> = {};
          let at = 0;
          for (line.lastIndex = 0; at < out.length; at = line.lastIndex) {
            const m = line.exec(out);
            expect(m, out.slice(at)).not.toBeNull();
            read[m![1]!] = m![2]!.replace(/'([^']*)'|\\'/g, (_, inside: string | undefined) => inside ?? "'");
          }
          const expected = Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, String(v)]));
          expect(read).toEqual(expected);
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });
});
