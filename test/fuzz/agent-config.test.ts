// The agent config parser under fuzzing: any document (and any YAML text on disk) is a frozen config or
// a ConfigError, never a TypeError, RangeError or stack overflow, and no error message repeats a value.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig, parseAgentConfig } from '../../src/agent/config.js';
import { ConfigError } from '../../src/core/config-error.js';
import {
  deepMutatedInput,
  deepValue,
  edgeNumber,
  edgeString,
  expectTypedError,
  fuzzRuns,
  fuzzTimeout,
  hostileValue,
  type Json,
  outcomeOf,
  unicodeString,
} from './support.js';

/** A marker in values: an error message containing it repeated a value from the config. */
const CANARY = 'CANARY-config-value';

const VALID: Json = {
  server: ['http://127.0.0.1:8270', 'https://keysafe.example:8443/'],
  auth: { role: 'web', tokenFile: 'token' },
  listen: '127.0.0.1:2773',
  localTokenFile: '/run/keysafe/local-token',
  secrets: [
    { id: 'app/db', path: 'db.json', format: 'json', mode: '0440', owner: 1000, group: 2000 },
    { id: 'app/url', path: '/run/url', format: 'template', template: 'postgres://{{username}}:{{ password }}@db' },
    { id: 'app/env', format: 'env', env: { username: 'DB_USER', password: 'DB_PASSWORD' } },
    { id: 'app/raw', path: 'raw.txt', env: 'RAW' },
  ],
  onChange: { signal: 'HUP', processName: 'nginx', command: ['/bin/sh', '-c', 'true'], http: 'http://127.0.0.1:1/' },
  exec: { onChange: 'signal', signal: 'SIGUSR1', gracePeriodSeconds: 3 },
  pollIntervalSeconds: 60,
  maxStaleSeconds: 900,
  logLevel: 'debug',
  insecureListenNonLoopback: false,
};

