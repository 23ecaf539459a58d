// Real Python clients (boto3 and the aws CLI) against the built server: runs the pytest suite in test/python.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// The BYOK walkthrough (test_kms_byok_cli.py) runs ~25 aws CLI and openssl commands: minutes on a loaded machine.
const TIMEOUT_MS = 300_000;

function tail(text: string, lines = 80): string {
  return text.split('\n').slice(-lines).join('\n');
}

describe('Python AWS clients', () => {
  it(
    'boto3 and the aws CLI pass the pytest suite against a running server',
    () => {
      const run = spawnSync('python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'test/python'], {
        cwd: REPO,
        encoding: 'utf8',
        // Keep bytecode out of the tree and the terminal free of colour codes.
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PY_COLORS: '0' },
        timeout: TIMEOUT_MS - 5_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      const report = `pytest ${run.error ? `failed to run: ${run.error.message}` : `exited ${run.status ?? run.signal}`}\n${tail(run.stdout ?? '')}\n${tail(run.stderr ?? '', 20)}`;
      expect(run.error, report).toBeUndefined();
      expect(run.status, report).toBe(0);
    },
    TIMEOUT_MS,
  );
});
