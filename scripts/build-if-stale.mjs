// `npm start`'s build step: runs `npm run build` only when an input changed since the last successful
// build, so a second `npm start` with nothing changed skips the ~8 s compile (issue 17).
//
// Inputs are src/ (sources and the .proto files the build copies), the tsconfigs and the package files;
// the stamp dist/.build-stamp (the newest input's time) is written only after a build that succeeded, so a failed or interrupted
// build (tsc still emits on type errors) is never taken for a good one.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const STAMP = join(ROOT, 'dist', '.build-stamp');
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/** The newest modification time under `path` (a file or a folder, walked whole); 0 when absent. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs; // a deleted or renamed file changes its folder's time
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** The inputs' time the last successful build was made from; -1 when there was none. */
function builtFrom() {
  try {
    return Number(readFileSync(STAMP, 'utf8').split('\n')[0]);
  } catch {
    return -1;
  }
}

const inputs = Math.max(...INPUTS.map((p) => newest(join(ROOT, p))));
if (builtFrom() >= inputs) {
  console.log('build: dist/ is up to date with src/ (skipped; `npm run build` forces it)');
} else {
  const run = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
  // The inputs' time as read before the build: a file saved during the build is newer, so the next start builds.
  writeFileSync(STAMP, `${inputs}\nthe newest input of the last successful build (scripts/build-if-stale.mjs)\n`);
}
