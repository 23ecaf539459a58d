#!/usr/bin/env node
// The `keysafe` command: one binary, one sub-command per job.
import { ConfigError } from './core/config-error.js';

const USAGE = `usage: keysafe <command> [options]

commands:
  server            run the KMS server (AWS KMS JSON API, SigV4)
  agent             the sidecar: secrets to files and a localhost endpoint, kept current
  exec              run a command with secrets in its environment, restarted on rotation
  dev               run a server on ./keysafe-dev for a first look (npm start)
  rotate-root-key   re-wrap all key material under a new root key, online
  migrate           copy a SQLite store into a new PostgreSQL database
  audit             verify the audit log's hash chain, or print its records
  terraform         install the Keysafe Terraform provider for offline use (terraform install)
  inject            add the agent to annotated pod templates in Kubernetes YAML (offline injector)
  injector          the Kubernetes mutating admission webhook that adds the agent to annotated pods
  help              show this text

Run 'keysafe <command> --help' for a command's options.
`;

type Command = (args: string[]) => Promise<number | undefined>;

// Each command loads only its own modules: a sidecar must not pay for the server's or the
// Terraform provider's code (start-up time and memory).
const commands: Record<string, () => Promise<Command>> = {
  server: async () => (await import('./cli/server.js')).runServer,
  dev: async () => (await import('./cli/dev.js')).runDev,
  'rotate-root-key': async () => (await import('./cli/rotate-root-key.js')).runRotateRootKey,
  migrate: async () => (await import('./cli/migrate.js')).runMigrate,
  audit: async () => (await import('./cli/audit.js')).runAudit,
  agent: async () => (await import('./cli/agent.js')).runAgent,
  exec: async () => (await import('./cli/exec.js')).runExec,
  terraform: async () => (await import('./cli/terraform.js')).runTerraform,
  inject: async () => (await import('./cli/inject.js')).runInject,
  injector: async () => (await import('./cli/injector.js')).runInjector,
};

async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) throw new ConfigError(`unknown command '${name}'\n\n${USAGE}`);
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`keysafe: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`keysafe: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
