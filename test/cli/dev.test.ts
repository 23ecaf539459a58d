// `keysafe dev` (what `npm start` runs): the lines it prints work when pasted into a shell.
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, freePort } from '../support/process.js';
import { tempDir } from '../support/server.js';

const dataDir = tempDir();
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('keysafe dev', () => {
  it('starts a server with a demo key and secret and prints aws commands that work as printed', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'dev', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise((ok) => child.on('exit', (code) => ok(code)));
    try {
      const deadline = Date.now() + 15_000;
      while (!out.includes('Press Ctrl-C') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain(`Keysafe is running: http://127.0.0.1:${port}`);
      const lines = out
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('export ') || l.startsWith('aws ') || l.startsWith('printf '));
      expect(lines).toHaveLength(5);
      const script = `set -euo pipefail\nexport AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null\n${lines.join('\n')}\n`;
      const result = execFileSync('bash', ['-c', script], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: dataDir },
      });
      expect(result).toContain('alias/keysafe-demo');
      expect(result).toContain('hello keysafe');
      expect(JSON.parse(/\{.*\}/.exec(result)![0])).toMatchObject({ username: 'app' });
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
