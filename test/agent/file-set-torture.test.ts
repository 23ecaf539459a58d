// Torture test: a separate reader process never sees a partial, empty or mixed file set during 200 rotations.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSet } from '../../src/agent/file-set.js';

const READER = fileURLToPath(new URL('../fixtures/agent-file-set-reader.mjs', import.meta.url));
const ROTATIONS = 200;

/** Both files derive from one "secret" version N; different lengths so a torn read shows. */
const fileSet = (dir: string, n: number) => [
  { path: join(dir, 'a.txt'), content: Buffer.from(`v${n}:a:${'a'.repeat(4096)}:end`), mode: 0o400 },
  { path: join(dir, 'b.txt'), content: Buffer.from(`v${n}:b:${'b'.repeat(9000)}:end`), mode: 0o400 },
];

interface ReaderReport {
  iterations: number;
  versions: number;
  violations: string[];
  violationCount: number;
  retries: number;
  sawFinal: boolean;
}

let reader: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  if (reader && reader.exitCode === null) reader.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('writeFileSet under a concurrent reader', () => {
  it('never shows a partial, empty or mixed set across 200 rotations', async () => {
    dir = mkdtempSync(join(tmpdir(), 'keysafe-torture-'));
    await writeFileSet(fileSet(dir, 0));

    const child = spawn(process.execPath, [READER, dir, String(ROTATIONS), '8000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    reader = child;
    let out = '';
    child.stdout!.setEncoding('utf8');
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        if (out.startsWith('ready\n')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`reader exited early (${code}): ${out}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await ready;

    const started = performance.now();
    for (let n = 1; n <= ROTATIONS; n++) {
      const result = await writeFileSet(fileSet(dir, n));
      expect(result.changed).toHaveLength(2);
    }
    const writeMs = performance.now() - started;

    expect(await exited).toBe(0);
    const report = JSON.parse(out.split('\n')[1]!) as ReaderReport;
    expect(report.violations).toEqual([]);
    expect(report.violationCount).toBe(0);
    expect(report.sawFinal).toBe(true);
    // The reader really ran concurrently with the writes: it saw many of the 201 versions.
    expect(report.versions).toBeGreaterThanOrEqual(20);
    expect(report.iterations).toBeGreaterThan(report.versions);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toMatch(/^v200:a:/);
    expect(readFileSync(join(dir, '..data', 'b.txt'), 'utf8')).toMatch(/^v200:b:/);
    // Only the current and the previous generation remain.
    expect(readdirSync(dir).filter((name) => name.startsWith('..') && name !== '..data')).toHaveLength(2);
    console.log(
      `torture: ${ROTATIONS} rotations in ${writeMs.toFixed(0)} ms; reader ${report.iterations} iterations, ` +
        `${report.versions} distinct versions, ${report.retries} re-resolutions of ..data`,
    );
  }, 20_000);
});
