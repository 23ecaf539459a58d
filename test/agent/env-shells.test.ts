// The env and shell formats read back byte for byte by real sh, bash, dash, python-dotenv and Node's dotenv parser, and never run code.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { RenderError, renderSecret } from '../../src/agent/render.js';

const dir = mkdtempSync(join(tmpdir(), 'keysafe-env-shells-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file that exists only if some value made a reader run a command. */
const CANARY = join(dir, `pwned-${process.pid}-${Date.now()}`);
const RUN = `touch ${CANARY}`;

/** [what, value, read back exactly by every target of `env` (else refused there)]. `shell` takes all but NUL. */
const HOSTILE: [string, string, boolean][] = [
  ['backtick substitution', `\`${RUN}\``, true],
  ['$() substitution', `$(${RUN})`, true],
  ['a variable', '$HOME and $0 and $$', true],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, meant literally
  ['a braced variable', '${HOME}', false],
  ['a default that runs a command', `\${X:-$(${RUN})}`, false],
  ['a single quote', "it's", false],
  ['only a single quote', "'", false],
  ['quote-breaking', `'; ${RUN}; echo '`, false],
  ['quote-breaking over lines', `'\n${RUN}\nEVIL='1`, false],
  ['a double quote', 'say "hi"', true],
  ['double-quote breaking', `"; ${RUN}; echo "`, true],
  ['a backslash', 'a\\b', true],
  ['a trailing backslash', 'ends\\', false],
  ['two backslashes', 'a\\\\b', false],
  ['a backslash before a quote', 'a\\"b\\`c\\$d', true],
  ['a newline', 'line1\nline2', true],
  ['a newline then a command', `x\n${RUN}\n`, true],
  ['a newline then a dotenv line', 'x\nNODE_OPTIONS=--require /tmp/evil.js\n# comment', true],
  ['a carriage return', 'a\rb', false],
  ['CRLF', 'a\r\nb', false],
  ['separators', `a; ${RUN} | ${RUN} & ${RUN} && ${RUN}`, true],
  ['redirections and globs', '> /tmp/x < /etc/passwd * ? [a-z] ~ ~root', true],
  ['a leading dash', '-n -e --help', true],
  ['a comment', '# not a comment', true],
  ['an equals sign', 'a=b=c', true],
  ['surrounding spaces and tabs', ' \t padded \t ', true],
  ['history expansion', '!! !$ !-1', true],
  ['unicode', 'pässwörd ✓ 密码 🔑 \u2028 \u00a0 \ufeff', true],
  ['control characters', '\u0001\u0007\u000b\u000c\u001b[31m\u007f', true],
  ['a NUL byte', 'a\0b', false],
  ['an unpaired surrogate', 'a\ud800b', false],
  ['empty', '', true],
];

const NAME = (i: number) => `V${i}`;

function render(values: readonly string[], format: 'env' | 'shell'): string {
  const doc = Object.fromEntries(values.map((v, i) => [NAME(i), v]));
  return renderSecret({ string: JSON.stringify(doc) }, { format }).toString('utf8');
}

/** Sources the file in a real shell and returns every variable as the shell holds it. */
function sourceIn(shell: string[], file: string, setA: boolean): Record<string, string> {
  const script = `${setA ? 'set -a; ' : ''}. "$1" && exec env -0`;
  // stdin not a socket: bash would read ~/.bashrc, taking it for a remote shell.
  const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', script, 'sh', file], {
    env: {},
    encoding: 'buffer',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  expect(r.stderr.toString(), `${shell.join(' ')} stderr`).toBe('');
  expect(r.status, `${shell.join(' ')} exit status`).toBe(0);
  const vars: Record<string, string> = {};
  for (const entry of r.stdout.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (/^V\d+$/.test(entry.slice(0, eq))) vars[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return vars;
}

function pythonDotenv(file: string): Record<string, string> {
  const out = execFileSync(
    'python3',
    ['-c', 'import dotenv,json,sys; sys.stdout.write(json.dumps(dotenv.dotenv_values(sys.argv[1])))', file],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return JSON.parse(out) as Record<string, string>;
}

/** `node --env-file` (process.loadEnvFile's parser) in a child, printing the variables it set. */
function nodeEnvFile(file: string): Record<string, string> {
  const out = execFileSync(
    process.execPath,
    [`--env-file=${file}`, '-e', 'process.stdout.write(JSON.stringify(process.env))'],
    { encoding: 'utf8', env: {} },
  );
  const all = JSON.parse(out) as Record<string, string>;
  return Object.fromEntries(Object.entries(all).filter(([k]) => /^V\d+$/.test(k)));
}

const SHELLS = [['sh'], ['bash'], ['dash'], ['bash', '--posix']];
const expected = (values: readonly string[]) => Object.fromEntries(values.map((v, i) => [NAME(i), v]));

function checkAllReaders(values: readonly string[], format: 'env' | 'shell', tag: string): void {
  const file = join(dir, `${tag}.${format}`);
  writeFileSync(file, render(values, format));
  for (const shell of SHELLS) {
    expect(sourceIn(shell, file, format === 'env'), `${shell.join(' ')} reading ${format}`).toEqual(expected(values));
  }
  if (format === 'env') {
    expect(pythonDotenv(file), 'python-dotenv').toEqual(expected(values));
    expect(parseEnv(render(values, format)), 'util.parseEnv').toEqual(expected(values));
    expect(nodeEnvFile(file), 'node --env-file').toEqual(expected(values));
  }
  expect(existsSync(CANARY), 'a value ran a command').toBe(false);
}

describe.each(['env', 'shell'] as const)('format %s with hostile values', (format) => {
  const accepted = (ok: boolean, value: string) =>
    format === 'env' ? ok : !value.includes('\0') && !/\p{Cs}/u.test(value);

  it('reads every accepted value back exactly in sh, bash, dash (and the dotenv loaders for env), running nothing', () => {
    const values = HOSTILE.filter(([, v, ok]) => accepted(ok, v)).map(([, v]) => v);
    expect(values.length).toBeGreaterThan(format === 'env' ? 18 : 28);
    checkAllReaders(values, format, 'hostile');
  });

  it.each(HOSTILE.filter(([, v, ok]) => !accepted(ok, v)))(
    'refuses %s, naming the field and not the value',
    (_what, value) => {
      let error: unknown;
      try {
        render(['fine', value], format);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RenderError);
      const message = (error as RenderError).message;
      expect(message).toMatch(new RegExp(`^format ${format}: field V1 holds `));
      if (value.length > 2) expect(message).not.toContain(value);
      expect(message).not.toContain(CANARY);
    },
  );

  it('reads 300 random values back exactly in every reader', () => {
    const chars = fc.oneof(
      fc.constantFrom(...'\'"`$\\\n\r\t !#&();<>|*?[]{}~=-_'),
      fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('é', '✓', '🔑', '\u2028', '\u0085'),
    );
    const values = fc
      .sample(fc.array(chars, { maxLength: 24 }), 300)
      .map((a) => a.join(''))
      .filter((v) => {
        try {
          render([v], format);
          return true;
        } catch {
          return false;
        }
      });
    expect(values.length).toBeGreaterThan(format === 'env' ? 50 : 290);
    checkAllReaders(values, format, 'random');
  });
});

describe('names a secret may not set', () => {
  it.each(['LD_PRELOAD', 'NODE_OPTIONS', 'BASH_ENV', 'ENV', 'PATH', 'PYTHONPATH', 'JAVA_TOOL_OPTIONS', 'IFS'])(
    'refuses a field named %s in env and shell files',
    (name) => {
      for (const format of ['env', 'shell'] as const) {
        expect(() => renderSecret({ string: JSON.stringify({ [name]: 'x' }) }, { format })).toThrow(
          `field ${name} names a variable that makes programs load code`,
        );
      }
    },
  );

  it('still takes ordinary names', () => {
    expect(renderSecret({ string: '{"PATHNAME":"x","LDAP_URL":"y"}' }, { format: 'env' }).toString()).toBe(
      "LDAP_URL='y'\nPATHNAME='x'\n",
    );
  });
});
