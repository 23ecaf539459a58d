// The root of trust: key file permissions, the env override, and online root key rotation.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { RootKey } from '../../src/crypto/index.js';
import { CLI, spawnServer } from '../support/process.js';
import { kmsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';

const run = promisify(execFile);
const dirs: string[] = [];
const newDir = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function rootKeyIdsInDb(dataDir: string): string[] {
  const db = new Database(join(dataDir, 'keysafe.db'), { readonly: true });
  try {
    return (db.prepare('SELECT DISTINCT root_key_id FROM kms_key_versions').all() as { root_key_id: string }[]).map(
      (r) => r.root_key_id,
    );
  } finally {
    db.close();
  }
}

const fingerprint = (file: string) =>
  RootKey.fromBytesInsecure(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).id;

describe('root key file', () => {
  it('is created with mode 0600 on first start, with admin credentials beside it', async () => {
    const dataDir = newDir();
    const server = await spawnServer(dataDir);
    server.child.kill('SIGTERM');
    await server.exited;
    expect(statSync(join(dataDir, 'root.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'admin-credentials.json')).mode & 0o777).toBe(0o600);
  });

  it('refuses to start when group or others can read the root key', async () => {
    const dataDir = newDir();
    writeFileSync(join(dataDir, 'root.key'), `${Buffer.alloc(32, 1).toString('base64')}\n`, { mode: 0o644 });
    chmodSync(join(dataDir, 'root.key'), 0o644);
    const result = await run(process.execPath, [CLI, 'server', '--listen', '127.0.0.1:0', '--data-dir', dataDir]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(result).toMatchObject({ code: 2 });
    expect((result as { stderr: string }).stderr).toContain('readable by group or others');
  });

  it('refuses to start with a root key that did not wrap the database, naming both key ids', async () => {
    const dataDir = newDir();
    const server = await spawnServer(dataDir);
    const kms = kmsClient(server);
    await kms.send(new CreateKeyCommand({}));
    kms.destroy();
    server.child.kill('SIGTERM');
    await server.exited;
    const original = fingerprint(join(dataDir, 'root.key'));
    const other = join(dataDir, 'other.key');
    writeFileSync(other, `${RootKey.generateBytesInsecure().toString('base64')}\n`, { mode: 0o600 });
    const result = await run(process.execPath, [
      CLI,
      'server',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--root-key-file',
      other,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(result).toMatchObject({ code: 2 });
    expect((result as { stderr: string }).stderr).toContain(`wrapped under root key ${original}`);
    expect((result as { stderr: string }).stderr).toContain(fingerprint(other));
  });

  it('takes the root key from KEYSAFE_ROOT_KEY without writing a file', async () => {
    const dataDir = newDir();
    const key = Buffer.alloc(32, 7).toString('base64');
    const server = await spawnServer(dataDir, [], { KEYSAFE_ROOT_KEY: key });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(existsSync(join(dataDir, 'root.key'))).toBe(false);
    const bad = await run(process.execPath, [CLI, 'server', '--data-dir', dataDir], {
      env: { PATH: process.env.PATH, KEYSAFE_ROOT_KEY: 'c2hvcnQ=' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2 });
    expect((bad as { stderr: string }).stderr).toContain('KEYSAFE_ROOT_KEY');
  });
});

describe('root key rotation', () => {
  it('re-wraps every key version online while decryption keeps working', async () => {
    const dataDir = newDir();
    const server = await spawnServer(dataDir);
    const kms = kmsClient(server);
    const blobs: { blob: Uint8Array; text: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
      const enc = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from(`m${i}`) }));
      blobs.push({ blob: enc.CiphertextBlob!, text: `m${i}` });
    }
    const oldId = fingerprint(join(dataDir, 'root.key'));
    expect(rootKeyIdsInDb(dataDir)).toEqual([oldId]);

    // Decrypt continuously while the rotation runs; every call must succeed.
    let stop = false;
    let decrypted = 0;
    const reader = (async () => {
      while (!stop) {
        const c = blobs[decrypted % blobs.length]!;
        const dec = await kms.send(new DecryptCommand({ CiphertextBlob: c.blob }));
        expect(Buffer.from(dec.Plaintext!).toString()).toBe(c.text);
        decrypted++;
      }
    })();
    const { stdout } = await run(process.execPath, [
      CLI,
      'rotate-root-key',
      '--server',
      server.url,
      '--data-dir',
      dataDir,
    ]);
    stop = true;
    await reader;
    // The 20 keys made here, and the server's session signing key (alias/keysafe/sessions).
    expect(stdout).toContain('21 key versions re-wrapped');
    expect(decrypted).toBeGreaterThan(0);

    const newId = fingerprint(join(dataDir, 'root.key'));
    expect(newId).not.toBe(oldId);
    expect(rootKeyIdsInDb(dataDir)).toEqual([newId]);
    expect(existsSync(join(dataDir, 'root.key.next'))).toBe(false);
    expect(statSync(join(dataDir, 'root.key')).mode & 0o777).toBe(0o600);

    // After a restart only the new root key exists, and everything still decrypts.
    server.child.kill('SIGTERM');
    await server.exited;
    kms.destroy();
    const again = await spawnServer(dataDir);
    const kms2 = kmsClient(again);
    for (const c of blobs) {
      const dec = await kms2.send(new DecryptCommand({ CiphertextBlob: c.blob }));
      expect(Buffer.from(dec.Plaintext!).toString()).toBe(c.text);
    }
    kms2.destroy();
    again.child.kill('SIGTERM');
    await again.exited;
  });

  it('finishes a rotation interrupted by a crash when the server starts again', async () => {
    const dataDir = newDir();
    const server = await spawnServer(dataDir);
    const kms = kmsClient(server);
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const enc = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('kept') }));
    server.child.kill('SIGKILL');
    await server.exited;
    kms.destroy();
    // The crash happened right after the new key file was written, before any re-wrap.
    writeFileSync(join(dataDir, 'root.key.next'), `${RootKey.generateBytesInsecure().toString('base64')}\n`, {
      mode: 0o600,
    });
    const nextId = fingerprint(join(dataDir, 'root.key.next'));
    const again = await spawnServer(dataDir);
    expect(fingerprint(join(dataDir, 'root.key'))).toBe(nextId);
    expect(rootKeyIdsInDb(dataDir)).toEqual([nextId]);
    const kms2 = kmsClient(again);
    const dec = await kms2.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('kept');
    kms2.destroy();
    again.child.kill('SIGTERM');
    await again.exited;
  });
});
