// `keysafe agent`: the sidecar — files on tmpfs, the localhost endpoint, reloads; `--once` for init containers.
import { serve } from '@hono/node-server';
import { parse as parseYaml } from 'yaml';
import {
  type AgentConfig,
  type CachedSecret,
  createAgentEndpoint,
  isLoopbackHost,
  loadAgentConfig,
  loadLocalToken,
  parseAgentConfig,
  type RunningAgent,
  startAgent,
  syncOnce,
} from '../agent/index.js';
import { ConfigError } from '../core/config-error.js';
import { describeYamlError, YAML_OPTIONS } from '../core/config-file.js';
import { AppError } from '../core/errors.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { parseFlags, untilSignal } from './args.js';

const USAGE = `usage: keysafe agent [--config FILE | --config-env NAME] [--once]

Runs beside an app: logs in with the workload's JWT (auth.tokenFile), writes the configured secrets
to files, keeps them current from the server's change stream, reloads the app (onChange), and
serves them on the localhost endpoint (listen). --once writes the files and exits: 0 when every
secret was written, 1 naming those that could not be fetched.
--config-env NAME reads the config (YAML or JSON) from that environment variable; without --config
the agent reads KEYSAFE_AGENT_CONFIG (what the Kubernetes injector sets).
`;

export async function runAgent(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    { config: { type: 'string' }, 'config-env': { type: 'string' }, once: { type: 'boolean' } },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const envName = values['config-env'] ?? (values.config ? undefined : 'KEYSAFE_AGENT_CONFIG');
  if (!values.config && (envName === undefined || !process.env[envName])) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = values.config ? loadAgentConfig(values.config) : agentConfigFromEnv(envName!);
  const logger = createLogger(config.logLevel);
  if (values.once) {
    try {
      await syncOnce(config, logger);
      return 0;
    } catch (e) {
      process.stderr.write(`keysafe agent: ${e instanceof AppError ? e.message : (e as Error).message}\n`);
      return 1;
    }
  }
  // Checked before anything starts: a token file the agent cannot trust is a configuration error (exit 2).
  const token = config.listen ? loadLocalToken(config.localTokenFile!) : undefined;
  const agent = await startAgent(config, { logger });
  const endpoint = config.listen ? await serveEndpoint(config, agent, logger, token) : undefined;
  await untilSignal();
  await endpoint?.close();
  await agent.stop();
  return 0;
}

/** The config held in an environment variable (YAML or JSON); relative paths resolve against the working directory. */
function agentConfigFromEnv(name: string): Readonly<AgentConfig> {
  const text = process.env[name];
  if (!text) throw new ConfigError(`environment variable ${name} is not set`);
  let doc: unknown;
  try {
    doc = parseYaml(text, YAML_OPTIONS);
  } catch (e) {
    throw new ConfigError(`${name} is not valid YAML or JSON (${describeYamlError(e, text)})`);
  }
  return parseAgentConfig(doc, { source: `config in $${name}` });
}

/** The AWS-agent-compatible endpoint on loopback, guarded by the local token file. */
export async function serveEndpoint(
  config: Readonly<AgentConfig>,
  agent: RunningAgent,
  logger: Logger,
  token: string = loadLocalToken(config.localTokenFile!),
): Promise<{ url: string; close(): Promise<void> }> {
  const listen = config.listen!;
  if (!isLoopbackHost(listen.host)) {
    logger.warn(
      'the agent endpoint listens on a non-loopback address: anyone who can reach it and has the token gets secrets',
      {
        host: listen.host,
      },
    );
  }
  const maxStaleMs = config.maxStaleSeconds * 1000;
  const app = createAgentEndpoint({
    localToken: () => token,
    now: Date.now,
    logger,
    metrics: () => agentMetrics(agent),
    readiness: () => {
      const status = agent.status();
      return { ready: status.ready, detail: status as unknown as Record<string, unknown> };
    },
    source: {
      get(secretId, query) {
        const served = (secret: CachedSecret) => {
          const age = agent.ageSeconds(secret);
          if (maxStaleMs > 0 && age * 1000 > maxStaleMs) {
            throw new AppError(
              'ServiceUnavailableException',
              `The value of ${secretId} is older than maxStaleSeconds.`,
            );
          }
          return {
            body: secret.body,
            json: secret.json,
            versionId: secret.versionId,
            fetchedAt: Date.now() - age * 1000,
          };
        };
        // Kept secrets answer synchronously from memory; others (or other versions) are fetched.
        const kept =
          query.versionId === undefined && query.versionStage === undefined ? agent.peek(secretId) : undefined;
        return kept ? served(kept) : agent.get(secretId, query).then(served);
      },
    },
  });
  const server = serve({ fetch: app.fetch, hostname: listen.host, port: listen.port });
  await new Promise<void>((ok, fail) => {
    server.once('listening', ok);
    server.once('error', fail);
  });
  const address = server.address() as { port: number };
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${address.port}`;
  logger.info('agent endpoint listening', { url });
  return {
    url,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

function agentMetrics(agent: RunningAgent): string {
  const s = agent.status();
  const lines = [
    '# TYPE keysafe_agent_ready gauge',
    `keysafe_agent_ready ${s.ready ? 1 : 0}`,
    '# TYPE keysafe_agent_connected gauge',
    `keysafe_agent_connected ${s.connected ? 1 : 0}`,
    '# TYPE keysafe_agent_secret_age_seconds gauge',
  ];
  for (const [id, secret] of Object.entries(s.secrets)) {
    lines.push(`keysafe_agent_secret_age_seconds{secret="${id.replace(/["\\\n]/g, '_')}"} ${secret.ageSeconds ?? -1}`);
  }
  if (s.reload) {
    lines.push('# TYPE keysafe_agent_reloads_total counter', `keysafe_agent_reloads_total ${s.reload.reloads}`);
    lines.push(
      '# TYPE keysafe_agent_reload_failures_total counter',
      `keysafe_agent_reload_failures_total ${s.reload.failures}`,
    );
    lines.push('# TYPE keysafe_agent_reload_ok gauge', `keysafe_agent_reload_ok ${s.reload.ok ? 1 : 0}`);
  }
  return `${lines.join('\n')}\n`;
}
