// Regression tests for the bugs the fuzzers found, one plain example each (see the fuzz files next door).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseAgentConfig } from '../../src/agent/config.js';
import { ConfigError } from '../../src/core/config-error.js';
import { readConfigDocument } from '../../src/core/config-file.js';
import { parseAnnotations } from '../../src/injector/annotations.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { awsCall, awsJson } from './support.js';

describe('over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('binds an encryption context {"__proto__": …} to the ciphertext (it used to bind nothing)', async () => {
    const kms = (op: string, body: string) => awsCall(server, `TrentService.${op}`, body);
    const key = (await awsJson(server, 'TrentService.CreateKey', {})).json!.KeyMetadata as { KeyId: string };
    // Raw JSON text: a JS object literal would set the prototype instead of a member.
    const enc = await kms(
      'Encrypt',
      `{"KeyId":"${key.KeyId}","Plaintext":"c2VjcmV0","EncryptionContext":{"__proto__":"tenant-a"}}`,
    );
    expect(enc.status).toBe(200);
    const blob = enc.json!.CiphertextBlob as string;

    const without = await kms('Decrypt', `{"CiphertextBlob":"${blob}"}`);
    expect({ status: without.status, type: without.json!.__type }).toEqual({
      status: 400,
      type: 'InvalidCiphertextException',
    });
    const other = await kms('Decrypt', `{"CiphertextBlob":"${blob}","EncryptionContext":{"__proto__":"tenant-b"}}`);
    expect(other.json!.__type).toBe('InvalidCiphertextException');
    const same = await kms('Decrypt', `{"CiphertextBlob":"${blob}","EncryptionContext":{"__proto__":"tenant-a"}}`);
    expect(same.status).toBe(200);
    expect(same.json!.Plaintext).toBe('c2VjcmV0');
  });

  it('refuses a non-string "__proto__" context value as SerializationException (it used to pass unchecked)', async () => {
    const a = await awsCall(
      server,
      'TrentService.GenerateDataKey',
      '{"KeyId":"alias/none","KeySpec":"AES_256","EncryptionContext":{"__proto__":{"a":"b"}}}',
    );
    expect({ status: a.status, type: a.json!.__type }).toEqual({ status: 400, type: 'SerializationException' });
  });

  it.each([
    ['"*"', '"*"'],
    ['{"AWS":"*"}', '{"AWS":"*"}'],
    ['{"AWS":["*"]}', '{"AWS":["*"]}'],
    ['{"AWS":[root,"*"]}', '{"AWS":["arn:aws:iam::000000000000:root","*"]}'],
  ])(
    'BlockPublicPolicy refuses a policy allowing Principal %s (a list holding "*" used to pass)',
    async (_n, principal) => {
      const sm = (op: string, input: object) => awsJson(server, `secretsmanager.${op}`, input);
      const name = `public-${Math.random().toString(36).slice(2)}`;
      expect((await sm('CreateSecret', { Name: name, SecretString: 'v' })).status).toBe(200);
      const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":${principal},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`;
      const put = await sm('PutResourcePolicy', { SecretId: name, ResourcePolicy: policy, BlockPublicPolicy: true });
      expect({ status: put.status, type: put.json!.__type }).toEqual({ status: 400, type: 'PublicPolicyException' });
      expect((await sm('GetResourcePolicy', { SecretId: name })).json!.ResourcePolicy).toBeUndefined();
    },
  );

  it('refuses an injector env mapping of a field named __proto__ (it used to vanish from the spec)', () => {
    expect(() =>
      parseAnnotations({
        'keysafe.dev/secret-db': 'app/db',
        'keysafe.dev/role': 'web',
        'keysafe.dev/env-db': '__proto__=X,password=DB_PASSWORD',
      }),
    ).toThrow('annotation keysafe.dev/env-db: a field named __proto__ is not supported');
  });

  it('refuses an agent config env mapping of a field named __proto__ (it used to vanish from the config)', () => {
    const doc = JSON.parse(
      '{"server":"http://127.0.0.1:8270","auth":{"role":"web","tokenFile":"/t"},' +
        '"secrets":[{"id":"app/db","env":{"__proto__":"X","password":"DB_PASSWORD"}}]}',
    );
    expect(() => parseAgentConfig(doc, { source: 'c' })).toThrow(
      new ConfigError("c: invalid value for 'secrets[0].env': a field named __proto__ is not supported"),
    );
  });
});

describe('config files that are not valid YAML', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keysafe-yaml-regression-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it.each([
    ['an alias without its anchor', 'token: *hunter2-secret', 'an alias refers to no anchor'],
    ['a bad escape', 'password: "hunter2-secret\\q"', 'BAD_DQ_ESCAPE at line 1, column 26'],
    ['a duplicate key', 'a: 1\na: hunter2-secret', 'DUPLICATE_KEY at line 2, column 1'],
    ['a flow sequence left open', 'secrets: [hunter2-secret', 'at line 1'],
  ])('names the file, the error and its position, never the content (%s)', (_what, text, expected) => {
    const path = file('bad.yaml', text);
    let error: unknown;
    try {
      readConfigDocument(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(`config: ${path} is not valid YAML or JSON (`);
    expect(message).toContain(expected);
    expect(message).not.toContain('hunter2');
  });

  it('prints no YAML warning quoting the file (an unknown tag used to go to stderr with its line)', () => {
    const warn = vi.spyOn(process, 'emitWarning');
    try {
      expect(readConfigDocument(file('tag.yaml', 'token: !hunter2-secret abc'))).toEqual({ token: 'abc' });
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses 80 KB of "{{a}}" in seconds (yaml code frames made it ~20 s; 200 KB aborted the process)', () => {
    const path = file('braces.yaml', '{{a}}'.repeat(16_000));
    const started = performance.now();
    expect(() => readConfigDocument(path)).toThrow(ConfigError);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
