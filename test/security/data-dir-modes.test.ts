// Every file a real server writes into its data dir is the server user's alone (0600 files, 0700
// directories), even under umask 0: the SQLite database, its -wal and -shm, the root key, the admin
// credentials and the audit log.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { startTestServer, tempDir } from '../support/server.js';

/** path relative to `root` → octal mode, for every file and directory under it. */
function modes(root: string, dir = root, out: Record<string, string> = {}): Record<string, string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out[`${path.slice(root.length + 1)}${entry.isDirectory() ? '/' : ''}`] = (statSync(path).mode & 0o777).toString(8);
    if (entry.isDirectory()) modes(root, path, out);
  }
  return out;
}

describe('data directory modes', () => {
  it('creates the data dir 0700 and every file in it 0600 under umask 0', async () => {
    const parent = tempDir();
    const dataDir = join(parent, 'nested', 'data');
    const umask = process.umask(0);
    try {
      const server = await startTestServer({ dataDir });
      try {
        await server.secretsClient().send(new CreateSecretCommand({ Name: 'modes/db', SecretString: 'x' }));
        const found = modes(dataDir);
        // The test is only meaningful if all of these exist while the server runs.
        for (const name of ['keysafe.db', 'keysafe.db-wal', 'keysafe.db-shm', 'root.key', 'admin-credentials.json']) {
          expect(found[name], name).toBeDefined();
        }
        expect(Object.keys(found).some((f) => f.startsWith('audit/') && f !== 'audit/')).toBe(true);
        const loose = Object.entries(found).filter(([name, mode]) => mode !== (name.endsWith('/') ? '700' : '600'));
        expect(loose).toEqual([]);
        expect((statSync(dataDir).mode & 0o777).toString(8)).toBe('700');
      } finally {
        await server.stop();
      }
    } finally {
      process.umask(umask);
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
