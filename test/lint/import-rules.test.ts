// The import rules of `npm run lint` (.dependency-cruiser.cjs): the real tree passes, and each kind of forbidden
// import, written into a temporary copy of src/ (never the real one: other runs must not see the probes), fails.
import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');
const CRUISE_ARGS = ['src', '--config', '.dependency-cruiser.cjs'];

interface Violation {
  rule: string;
  from: string;
  to: string;
}

/** Runs the lint's depcruise command in `cwd`: its exit code and the violations it printed. */
function cruise(cwd: string): Promise<{ code: number; output: string; violations: Violation[] }> {
  return new Promise((resolve) => {
    execFile(depcruise, CRUISE_ARGS, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      const output = `${stdout}${stderr}`;
      // `  error <rule>: <from> → <to>`; a cycle's path continues on the next lines, its first step is `to`.
      const violations = [...output.matchAll(/error (\S+): (\S+) →\s*(\S+)/g)].map(([, rule, from, to]) => ({
        rule: rule!,
        from: from!,
        to: to!,
      }));
      resolve({ code, output, violations });
    });
  });
}

const rulesBroken = (violations: Violation[], from: string) =>
  violations
    .filter((v) => v.from === from)
    .map((v) => `${v.rule} → ${v.to}`)
    .sort();

it('is what `npm run lint` runs', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  expect(pkg.scripts.lint).toContain(`depcruise ${CRUISE_ARGS.join(' ')}`);
});

it('passes on the real tree', { timeout: 60_000 }, async () => {
  const { code, output, violations } = await cruise(root);
  expect(violations).toEqual([]);
  expect(output).toContain('no dependency violations found');
  expect(code).toBe(0);
});

describe('a forbidden import in a copy of src/', () => {
  let copy: string;
  let result: Awaited<ReturnType<typeof cruise>>;

  const probes: Record<string, string> = {
    'src/kms/__probe_server__.ts': "import { createApp } from '../server/app.js';\nexport const probe = createApp;\n",
    'src/storage/__probe_cli__.ts': "import '../cli.js';\nexport const probe = 1;\n",
    'src/secrets/__probe_crypto__.ts':
      "import { randomBytes } from 'node:crypto';\nexport const probe = randomBytes;\n",
    'src/audit/__probe_bare_crypto__.ts': "import { createHash } from 'crypto';\nexport const probe = createHash;\n",
    'src/auth/__probe_hono__.ts': "import type { Hono } from 'hono';\nexport type Probe = Hono;\n",
    'src/agent/__probe_deep__.ts':
      "import { createKmsEngine } from '../kms/engine.js';\nexport const probe = createKmsEngine;\n",
    'src/core/__probe_cycle_a__.ts': "import { b } from './__probe_cycle_b__.js';\nexport const a = () => b;\n",
    'src/core/__probe_cycle_b__.ts': "import { a } from './__probe_cycle_a__.js';\nexport const b = () => a;\n",
    'src/core/__probe_type_a__.ts':
      "import type { B } from './__probe_type_b__.js';\nexport interface A {\n  b?: B;\n}\n",
    'src/core/__probe_type_b__.ts':
      "import type { A } from './__probe_type_a__.js';\nexport interface B {\n  a?: A;\n}\n",
    'src/agent/__probe_allowed__.ts':
      "import { KEY_SPECS } from '../kms/key-specs.js';\nimport { createKmsEngine } from '../kms/index.js';\n" +
      "import { AppError } from '../core/errors.js';\nexport const probe = [KEY_SPECS, createKmsEngine, AppError];\n",
  };

  beforeAll(async () => {
    copy = mkdtempSync(join(tmpdir(), 'keysafe-import-rules-'));
    cpSync(join(root, 'src'), join(copy, 'src'), { recursive: true });
    for (const file of ['.dependency-cruiser.cjs', 'tsconfig.json', 'package.json']) {
      cpSync(join(root, file), join(copy, file));
    }
    symlinkSync(realpathSync(join(root, 'node_modules')), join(copy, 'node_modules'));
    for (const [file, source] of Object.entries(probes)) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      writeFileSync(join(copy, file), source);
    }
    result = await cruise(copy);
  }, 60_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('fails the lint, naming the rule', () => {
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('error through-index: src/agent/__probe_deep__.ts → src/kms/engine.ts');
  });

  it('from a domain folder into server/ or the cli', () => {
    expect(rulesBroken(result.violations, 'src/kms/__probe_server__.ts')).toEqual([
      'domain-not-to-server-or-cli → src/server/app.ts',
    ]);
    expect(rulesBroken(result.violations, 'src/storage/__probe_cli__.ts')).toEqual([
      'domain-not-to-server-or-cli → src/cli.ts',
    ]);
  });

  it('of node:crypto (or bare crypto) outside src/crypto', () => {
    expect(rulesBroken(result.violations, 'src/secrets/__probe_crypto__.ts')).toEqual([
      'crypto-only-in-src-crypto → crypto',
    ]);
    expect(rulesBroken(result.violations, 'src/audit/__probe_bare_crypto__.ts')).toEqual([
      'crypto-only-in-src-crypto → crypto',
    ]);
  });

  it('of hono in a domain folder, even a type-only one', () => {
    expect(rulesBroken(result.violations, 'src/auth/__probe_hono__.ts')).toEqual([
      'hono-only-at-the-edges → node_modules/hono/dist/types/index.d.ts',
    ]);
  });

  it('of a file behind another folder’s index.ts', () => {
    expect(rulesBroken(result.violations, 'src/agent/__probe_deep__.ts')).toEqual([
      'through-index → src/kms/engine.ts',
    ]);
  });

  it('that closes a cycle, but not a cycle of type-only imports', () => {
    expect(rulesBroken(result.violations, 'src/core/__probe_cycle_a__.ts')).toEqual([
      'no-cycles → src/core/__probe_cycle_b__.ts',
    ]);
    expect(rulesBroken(result.violations, 'src/core/__probe_type_a__.ts')).toEqual([]);
    expect(rulesBroken(result.violations, 'src/core/__probe_type_b__.ts')).toEqual([]);
  });

  it('and nothing else: index.ts, the declared second door and toolbox folders are allowed', () => {
    expect(rulesBroken(result.violations, 'src/agent/__probe_allowed__.ts')).toEqual([]);
    const probed = new Set(Object.keys(probes));
    expect(result.violations.filter((v) => !probed.has(v.from))).toEqual([]);
  });
});
