// `keysafe dev` (what `npm start` runs): the lines it prints work when pasted into a shell.
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, freePort } from '../support/process.js';
import { tempDir } from '../support/server.js';

const dataDir = tempDir();
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('keysafe dev', () => {
  it('starts a server, a demo workload and its agent, and prints commands that work as printed', async () => {
    const port = await freePort();
    const agentPort = await freePort();
    const child = spawn(
      process.execPath,
      [CLI, 'dev', '--listen', `127.0.0.1:${port}`, '--agent-listen', `127.0.0.1:${agentPort}`, '--data-dir', dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
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

      // The sidecar's files and endpoint, exactly as printed.
      const shell = (line: string) =>
        execFileSync('bash', ['-c', line], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dataDir } });
      const cat = out
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.startsWith('cat '))!;
      const files = shell(cat);
      expect(files).toContain('"username":"app"');
      expect(files).toContain("export username='app'");
      expect(files).toMatch(/postgres:\/\/app:.+@localhost\/app/);
      const curl = out
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.startsWith('curl '))!;
      const served = JSON.parse(shell(curl)) as { Name: string; SecretString: string };
      expect(served.Name).toBe('keysafe-demo/db');
      expect(JSON.parse(served.SecretString)).toMatchObject({ username: 'app' });
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
