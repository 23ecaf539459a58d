// `npm start`'s build step (scripts/build-if-stale.mjs), run for real on a scratch project whose `build`
// counts its runs: it builds when an input changed since the last successful build, and only then.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../support/server.js';

const SCRIPT = join(import.meta.dirname, '../../scripts/build-if-stale.mjs');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A project whose build appends a line to builds.log, and fails while FAIL exists. */
function scratchProject(): string {
  const root = tempDir('build-if-stale-');
  dirs.push(root);
  mkdirSync(join(root, 'scripts'));
  mkdirSync(join(root, 'src'));
  mkdirSync(join(root, 'dist'));
  copyFileSync(SCRIPT, join(root, 'scripts/build-if-stale.mjs'));
  const build =
    "const fs = require('node:fs'); fs.appendFileSync('builds.log', 'built\\n'); process.exit(fs.existsSync('FAIL') ? 2 : 0)";
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({ name: 'scratch', scripts: { build: `node -e "${build}"` } }),
  );
  writeFileSync(join(root, 'src/a.ts'), 'export const a = 1;\n');
  return root;
}

function start(root: string) {
  const run = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: root, encoding: 'utf8' });
  const builds = existsSync(join(root, 'builds.log'))
    ? readFileSync(join(root, 'builds.log'), 'utf8').split('\n').length - 1
    : 0;
  return { status: run.status, stdout: run.stdout, builds };
}

/** Moves a path's modification time `s` seconds ahead (a later save). */
function touch(path: string, s = 5): void {
  const later = Date.now() / 1000 + s;
  utimesSync(path, later, later);
}

describe('build-if-stale', () => {
  it('builds the first time, then skips while nothing changed', () => {
    const root = scratchProject();
    expect(start(root)).toMatchObject({ status: 0, builds: 1 });
    const second = start(root);
    expect(second).toMatchObject({ status: 0, builds: 1 });
    expect(second.stdout).toContain('up to date');
  });

  it('builds again after a source, a new file or the package file changes', () => {
    const root = scratchProject();
    start(root);
    touch(join(root, 'src/a.ts'));
    expect(start(root).builds).toBe(2);
    writeFileSync(join(root, 'src/b.ts'), 'export const b = 2;\n');
    touch(join(root, 'src/b.ts'), 10);
    expect(start(root).builds).toBe(3);
    touch(join(root, 'package.json'), 15);
    expect(start(root).builds).toBe(4);
    expect(start(root).builds).toBe(4);
  });

  it('never takes a failed build for a good one: it fails the start and builds again next time', () => {
    const root = scratchProject();
    writeFileSync(join(root, 'FAIL'), '');
    expect(start(root)).toMatchObject({ status: 2, builds: 1 });
    rmSync(join(root, 'FAIL'));
    expect(start(root)).toMatchObject({ status: 0, builds: 2 });
    expect(start(root).builds).toBe(2);
  });

  it('builds when the stamp is unreadable', () => {
    const root = scratchProject();
    start(root);
    writeFileSync(join(root, 'dist/.build-stamp'), 'garbage\n');
    expect(start(root).builds).toBe(2);
  });
});