/** Values a config field may wrongly hold, some carrying the canary. */
const configValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: hostileValue },
  { weight: 2, arbitrary: unicodeString(20).map((s) => `${CANARY}${s}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '0400',
      '0777',
      '1777',
      '400',
      '0o400',
      'SIGKILL',
      'KILL',
      'SIGNOPE',
      '__proto__',
      'template',
      'raw',
      ':0',
      '[::1]:2773',
      '0.0.0.0:2773',
      '127.0.0.1:99999',
      'http://x?y',
      'file:///etc/passwd',
      '..data',
      'dir/',
      '{{ a b }}',
      '{{',
      '}}{{x}}',
      ['', 'x'],
      [],
      256,
      0o400,
      -1,
    ) as fc.Arbitrary<Json>,
  },
  { weight: 1, arbitrary: edgeNumber },
);

/** JSON round trip: what YAML/JSON parsing hands the validator (lone surrogates and "__proto__" keys survive). */
const asParsed = (doc: Json): unknown => JSON.parse(JSON.stringify(doc) ?? 'null');

function checkOutcome(doc: unknown) {
  const r = outcomeOf(() => parseAgentConfig(doc, { baseDir: '/etc/keysafe', source: 'fuzz config' }));
  if (!r.ok) {
    expectTypedError(r.error, [ConfigError]);
    const message = (r.error as Error).message;
    expect(message.startsWith('fuzz config: ')).toBe(true);
    expect(message).not.toContain(CANARY);
    return r;
  }
  const c = r.value;
  expect(Object.isFrozen(c) && Object.isFrozen(c.secrets) && Object.isFrozen(c.auth)).toBe(true);
  expect(c.server.length).toBeGreaterThan(0);
  for (const s of c.server) expect(s).toMatch(/^https?:\/\/.*[^/]$/);
  expect(isAbsolute(c.auth.tokenFile)).toBe(true);
  for (const s of c.secrets) {
    if (s.path !== undefined) expect(isAbsolute(s.path)).toBe(true);
    expect(s.mode).toBeGreaterThanOrEqual(0);
    expect(s.mode).toBeLessThanOrEqual(0o777);
    expect((s.template !== undefined) === (s.format === 'template')).toBe(true);
  }
  if (c.listen) expect(c.localTokenFile && isAbsolute(c.localTokenFile)).toBeTruthy();
  // Every env mapping of the document arrives, none silently dropped.
  const docSecrets = (doc as { secrets: { env?: unknown }[] }).secrets;
  c.secrets.forEach((s, i) => {
    const env = docSecrets[i]!.env;
    if (env && typeof env === 'object') expect(Object.keys(s.env as object).sort()).toEqual(Object.keys(env).sort());
  });
  return r;
}

describe('agent config parser under fuzzing', { timeout: fuzzTimeout() }, () => {
  it('accepts the unmutated document (the mutations start from a valid config)', () => {
    expect(checkOutcome(asParsed(VALID)).ok).toBe(true);
  });

  it('answers any mutation of a valid config with a frozen config or a ConfigError that repeats no value', () => {
    fc.assert(
      fc.property(deepMutatedInput(VALID, configValue), (doc) => {
        checkOutcome(asParsed(doc));
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('answers arbitrary documents (scalars, arrays, deep nesting) with a ConfigError', () => {
    fc.assert(
      fc.property(fc.oneof(hostileValue, deepValue, fc.object({ maxDepth: 4 }) as fc.Arbitrary<Json>), (doc) => {
        checkOutcome(asParsed(doc));
      }),
      { numRuns: fuzzRuns(200) },
    );
  });

  describe('from YAML text on disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keysafe-fuzz-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    let n = 0;

    // Short texts: yaml's parse time grows faster than linearly on malformed input (regressions.test.ts
    // has the 200 KB case that used to abort the process).
    const yamlText = fc.oneof(
      fc.oneof(edgeString, unicodeString(200)),
      fc.constantFrom(
        `secrets: [${CANARY}`,
        `auth: {role: ${CANARY}`,
        `a: &x [*x]`,
        `a: *${CANARY}`,
        `!!binary ${CANARY}`,
        `!${CANARY} x`,
        `a: b\na: ${CANARY}`,
        `${CANARY}: [a, b\n`,
        `"${CANARY}`,
        `key: "${CANARY}\\q"`,
        `- ${CANARY}\nx: y`,
        `%YAML 9.9\n--- ${CANARY}`,
        `a: 1\n--- \nb: ${CANARY}`,
        `\t${CANARY}: x`,
        `a:\n  - b\n - ${CANARY}`,
        `? ${CANARY}\n: x\n? ${CANARY}\n: y`,
        `${'['.repeat(5000)}${CANARY}`,
        `${'- '.repeat(3000)}${CANARY}`,
        `x: ${'{a: '.repeat(2000)}${CANARY}`,
      ),
      fc
        .string({
          unit: fc.constantFrom(
            '[',
            ']',
            '{',
            '}',
            ':',
            '-',
            ' ',
            '\n',
            '"',
            "'",
            '&',
            '*',
            '!',
            '|',
            '>',
            '#',
            '\t',
            'a',
          ),
          maxLength: 300,
        })
        .map((s) => `${s}${CANARY}`),
    );

    it('loads any file as a config or a ConfigError naming the file and repeating no content', () => {
      fc.assert(
        fc.property(yamlText, (text) => {
          const path = join(dir, `c${n++}.yaml`);
          writeFileSync(path, text);
          const r = outcomeOf(() => loadAgentConfig(path));
          if (r.ok) return;
          expectTypedError(r.error, [ConfigError]);
          const message = (r.error as Error).message;
          expect(message).toContain(path);
          expect(message, 'the message repeats file content').not.toContain(CANARY);
        }),
        { numRuns: fuzzRuns(200) },
      );
    });
  });
});
