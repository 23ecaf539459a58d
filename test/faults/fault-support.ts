// Shared by the fault-injection tests: tmpfs mounts to fill or freeze, and a server that must refuse to start.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, freePort, spawnCaptured } from '../support/process.js';

/** Why tmpfs cannot be mounted here (not root, no CAP_SYS_ADMIN), or undefined when it can. */
export const cannotMount: string | undefined = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'keysafe-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `mount -t tmpfs is not permitted here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}): the disk fault tests need root`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();
// CI runs as root (KEYSAFE_REQUIRE_TMPFS=1): there a missing mount is a failure, not a silent skip.
if (cannotMount && process.env.KEYSAFE_REQUIRE_TMPFS === '1') throw new Error(cannotMount);
if (cannotMount) console.warn(`SKIPPED: ${cannotMount}`);

/** A small tmpfs at `dir` (created), to fill up or make read-only. */
export class Tmpfs {
  #filler: string | undefined;
  constructor(
    readonly dir: string,
    sizeBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  }

  /** Writes a filler file until the file system reports ENOSPC: the next allocation fails. */
  fill(): void {
    this.#filler = join(this.dir, `filler-${process.hrtime.bigint()}`);
    const fd = openSync(this.#filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    } finally {
      closeSync(fd);
    }
  }

  /** Removes the filler: space is back. */
  free(): void {
    if (this.#filler) unlinkSync(this.#filler);
    this.#filler = undefined;
  }

  remount(mode: 'ro' | 'rw'): void {
    execFileSync('mount', ['-o', `remount,${mode}`, this.dir], { stdio: 'pipe' });
  }

  unmount(): void {
    try {
      execFileSync('umount', [this.dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', this.dir], { stdio: 'pipe' });
    }
  }
}

/** Runs `keysafe server` expecting it to refuse to start: its exit code (or 'hung') and its output. */
export async function serverStartFailure(
  dataDir: string,
  args: string[],
  ms = 8000,
): Promise<{ code: number | string; output: string }> {
  const { child, output } = spawnCaptured(
    process.execPath,
    [CLI, 'server', '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', dataDir, ...args],
    { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('hung');
    }, ms);
    child.on('exit', (c, signal) => {
      clearTimeout(timer);
      resolve(c ?? signal ?? -1);
    });
  });
  return { code, output: output() };
}
