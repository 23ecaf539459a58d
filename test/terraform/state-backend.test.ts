// The state backend's envelope encryption and input checks, on a real KMS engine and SQLite store.
import { createCipheriv, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { RootKey, RootKeyring } from '../../src/crypto/index.js';
import { createKmsEngine, INTERNAL_KEYS, internalKey } from '../../src/kms/index.js';
import { openStore, type Store } from '../../src/storage/index.js';
import { createTerraformStateBackend, parseLockInfo } from '../../src/terraform/index.js';
import { tempDir } from '../support/server.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function backend() {
  const dir = tempDir();
  const store: Store = await openStore(`sqlite:${join(dir, 'keysafe.db')}`);
  cleanup.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const clock = new ManualClock();
  const kms = createKmsEngine({
    store: store.kms,
    rootKeys: new RootKeyring(RootKey.fromBytesInsecure(RootKey.generateBytesInsecure())),
    clock,
    partition: { region: 'us-east-1', accountId: '000000000000' },
  });
  const keyArn = internalKey(kms, INTERNAL_KEYS.terraform);
  const tf = createTerraformStateBackend({
    store: store.terraform,
    kms,
    keyArn,
    now: () => clock.now(),
    keepVersions: 10,
  });
  return { store, kms, keyArn, tf };
}

const stateJson = (serial: number, secret: string, lineage = 'L1') =>
  Buffer.from(JSON.stringify({ version: 4, serial, lineage, resources: [{ attributes: { password: secret } }] }));

async function appCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
  throw new Error('expected a failure');
}

describe('terraform state backend', () => {
  it('stores each version under its own data key from alias/keysafe/terraform, with no plaintext stored', async () => {
    const { store, tf, keyArn } = await backend();
    expect(await tf.write('app', stateJson(1, 'hunter2-one'), undefined)).toEqual({ ok: true, version: 1 });
    expect(await tf.write('app', stateJson(2, 'hunter2-two'), undefined)).toEqual({ ok: true, version: 2 });
    const [v1, v2] = [
      (await store.terraform.getStateVersion('app', 1))!,
      (await store.terraform.getStateVersion('app', 2))!,
    ];
    expect(v1.kmsKeyArn).toBe(await keyArn());
    expect(v1.wrappedKey.equals(v2.wrappedKey)).toBe(false);
    expect(v1.ciphertext.includes('hunter2')).toBe(false);
    expect(v1.size).toBe(stateJson(1, 'hunter2-one').length);
    expect((await tf.read('app'))!.body.toString()).toContain('hunter2-two');
    expect((await tf.read('app', 1))!.body.toString()).toContain('hunter2-one');
    expect(await tf.read('app', 3)).toBeUndefined();
  });

  it('answers a retried write (same serial, same content) as done, and refuses other content at that serial', async () => {
    const { store, tf } = await backend();
    await tf.write('app', stateJson(1, 'a'), undefined);
    expect(await tf.write('app', stateJson(2, 'b'), undefined)).toEqual({ ok: true, version: 2 });
    expect(await tf.write('app', stateJson(2, 'b'), undefined)).toEqual({ ok: true, version: 2 });
    expect(await tf.write('app', stateJson(2, 'stale'), undefined)).toEqual({
      ok: false,
      reason: 'stale-serial',
      serial: 2,
    });
    expect(await store.terraform.listStateVersions('app')).toHaveLength(2);
    expect((await tf.read('app'))!.body.toString()).toContain('"b"');
  });

  it('reads a version stored in the v1 layout, sealed here with node:crypto rather than the backend', async () => {
    const { store, kms, keyArn, tf } = await backend();
    const [name, serial, lineage] = ['team-a/net', 7, 'L-old'];
    const body = stateJson(serial, 'sealed-before-the-refactor', lineage);
    // The KMS half is the engine's; the local half follows the documented layout byte for byte
    const context = { TerraformState: name, TerraformStateSerial: String(serial), TerraformStateLineage: lineage };
    const dataKey = await kms.internal.generateDataKey(await keyArn(), 32, context);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey.plaintext, nonce, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(`keysafe:terraform-state:v1\0${name}\0${serial}\0${lineage}`));
    const ciphertext = Buffer.concat([nonce, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
    await store.terraform.putState(
      {
        name,
        serial,
        lineage,
        createdAt: 0,
        size: body.length,
        kmsKeyArn: dataKey.keyId,
        wrappedKey: dataKey.ciphertext,
        ciphertext,
      },
      { keep: 10 },
    );
    expect((await tf.read(name))!.body.equals(body)).toBe(true);
  });

  it('refuses to open a version moved to another state name', async () => {
    const { store, tf } = await backend();
    await tf.write('prod', stateJson(1, 'prod-secret'), undefined);
    const stolen = (await store.terraform.getState('prod'))!;
    const { version: _v, ...copy } = stolen;
    await store.terraform.putState({ ...copy, name: 'dev' }, { keep: 10 });
    expect(await appCode(tf.read('dev'))).toMatch(/InvalidCiphertextException|DecryptionFailure/);
  });

  it('refuses to open a version whose serial was changed in the store', async () => {
    const { store, tf } = await backend();
    await tf.write('app', stateJson(3, 's'), undefined);
    const { version: _v, ...copy } = (await store.terraform.getState('app'))!;
    await store.terraform.putState({ ...copy, serial: 4 }, { keep: 10 });
    expect(await appCode(tf.read('app'))).toMatch(/InvalidCiphertextException|DecryptionFailure/);
  });

  it('cannot read state once its KMS key is disabled', async () => {
    const { kms, keyArn, tf } = await backend();
    await tf.write('app', stateJson(1, 's'), undefined);
    await kms.disableKey(await keyArn());
    expect(await appCode(tf.read('app'))).toBe('DisabledException');
  });

  it('rejects a body that is not a state with an integer serial and a lineage', async () => {
    const { tf } = await backend();
    expect(await appCode(tf.write('app', Buffer.from('not json'), undefined))).toBe('ValidationException');
    expect(await appCode(tf.write('app', Buffer.from('{"serial":"1","lineage":"x"}'), undefined))).toBe(
      'ValidationException',
    );
    expect(await appCode(tf.write('app', Buffer.from('{"serial":1}'), undefined))).toBe('ValidationException');
  });

  it('refuses a locked write before asking KMS for a data key', async () => {
    const { tf, kms, keyArn } = await backend();
    await tf.lock('app', JSON.stringify({ ID: 'holder' }));
    await kms.disableKey(await keyArn());
    // Had it generated a data key first, the disabled key would have failed the write instead.
    expect(await tf.write('app', stateJson(1, 's'), undefined)).toMatchObject({ ok: false, reason: 'locked' });
  });
});

describe('parseLockInfo', () => {
  it('keeps exactly the seven LockInfo fields, filling absent ones and Created from the clock', () => {
    const info = parseLockInfo(JSON.stringify({ ID: 'a', Who: 'me@host', Extra: 'dropped' }), Date.UTC(2026, 0, 1));
    expect(info).toEqual({
      ID: 'a',
      Operation: '',
      Info: '',
      Who: 'me@host',
      Version: '',
      Created: '2026-01-01T00:00:00.000Z',
      Path: '',
    });
  });

  it('rejects a LockInfo without an ID, or that is not JSON', () => {
    expect(() => parseLockInfo('{"Who":"x"}', 0)).toThrow(/ID/);
    expect(() => parseLockInfo('{"ID":""}', 0)).toThrow(AppError);
    expect(() => parseLockInfo('nope', 0)).toThrow(/LockInfo/);
  });
});
