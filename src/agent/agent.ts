// The sidecar agent: wires the workload session, sync, watch and health together, and owns start and stop.
//
// The session logs in with the workload's JWT; the watch follows the change stream and asks sync to
// fetch what changed; sync writes the files and reloads the consumer; health answers readiness. During an
// outage the last good values stay on disk and in the endpoint, with their age.
import type { SecretValue } from '../core/secret-value.js';
import type { Logger } from '../observability/logger.js';
import { newAgentKeyPair, ServerClient } from './client.js';
import type { AgentConfig } from './config.js';
import { AgentHealth, type AgentStatus } from './health.js';
import { createReloader, type Reloader } from './reload.js';
import { type CachedSecret, cachedSecret, SecretCache } from './secret-cache.js';
import { WorkloadSession } from './session.js';
import { SecretSync } from './sync.js';
import { watchTokenFile } from './token-file.js';
import { ChangeWatch } from './watch.js';

export type { AgentStatus } from './health.js';
export { type CachedSecret, ON_DEMAND_MAX } from './secret-cache.js';

export interface RunningAgent {
  /** AWSCURRENT of a secret the agent keeps, from memory (undefined when not kept): the endpoint's hot path. */
  peek(secretId: string): CachedSecret | undefined;
  /** The value of a secret the agent keeps (configured, or asked for through the endpoint). */
  get(secretId: string, version?: { versionId?: string; versionStage?: string }): Promise<CachedSecret>;
  /** Seconds since `fetchedAt`, or 0 while the watch stream is live. */
  ageSeconds(secret: CachedSecret): number;
  status(): AgentStatus;
  /** Resolves once every configured secret was written (or fetched, for HTTP-only ones) at least once. */
  firstSync: Promise<void>;
  stop(): Promise<void>;
}

export interface AgentOptions {
  logger: Logger;
  now?: () => number;
  /** Called with each secret's rendered files after they changed (keysafe exec uses it). */
  onValues?: (values: ReadonlyMap<string, SecretValue>) => void;
  /** Do not reload the consumer (keysafe exec handles its child itself). */
  noReload?: boolean;
}

export async function startAgent(config: Readonly<AgentConfig>, options: AgentOptions): Promise<RunningAgent> {
  const { logger, onValues } = options;
  const now = options.now ?? Date.now;
  const client = new ServerClient(config.server, await newAgentKeyPair(), config.region);
  const reloader = consumerReloader(config, options);
  const health = new AgentHealth(now);
  const cache = new SecretCache(config.secrets.map((s) => s.id));
  const { role, tokenFile } = config.auth;
  const session = new WorkloadSession({ role, tokenFile, client, health, logger, now });
  const sync = new SecretSync({
    secrets: config.secrets,
    client,
    session,
    cache,
    health,
    logger,
    now,
    reloader,
    onValues,
  });
  const pollIntervalMs = config.pollIntervalSeconds * 1000;
  const watch = new ChangeWatch({ client, session, sync, keptIds: () => cache.ids(), health, logger, pollIntervalMs });
  // A new JWT from kubelet: log in with it right away, and reconnect the stream with the new session.
  session.onTokenLogin(() => watch.reconnect());
  const tokenWatcher = watchTokenFile(tokenFile, () => session.tokenFileChanged());
  sync.start();
  watch.start();

  return {
    peek: (secretId) => cache.get(secretId),
    async get(secretId, version = {}) {
      const cached = cache.get(secretId);
      if (cached && version.versionId === undefined && (version.versionStage ?? 'AWSCURRENT') === 'AWSCURRENT') {
        cache.touch(secretId); // the least recently asked goes first
        return cached;
      }
      // Not kept yet, or another version: fetch it live (the AWS agent does the same).
      const fetched = await client.getSecret(await session.token(), secretId, version);
      const entry = cachedSecret(fetched, now());
      if (version.versionId === undefined && version.versionStage === undefined) cache.keep(secretId, entry);
      return entry;
    },
    ageSeconds: (secret) => health.ageSeconds(secret),
    status: () =>
      health.status({
        secrets: config.secrets,
        cached: (secretId) => cache.get(secretId),
        written: sync.written,
        problems: sync.problems,
        server: client.server,
        ...(reloader && { reload: reloader.status() }),
      }),
    firstSync: sync.firstSync,
    async stop() {
      session.stop();
      sync.stop();
      const following = watch.stop();
      reloader?.close();
      await tokenWatcher.close();
      await following;
    },
  };
}

/** The consumer's reloader, unless nothing is to be reloaded or the caller reloads it itself. */
function consumerReloader(config: Readonly<AgentConfig>, options: AgentOptions): Reloader | undefined {
  if (!config.onChange || options.noReload) return undefined;
  const command = config.onChange.command ? [...config.onChange.command] : undefined;
  return createReloader({ ...config.onChange, command }, { logger: options.logger });
}
