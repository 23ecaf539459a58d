// `keysafe terraform install`: puts the Keysafe Terraform provider where Terraform finds it offline
// (an implied local mirror: `terraform.d/plugins/` of the working directory, or `~/.terraform.d/plugins/`).
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../core/config-error.js';
import { parseFlags } from './args.js';

export const PROVIDER_SOURCE = 'keysafe.local/keysafe/keysafe';

const USAGE = `usage: keysafe terraform install [--dir DIR | --global]

Installs the Keysafe Terraform provider (source "${PROVIDER_SOURCE}", version = this keysafe's version)
for offline use, under DIR/terraform.d/plugins/ (DIR defaults to the current directory, the Terraform
working directory), or under ~/.terraform.d/plugins/ with --global. Then, in your configuration:

  terraform {
    required_providers {
      keysafe = { source = "${PROVIDER_SOURCE}" }
    }
  }
  provider "keysafe" {}   # address/token, or env KEYSAFE_ADDR and KEYSAFE_TOKEN

The provider is a Node.js program (one bundled file and its protocol's .proto files, run by a small wrapper script).
`;

const FLAGS = { dir: { type: 'string' }, global: { type: 'boolean' } } as const;

export function terraformPlatform(platform = process.platform, arch = process.arch): string {
  const os = platform === 'win32' ? 'windows' : platform;
  const cpu = ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[arch] ?? arch;
  return `${os}_${cpu}`;
}

export function keysafeVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export interface InstallResult {
  packageDir: string;
  executable: string;
  version: string;
  /** Whether the provider was bundled into one file (esbuild available), else it runs from dist/. */
  bundled: boolean;
}

/** Writes the provider package (wrapper + bundle) under `pluginsDir`. */
export async function installProvider(pluginsDir: string): Promise<InstallResult> {
  const version = keysafeVersion();
  const packageDir = join(pluginsDir, PROVIDER_SOURCE, version, terraformPlatform());
  const entry = fileURLToPath(new URL('../terraform/provider/main.js', import.meta.url));
  const protoDir = fileURLToPath(new URL('../terraform/provider/proto', import.meta.url));
  if (!existsSync(entry) || !existsSync(protoDir)) {
    throw new Error(
      `the provider's entry point ${entry} or its protocol files are missing: run \`npm run build\` first`,
    );
  }
  rmSync(packageDir, { recursive: true, force: true });
  mkdirSync(packageDir, { recursive: true });
  let target = entry;
  let bundled = false;
  try {
    const esbuild = await import('esbuild');
    target = join(packageDir, 'provider.cjs');
    await esbuild.build({
      entryPoints: [entry],
      outfile: target,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      // CommonJS has no import.meta: give the bundle its own URL, so that the provider finds ./proto beside it.
      define: { 'import.meta.url': '__keysafeBundleUrl' },
      // (The banner precedes esbuild's own "use strict", so it repeats it: the bundle stays strict code.)
      banner: { js: "'use strict';var __keysafeBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
      minify: true,
      legalComments: 'none',
      logLevel: 'error',
    });
    // The plugin protocol's .proto files are read at start, beside the bundle.
    cpSync(protoDir, join(packageDir, 'proto'), { recursive: true });
    bundled = true;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    // esbuild is a dev dependency: without it the wrapper runs the compiled provider from dist/.
    target = entry;
  }
  const executable = join(packageDir, `terraform-provider-keysafe_v${version}`);
  // `exec`: go-plugin kills only its direct child; node must be that child, not a shell.
  writeFileSync(executable, `#!/bin/sh\nexec node "${target}" "$@"\n`);
  chmodSync(executable, 0o755);
  return { packageDir, executable, version, bundled };
}

export async function runTerraform(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseFlags(rest, FLAGS, USAGE);
  if (values.help || sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'install') throw new ConfigError(`unknown terraform command '${sub}'\n\n${USAGE}`);
  if (values.global && values.dir !== undefined)
    throw new ConfigError(`--dir and --global exclude each other\n\n${USAGE}`);
  const pluginsDir = values.global
    ? join(homedir(), '.terraform.d', 'plugins')
    : join(resolve(values.dir ?? '.'), 'terraform.d', 'plugins');
  const result = await installProvider(pluginsDir);
  process.stdout.write(
    `installed ${PROVIDER_SOURCE} ${result.version} in ${result.packageDir}${result.bundled ? '' : ' (unbundled: esbuild not available, runs from dist/)'}\n` +
      'If a .terraform.lock.hcl recorded another build of this version, delete its keysafe entry and run terraform init again.\n',
  );
  return 0;
}
