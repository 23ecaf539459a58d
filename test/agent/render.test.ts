// Rendering secrets into file bytes and exec environment variables, and keeping values out of errors.
import { describe, expect, it } from 'vitest';
import { envFor, RenderError, renderSecret, templateFields } from '../../src/agent/render.js';
import { AppError } from '../../src/core/errors.js';

const CANARY = 'canary-7f3a9c-hunter2';
const json = (v: unknown) => ({ string: JSON.stringify(v) });
const text = (b: Buffer) => b.toString('utf8');

/** Runs fn, expecting a RenderError whose message and stack carry no part of the secret. */
function renderFailure(fn: () => unknown): RenderError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RenderError);
    expect(e).toBeInstanceOf(AppError);
    const error = e as RenderError;
    expect(error.code).toBe('InvalidParameterException');
    expect(`${error.message}\n${error.stack}`).not.toContain(CANARY);
    expect(`${error.message}\n${error.stack}`).not.toContain('hunter2');
    return error;
  }
  throw new Error('expected a RenderError');
}

describe('renderSecret raw', () => {
  it('writes a SecretString as UTF-8 bytes', () => {
    expect(renderSecret({ string: 'pässword\n' }, { format: 'raw' })).toEqual(Buffer.from('pässword\n', 'utf8'));
  });

  it('writes SecretBinary bytes unchanged', () => {
    const binary = Buffer.from([0, 255, 10, 0x80, 0]);
    const out = renderSecret({ binary }, { format: 'raw' });
    expect(out).toEqual(binary);
    binary[0] = 1;
    expect(out[0]).toBe(0);
  });

  it('fails for a version without a value', () => {
    expect(renderFailure(() => renderSecret({}, { format: 'raw' })).message).toContain('no value');
  });
});

describe('renderSecret json', () => {
  it('writes exactly the stored text of a JSON object', () => {
    const stored = '{ "b": 1,\n  "a": "x", "n": 1.50 }';
    expect(text(renderSecret({ string: stored }, { format: 'json' }))).toBe(stored);
  });

  it.each([
    ['not JSON', `password=${CANARY}`, 'not valid JSON'],
    ['a JSON string', JSON.stringify(CANARY), 'not an object'],
    ['a JSON array', JSON.stringify([CANARY]), 'not an object'],
  ])('refuses %s without quoting it', (_what, stored, message) => {
    expect(renderFailure(() => renderSecret({ string: stored }, { format: 'json' })).message).toContain(message);
  });

  it('refuses a binary secret', () => {
    const error = renderFailure(() => renderSecret({ binary: Buffer.from('{"a":1}') }, { format: 'json' }));
    expect(error.message).toContain('binary');
  });
});

describe('renderSecret env', () => {
  it('writes sorted single-quoted lines from top-level fields', () => {
    const out = renderSecret(json({ USER: 'app', PORT: 5432, TLS: true, _x: 'y' }), { format: 'env' });
    expect(text(out)).toBe("PORT='5432'\nTLS='true'\nUSER='app'\n_x='y'\n");
  });

  it('writes backslashes, double quotes, newlines, backticks and dollar signs as they are', () => {
    const out = renderSecret(json({ P: 'a\\b"c\nd`e`$HOME$(x)' }), { format: 'env' });
    expect(text(out)).toBe("P='a\\b\"c\nd`e`$HOME$(x)'\n");
  });

  it("refuses a single quote in env, and writes it as '\\'' in shell", () => {
    const error = renderFailure(() => renderSecret(json({ P: `it's ${CANARY}` }), { format: 'env' }));
    expect(error.message).toBe(
      'format env: field P holds a single quote (dotenv loaders cannot read one back; use format shell)',
    );
    const out = renderSecret(json({ P: "it's", Q: 'x' }), { format: 'shell' });
    expect(text(out)).toBe("export P='it'\\''s'\nexport Q='x'\n");
  });

  it('writes an empty file for an empty object', () => {
    expect(renderSecret(json({}), { format: 'env' })).toEqual(Buffer.alloc(0));
  });

  it('refuses a field that is not a variable name, without naming it', () => {
    const error = renderFailure(() => renderSecret(json({ OK: 'x', [`bad-${CANARY}`]: 'v' }), { format: 'env' }));
    expect(error.message).toContain('not a variable name');
  });

  it.each([
    ['an object', { NESTED: { p: CANARY } }, 'NESTED is not a string, number or boolean'],
    ['an array', { LIST: [CANARY] }, 'LIST is not a string, number or boolean'],
    ['null', { NOTHING: null }, 'NOTHING is null'],
  ])('refuses a field holding %s, naming the field', (_what, doc, message) => {
    expect(renderFailure(() => renderSecret(json(doc), { format: 'env' })).message).toContain(message);
  });

  it('refuses a secret that is not a JSON object', () => {
    expect(renderFailure(() => renderSecret({ string: CANARY }, { format: 'env' })).message).toContain(
      'format env needs a JSON SecretString',
    );
  });
});

