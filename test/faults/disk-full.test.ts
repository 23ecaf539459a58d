// Fault: the disk fills up under a running server, first under its SQLite store, then under its audit log.
// Each: a clear refusal (503 naming the cause, a readable log line), reads unharmed where they can be,
// recovery once space is freed, and nothing that was acknowledged lost (proved after a restart).
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../../src/audit/index.js';
import { type ServerProcess, spawnServer } from '../support/process.js';
import { failure, kmsClient, secretsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { cannotMount, Tmpfs } from './fault-support.js';

const dir = tempDir('keysafe-disk-full-');
let storeFs: Tmpfs;
let auditFs: Tmpfs;
let server: ServerProcess;

const start = () =>
  spawnServer(join(dir, 'data'), ['--config', join(dir, 'server.json'), '--store', `sqlite:${storeFs.dir}/keysafe.db`]);
const readyStatus = async () => (await fetch(`${server.url}/readyz`)).status;
const noStack = (message: string) => expect(message).not.toMatch(/\n\s+at |SqliteError/);

beforeAll(async () => {
  if (cannotMount) return;
  storeFs = new Tmpfs(join(dir, 'store'), 2 * 1024 * 1024);
  auditFs = new Tmpfs(join(dir, 'audit'), 256 * 1024);
  writeFileSync(join(dir, 'server.json'), JSON.stringify({ audit: { dir: auditFs.dir } }));
  server = await start();
});

afterAll(async () => {
  server?.child.kill('SIGKILL');
  await server?.exited;
  storeFs?.unmount();
  auditFs?.unmount();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(cannotMount)('disk full', () => {
  it('refuses writes with ServiceUnavailableException while the store disk is full, keeps reads, and loses nothing acknowledged', async () => {
    let sm = secretsClient(server);
    let kms = kmsClient(server);
    const first = await sm.send(new CreateSecretCommand({ Name: 'full/app', SecretString: 'initial' }));
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'before the fault' }));
    const blob = (await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('kept') })))
      .CiphertextBlob!;

    // What was acknowledged (must survive) and what was refused (must leave nothing behind).
    const created = new Map<string, string>();
    const keys = [KeyMetadata!.KeyId!];
    const puts = [{ versionId: first.VersionId!, value: 'initial' }];
    const refused = { createSecret: [] as string[], put: [] as string[], createKey: 0 };
    const errors: { name: string; status?: number; message: string }[] = [];

    storeFs.fill();
    // Mixed writes until each kind was refused: a smaller write may still fit where a bigger one
    // failed (SQLite reuses the space of a rolled-back transaction), and that is fine if it lasts.
    for (let i = 0; i < 300; i++) {
      if (refused.createSecret.length > 0 && refused.put.length > 0 && refused.createKey > 0) break;
      const value = `value-${i}-${'x'.repeat(2048)}`;
      const kind = i % 3;
      try {
        if (kind === 0) {
          await sm.send(new CreateSecretCommand({ Name: `full/s${i}`, SecretString: value }));
          created.set(`full/s${i}`, value);
        } else if (kind === 1) {
          const token = randomUUID();
          try {
            const r = await sm.send(
              new PutSecretValueCommand({ SecretId: 'full/app', SecretString: value, ClientRequestToken: token }),
            );
            puts.push({ versionId: r.VersionId!, value });
          } catch (e) {
            refused.put.push(token);
            throw e;
          }
        } else {
          keys.push((await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!);
        }
      } catch (e) {
        const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
        errors.push({ name: err.name, status: err.$metadata?.httpStatusCode, message: err.message });
        if (kind === 0) refused.createSecret.push(`full/s${i}`);
        if (kind === 2) refused.createKey++;
      }
    }
    expect(refused.createSecret.length * refused.put.length * refused.createKey).toBeGreaterThan(0);
    for (const e of errors) {
      expect({ name: e.name, status: e.status }).toEqual({ name: 'ServiceUnavailableException', status: 503 });
      expect(e.message).toMatch(/data store is unavailable: its disk is full \(SQLITE_FULL\)/);
      noStack(e.message);
      expect(e.message).not.toContain('value-');
    }
    // One readable line for the operator, not a stack per request.
    await until(
      () => /"level":"error","msg":"data store fault[^"]*","code":"SQLITE_FULL"/.test(server.output()),
      2000,
      'the store fault is logged',
    );
    expect(server.output()).not.toContain('"msg":"request failed"');
    expect(server.output()).not.toContain('x'.repeat(64)); // no value in any log line

    // Reads need no space.
    const current = puts.at(-1)!.value;
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'full/app' }))).SecretString).toBe(current);
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(
      'kept',
    );

    // A restart while the disk is still full: the server starts, serves reads and refuses writes.
    sm.destroy();
    kms.destroy();
    server.child.kill('SIGKILL');
    await server.exited;
    server = await start();
    sm = secretsClient(server);
    kms = kmsClient(server);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'full/app' }))).SecretString).toBe(current);
    const stillFull = await failure(
      sm.send(new CreateSecretCommand({ Name: 'full/after-restart', SecretString: 'x'.repeat(8192) })),
    );
    expect(stillFull).toMatchObject({ name: 'ServiceUnavailableException', status: 503 });

    storeFs.free();
    const after = await sm.send(new PutSecretValueCommand({ SecretId: 'full/app', SecretString: 'after' }));
    puts.push({ versionId: after.VersionId!, value: 'after' });
    keys.push((await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!);
    sm.destroy();
    kms.destroy();

    // A restart reads only what reached the disk.
    server.child.kill('SIGKILL');
    await server.exited;
    server = await start();
    const sm2 = secretsClient(server);
    const kms2 = kmsClient(server);
    try {
      for (const [name, value] of created) {
        expect((await sm2.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(value);
      }
      for (const name of refused.createSecret) {
        expect((await failure(sm2.send(new DescribeSecretCommand({ SecretId: name })))).name).toBe(
          'ResourceNotFoundException',
        );
      }
      const stages = (await sm2.send(new DescribeSecretCommand({ SecretId: 'full/app' }))).VersionIdsToStages!;
      expect(stages[puts.at(-1)!.versionId]).toContain('AWSCURRENT');
      expect(stages[puts.at(-2)!.versionId]).toContain('AWSPREVIOUS');
      expect(Object.values(stages).filter((s) => s.includes('AWSCURRENT'))).toHaveLength(1);
      for (const token of refused.put) {
        const miss = await failure(sm2.send(new GetSecretValueCommand({ SecretId: 'full/app', VersionId: token })));
        expect(miss.name).toBe('ResourceNotFoundException');
      }
      for (const keyId of keys) {
        expect((await kms2.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('Enabled');
      }
      const dec = await kms2.send(new DecryptCommand({ CiphertextBlob: blob }));
      expect(Buffer.from(dec.Plaintext!).toString()).toBe('kept');
    } finally {
      sm2.destroy();
      kms2.destroy();
    }
  });

  it('refuses requests (503) and reports not ready while the audit disk is full, and comes back by itself', async () => {
    storeFs.free(); // in case the test before failed half-way
    const sm = secretsClient(server);
    await sm.send(new CreateSecretCommand({ Name: 'full/audited', SecretString: 'audited' }));
    const answered: string[] = [];
    const read = async () => {
      const r = await sm.send(new GetSecretValueCommand({ SecretId: 'full/audited' }));
      answered.push(r.$metadata.requestId!);
      return r;
    };
    await read();

    auditFs.fill();
    let refusal: Awaited<ReturnType<typeof failure>> | undefined;
    for (let i = 0; i < 300 && !refusal; i++) {
      try {
        await read();
      } catch (e) {
        refusal = { name: (e as Error).name, message: (e as Error).message };
        refusal.status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      }
    }
    expect(refusal).toEqual({
      name: 'ServiceUnavailableException',
      status: 503,
      message: 'The audit log cannot be written; try again later.',
    });
    expect(await readyStatus()).toBe(503);
    await until(
      () => /"level":"error","msg":"audit log write failed[^"]*","error":"ENOSPC/.test(server.output()),
      2000,
      'the audit fault is logged',
    );
    // Still full: every request is refused, not served unrecorded now and then.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 300));
      expect((await failure(read())).name).toBe('ServiceUnavailableException');
      expect(await readyStatus()).toBe(503);
    }

    auditFs.free();
    // Ready again with no request to wake it: a load balancer sends none to a replica that is not ready.
    await until(async () => (await readyStatus()) === 200, 5000, 'ready after space is freed');
    await read();

    // Every answered request is on record, and the hash chain is whole.
    const recorded = new Set(
      readdirSync(auditFs.dir)
        .filter((f) => f.endsWith('.log'))
        .flatMap((f) => readFileSync(join(auditFs.dir, f), 'utf8').split('\n').filter(Boolean))
        .map((line) => (JSON.parse(line) as { requestId: string }).requestId),
    );
    expect(answered.filter((id) => !recorded.has(id))).toEqual([]);
    expect(verifyAuditLog(auditFs.dir)).toMatchObject({ ok: true });
    sm.destroy();
  });
});
