// Whether the real `terraform` binary can run here; in CI (KEYSAFE_REQUIRE_TERRAFORM=1) its absence fails.
import { execFileSync } from 'node:child_process';
import { it } from 'vitest';

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
