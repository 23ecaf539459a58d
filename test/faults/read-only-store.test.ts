// Fault: the SQLite store's volume is read-only when the server starts (a readOnly volume, a restore
// with the wrong mount options). A running server cannot be caught this way: it holds its files open
// for writing, so the kernel refuses the remount (EBUSY), and as root chmod would not stop it either.
// Expected: a clear refusal to start (exit 2, the file and the cause named, no stack), after a clean
// stop and after a crash alike; and once the volume is writable, a normal start with every write
// acknowledged before still there.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../support/process.js';
import { kmsClient, secretsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';
import { cannotMount, serverStartFailure, Tmpfs } from './fault-support.js';

const dir = tempDir('keysafe-ro-store-');
let storeFs: Tmpfs | undefined;
afterAll(() => {
  storeFs?.unmount();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(cannotMount)('read-only store', () => {
  it('refuses to start with a clear error on a read-only store, after a crash or a clean stop, and starts once it is writable', async () => {
    storeFs = new Tmpfs(join(dir, 'store'), 4 * 1024 * 1024);
    const dataDir = join(dir, 'data');
    const args = ['--store', `sqlite:${storeFs.dir}/keysafe.db`];
    const acked = new Map<string, string>();
    const keys: string[] = [];

    for (const stop of ['SIGKILL', 'SIGTERM'] as const) {
      const server = await spawnServer(dataDir, args);
      const sm = secretsClient(server);
      const kms = kmsClient(server);
      await sm.send(new CreateSecretCommand({ Name: `ro/${stop}`, SecretString: 'first' }));
      await sm.send(new PutSecretValueCommand({ SecretId: `ro/${stop}`, SecretString: `acked before ${stop}` }));
      acked.set(`ro/${stop}`, `acked before ${stop}`);
      keys.push((await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!);
      sm.destroy();
      kms.destroy();
      // A crash leaves the WAL and its index behind (SQLite then opens the file read-only and
      // fails at the first write); a clean stop leaves the database file alone (the open fails).
      server.child.kill(stop);
      await server.exited;

      storeFs.remount('ro');
      const refused = await serverStartFailure(dataDir, args);
      expect(refused.code).toBe(2);
      expect(refused.output).toMatch(
        new RegExp(`keysafe: store: .*${storeFs.dir}/keysafe\\.db.*read-only file system`.replaceAll('/', '\\/')),
      );
      expect(refused.output).not.toMatch(/\n\s+at /);
      storeFs.remount('rw');
    }

    const server = await spawnServer(dataDir, args);
    const sm = secretsClient(server);
    const kms = kmsClient(server);
    try {
      for (const [name, value] of acked) {
        expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(value);
        const stages = (await sm.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages!;
        expect(Object.values(stages).filter((s) => s.includes('AWSCURRENT'))).toHaveLength(1);
      }
      for (const keyId of keys) {
        expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('Enabled');
      }
      await sm.send(new PutSecretValueCommand({ SecretId: 'ro/SIGKILL', SecretString: 'writable again' }));
      expect((await sm.send(new GetSecretValueCommand({ SecretId: 'ro/SIGKILL' }))).SecretString).toBe(
        'writable again',
      );
    } finally {
      sm.destroy();
      kms.destroy();
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });
});
