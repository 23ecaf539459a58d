// A real `keysafe agent` process as a pod runs it: its config written to a directory, its output kept, its
// localhost endpoint on a free loopback port; and `keysafe agent --once` as an init container runs it.
import type { SpawnOptions } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CapturedProcess, CLI, freePort, spawnCaptured } from './process.js';

export interface AgentSetup {
  /** Holds the config file and, unless set otherwise, the workload token and the local token. */
  dir: string;
  server: string | string[];
  secrets: object[];
  /** Default `web`. */
  role?: string;
  /** The workload token the agent logs in with (default `<dir>/token`). */
  tokenFile?: string;
  /** Serve the localhost endpoint on a free port, its token in `<dir>/local-token` (default true). */
  endpoint?: boolean;
  /** More settings (onChange, logLevel…), applied last. */
  settings?: object;
  /** The config file's name in `dir` (default agent.json). */
  file?: string;
}

/** Writes the agent's config: its path, and the endpoint's URL (empty without one). */
export async function writeAgentConfig(setup: AgentSetup): Promise<{ configFile: string; endpoint: string }> {
  const port = setup.endpoint === false ? undefined : await freePort();
  const configFile = join(setup.dir, setup.file ?? 'agent.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      server: setup.server,
      auth: { role: setup.role ?? 'web', tokenFile: setup.tokenFile ?? join(setup.dir, 'token') },
      ...(port && { listen: `127.0.0.1:${port}`, localTokenFile: join(setup.dir, 'local-token') }),
      secrets: setup.secrets,
      ...setup.settings,
    }),
  );
  return { configFile, endpoint: port ? `http://127.0.0.1:${port}` : '' };
}

export interface AgentProcess extends CapturedProcess {
  configFile: string;
  /** The endpoint's URL (empty without one). */
  endpoint: string;
  /** The local token the endpoint asks for, once the agent has written it. */
  localToken(): string;
}

/** Starts `keysafe agent` on a config written from `setup`; it runs until the test ends it. */
export async function spawnAgent(setup: AgentSetup & { spawn?: SpawnOptions }): Promise<AgentProcess> {
  const { configFile, endpoint } = await writeAgentConfig(setup);
  const agent = spawnCaptured(process.execPath, [CLI, 'agent', '--config', configFile], setup.spawn);
  return {
    ...agent,
    configFile,
    endpoint,
    localToken: () => readFileSync(join(setup.dir, 'local-token'), 'utf8').trim(),
  };
}

/** `keysafe agent --config <configFile> --once`, to its end: the exit code and the output. */
export async function runAgentOnce(configFile: string): Promise<{ code: number | null; out: string }> {
  const once = spawnCaptured(process.execPath, [CLI, 'agent', '--config', configFile, '--once']);
  const code = await once.exited;
  return { code, out: once.output() };
}
