// Runs the built `keysafe` binary as a child process, as users and CI do.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdminCredentials } from '../../src/server/admin-credentials.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO, 'dist', 'cli.js');

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  await new Promise((ok) => srv.close(ok));
  return port;
}

/** A child process whose stdout and stderr are kept, interleaved, as one text. */
export interface CapturedProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

export function spawnCaptured(command: string, args: string[], options: SpawnOptions = {}): CapturedProcess {
  const child = spawn(command, args, options);
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return { child, output: () => out, exited };
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  admin: AdminCredentials;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

export async function spawnServer(
  dataDir: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
  /** A fixed port, e.g. to restart a server where its clients expect it. */
  fixedPort?: number,
): Promise<ServerProcess> {
  const port = fixedPort ?? (await freePort());
  const { child, output } = spawnCaptured(
    process.execPath,
    [CLI, 'server', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...extraArgs],
    { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | string>((ok) => child.on('exit', (code, signal) => ok(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early: ${output()}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`server did not become ready: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const adminFile = extraArgs[extraArgs.indexOf('--admin-credentials-file') + 1];
  const admin = JSON.parse(
    readFileSync(
      extraArgs.includes('--admin-credentials-file') && adminFile ? adminFile : join(dataDir, 'admin-credentials.json'),
      'utf8',
    ),
  ) as AdminCredentials;
  return { child, url, admin, output, exited };
}