describe('renderSecret template', () => {
  const secret = json({ username: 'app', password: CANARY, port: 5432, db: { host: 'db.local', tls: false } });

  it('fills {{field}}, {{ field }} and {{a.b}} placeholders', () => {
    const out = renderSecret(secret, {
      format: 'template',
      template: 'postgres://{{username}}:{{ password }}@{{db.host}}:{{port}}/app?tls={{db.tls}}',
    });
    expect(text(out)).toBe(`postgres://app:${CANARY}@db.local:5432/app?tls=false`);
  });

  it('keeps braces that are not placeholders, such as nested JSON', () => {
    const out = renderSecret(secret, { format: 'template', template: '{"a":{"u":"{{username}}"}}' });
    expect(text(out)).toBe('{"a":{"u":"app"}}');
  });

  it('prefers a top-level key containing dots over a nested path', () => {
    const out = renderSecret(json({ 'a.b': 'flat', a: { b: 'nested' } }), { format: 'template', template: '{{a.b}}' });
    expect(text(out)).toBe('flat');
  });

  it('reads array elements by index', () => {
    const out = renderSecret(json({ hosts: ['h0', 'h1'] }), { format: 'template', template: '{{hosts.1}}' });
    expect(text(out)).toBe('h1');
  });

  it('fails on a missing field, naming the field and not the value', () => {
    const error = renderFailure(() =>
      renderSecret(secret, { format: 'template', template: '{{password}} {{db.user}}' }),
    );
    expect(error.message).toBe('template: the secret has no field db.user');
  });

  it('fails on a field holding an object', () => {
    const error = renderFailure(() => renderSecret(secret, { format: 'template', template: '{{db}}' }));
    expect(error.message).toContain('field db is not a string');
  });

  it('fails on a non-JSON secret without quoting it', () => {
    const error = renderFailure(() =>
      renderSecret({ string: `{"password": "${CANARY}"` }, { format: 'template', template: '{{password}}' }),
    );
    expect(error.message).toContain('not valid JSON');
  });

  it.each(['{{user name}}', '{{}}', '{{ a', '{{a}} {{'])('refuses the malformed template %j', (template) => {
    expect(() => templateFields(template)).toThrow(RenderError);
    expect(() => renderSecret(secret, { format: 'template', template })).toThrow('malformed placeholder');
  });

  it('lists the fields a template uses', () => {
    expect(templateFields('{{a}}-{{ b.c }}-{{a}} }}')).toEqual(['a', 'b.c', 'a']);
    expect(templateFields('no placeholders')).toEqual([]);
  });
});

describe('envFor', () => {
  const secret = json({ username: 'app', password: CANARY, port: 5432, db: { host: 'db.local' } });

  it('is empty without an env mapping', () => {
    expect(envFor(secret, { format: 'raw' })).toEqual({});
  });

  it('puts the rendered value in one variable', () => {
    expect(envFor({ string: 'plain' }, { format: 'raw', env: 'TOKEN' })).toEqual({ TOKEN: 'plain' });
    expect(
      envFor(secret, { format: 'template', template: '{{username}}@{{db.host}}:{{port}}', env: 'DB_URL' }),
    ).toEqual({ DB_URL: 'app@db.local:5432' });
    expect(envFor(secret, { format: 'json', env: 'DB_JSON' })).toEqual({ DB_JSON: secret.string });
  });

  it('maps JSON fields to variables', () => {
    expect(
      envFor(secret, { format: 'raw', env: { username: 'DB_USER', password: 'DB_PASSWORD', 'db.host': 'DB_HOST' } }),
    ).toEqual({ DB_USER: 'app', DB_PASSWORD: CANARY, DB_HOST: 'db.local' });
  });

  it('fails on a missing mapped field, naming it and the variable', () => {
    const error = renderFailure(() => envFor(secret, { format: 'raw', env: { passwd: 'DB_PASSWORD' } }));
    expect(error.message).toBe('env DB_PASSWORD: the secret has no field passwd');
  });

  it('refuses binary values that are not UTF-8 text or contain NUL', () => {
    expect(
      renderFailure(() => envFor({ binary: Buffer.from([0xff, 0xfe]) }, { format: 'raw', env: 'BIN' })).message,
    ).toContain('not UTF-8');
    expect(renderFailure(() => envFor({ string: 'a\0b' }, { format: 'raw', env: 'NUL' })).message).toContain('NUL');
    expect(envFor({ binary: Buffer.from('ok') }, { format: 'raw', env: 'BIN' })).toEqual({ BIN: 'ok' });
  });
});
