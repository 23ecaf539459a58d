// Whether the real `terraform` binary can run here (in CI, KEYSAFE_REQUIRE_TERRAFORM=1, its absence fails),
// and running it isolated from the machine's own configuration.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'vitest';
import { CLI } from './process.js';
import { tempDir } from './server.js';

function terraformOnPath(): boolean {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    return true;
  } catch {
    return false;
  }
}

/**
 * True when terraform is on PATH. Otherwise says so and returns false (callers skip), or, with
 * KEYSAFE_REQUIRE_TERRAFORM=1, registers a failing test instead of skipping silently.
 */
export function requireTerraform(what: string): boolean {
  if (terraformOnPath()) return true;
  if (process.env.KEYSAFE_REQUIRE_TERRAFORM === '1') {
    it('finds terraform on PATH (KEYSAFE_REQUIRE_TERRAFORM=1)', () => {
      throw new Error('terraform is not on PATH, and KEYSAFE_REQUIRE_TERRAFORM=1 requires it');
    });
  } else {
    console.warn(`terraform is not on PATH: skipping ${what}`);
  }
  return false;
}

export interface TerraformRun {
  code: number;
  stdout: string;
  stderr: string;
  endedAt: number;
}

/**
 * Starts `terraform args` in `dir` with only `env` besides PATH: its HOME and CLI config file, and the
 * settings of an unattended run (no checkpoint, no input).
 */
export function startTerraform(
  dir: string,
  args: string[],
  env: { HOME: string; TF_CLI_CONFIG_FILE: string } & NodeJS.ProcessEnv,
): { child: ChildProcess; done: Promise<TerraformRun> } {
  const child = spawn('terraform', args, {
    cwd: dir,
    env: { PATH: process.env.PATH, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<TerraformRun>((ok, fail) => {
    child.on('error', fail);
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr, endedAt: Date.now() }));
  });
  return { child, done };
}

/**
 * A temp working directory with an empty CLI config (nothing from the machine's own, no registry, no
 * plugin cache) and, with `install`, Keysafe's provider installed offline under its terraform.d/plugins
 * (an implied local mirror).
 */
export function terraformWorkDir(
  prefix: string,
  options: { install?: boolean } = {},
): { dir: string; cliConfig: string } {
  const dir = tempDir(prefix);
  const cliConfig = join(dir, 'terraformrc');
  writeFileSync(cliConfig, '');
  if (options.install) execFileSync(process.execPath, [CLI, 'terraform', 'install', '--dir', dir], { stdio: 'pipe' });
  return { dir, cliConfig };
}
