#!/usr/bin/env node
import { runAgent } from './cli/agent.js';
import { runAudit } from './cli/audit.js';
import { runDev } from './cli/dev.js';
import { runExec } from './cli/exec.js';
import { runRotateRootKey } from './cli/rotate-root-key.js';
import { runServer } from './cli/server.js';
// The `keysafe` command: one binary, one sub-command per job.
import { ConfigError } from './core/config-error.js';

const USAGE = `usage: keysafe <command> [options]

commands:
  server            run the KMS server (AWS KMS JSON API, SigV4)
  agent             the sidecar: secrets to files and a localhost endpoint, kept current
  exec              run a command with secrets in its environment, restarted on rotation
  dev               run a server on ./keysafe-dev for a first look (npm start)
  rotate-root-key   re-wrap all key material under a new root key, online
  audit             verify the audit log's hash chain, or print its records
  help              show this text

Run 'keysafe <command> --help' for a command's options.
`;

const commands: Record<string, (args: string[]) => Promise<number | undefined>> = {
  server: runServer,
  dev: runDev,
  'rotate-root-key': runRotateRootKey,
  audit: runAudit,
  agent: runAgent,
  exec: runExec,
};

async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) throw new ConfigError(`unknown command '${name}'\n\n${USAGE}`);
  return command(rest);
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
