// The keysafe command line: usage errors exit 2 with a message naming the problem.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, spawnServer } from '../support/process.js';
import { tempDir } from '../support/server.js';

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('keysafe CLI', () => {
  it('prints help with exit 0, and refuses unknown commands and flags with exit 2', async () => {
    expect(await run(['help'])).toMatchObject({ code: 0, stdout: expect.stringContaining('usage: keysafe') });
    expect(await run(['server', '--help'])).toMatchObject({ code: 0, stdout: expect.stringContaining('--listen') });
    expect(await run(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown command 'frobnicate'"),
    });
    expect(await run(['server', '--no-such-flag'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--no-such-flag'),
    });
    expect(await run(['server', '--listen', 'nowhere'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('HOST:PORT'),
    });
  });

  it('says the port is taken instead of crashing when another server listens there', async () => {
    const a = tempDir();
    const b = tempDir();
    dirs.push(a, b);
    const first = await spawnServer(a);
    try {
      const second = await run(['server', '--data-dir', b, '--listen', new URL(first.url).host]);
      expect(second).toMatchObject({ code: 2, stderr: expect.stringContaining('EADDRINUSE') });
      expect(second.stderr).not.toContain('    at ');
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
  });
});
