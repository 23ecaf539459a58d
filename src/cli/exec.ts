// `keysafe exec --config FILE -- CMD…`: runs CMD with secrets in its environment, restarting or
// signalling it when they rotate, forwarding signals, and exiting with its exit code.
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import {
  type AgentConfig,
  envFor,
  loadAgentConfig,
  loadLocalToken,
  type SecretValue,
  startAgent,
} from '../agent/index.js';
import { ConfigError } from '../core/config-error.js';
import { createLogger } from '../observability/logger.js';
import { serveEndpoint } from './agent.js';

const USAGE = `usage: keysafe exec --config FILE -- CMD [ARGS…]

Starts CMD with the configured secrets as environment variables (secrets[].env), keeps them current
from the server, and on a rotation restarts CMD (exec.onChange: restart; SIGTERM, then SIGKILL after
exec.gracePeriodSeconds) or sends it exec.signal (exec.onChange: signal). Signals sent to keysafe
exec go to CMD; keysafe exec exits with CMD's exit code.
`;

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function runExec(args: string[]): Promise<number> {
  const split = args.indexOf('--');
  const own = split < 0 ? args : args.slice(0, split);
  const command = split < 0 ? [] : args.slice(split + 1);
  const configAt = own.indexOf('--config');
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (configAt < 0 || own[configAt + 1] === undefined || command.length === 0) {
    throw new ConfigError(`give --config FILE and a command after --\n\n${USAGE}`);
  }
  const config = loadAgentConfig(own[configAt + 1]!);
  // Logs go to stderr: stdout belongs to the command.
  const log = createLogger(config.logLevel, (line) => process.stderr.write(line));
  let env = new Map<string, string>();
  let child: ChildProcess | undefined;
  let restarting = false;
  let exited: (code: number) => void;
  const done = new Promise<number>((r) => {
    exited = r;
  });

  const start = () => {
    child = spawn(command[0]!, command.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, ...Object.fromEntries(env) },
    });
    child.on('error', (e) => {
      log.error('cannot start the command', { command: command[0], error: e.message });
      exited(127);
    });
    child.on('exit', (code, signal) => {
      if (restarting) return;
      exited(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  };

  const restart = async () => {
    const current = child;
    if (!current || current.exitCode !== null) return start();
    restarting = true;
    const gone = new Promise((r) => current.once('exit', r));
    current.kill('SIGTERM');
    const force = setTimeout(() => current.kill('SIGKILL'), config.exec.gracePeriodSeconds * 1000);
    await gone;
    clearTimeout(force);
    restarting = false;
    log.info('restarted the command with rotated secrets', { command: command[0] });
    start();
  };

  const token = config.listen ? loadLocalToken(config.localTokenFile!) : undefined;
  const agent = await startAgent(config, {
    logger: log,
    noReload: true,
    onValues: (values) => {
      const next = environmentOf(config, values);
      if (sameEnv(env, next)) return;
      env = next;
      if (!child) return; // the first values: the command starts below
      if (config.exec.onChange === 'signal') child.kill(config.exec.signal);
      else void restart();
    },
  });
  const endpoint = config.listen ? await serveEndpoint(config, agent, log, token) : undefined;
  await agent.firstSync;
  start();
  for (const signal of FORWARDED) process.on(signal, () => child?.kill(signal));
  const code = await done;
  await endpoint?.close();
  await agent.stop();
  return code;
}

function environmentOf(config: Readonly<AgentConfig>, values: ReadonlyMap<string, SecretValue>): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of config.secrets) {
    const value = values.get(s.id);
    if (s.env === undefined || !value) continue;
    for (const [name, v] of Object.entries(envFor(value, s))) out.set(name, v);
  }
  return out;
}

const sameEnv = (a: Map<string, string>, b: Map<string, string>): boolean =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
