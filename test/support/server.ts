// Starts a real Keysafe server on an ephemeral loopback port with a fresh data dir, capturing its logs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Clock } from '../../src/core/clock.js';
import { createLogger } from '../../src/observability/logger.js';
import { loadServerConfig, type ServerFlags } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import { kmsClient, secretsClient } from './sdk.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Every log line the server wrote. */
  logs: string[];
  /** SDK clients signing as the admin, one attempt per call. */
  kmsClient(): KMSClient;
  secretsClient(): SecretsManagerClient;
  /** Closes the server and removes its data dir. */
  stop(): Promise<void>;
}

export function tempDir(prefix = 'keysafe-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestServer(
  options: {
    clock?: Clock;
    flags?: ServerFlags;
    env?: NodeJS.ProcessEnv;
    dataDir?: string;
    /** A server config file's content (issuers, roles, …), written to the data dir. */
    config?: object;
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const logs: string[] = [];
  let configFile: string | undefined;
  if (options.config) {
    configFile = join(dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(options.config));
  }
  const config = loadServerConfig(
    { listen: '127.0.0.1:0', dataDir, ...(configFile && { config: configFile }), ...options.flags },
    options.env ?? { KEYSAFE_LOG_LEVEL: 'debug' },
  );
  const server = await startServer(config, {
    clock: options.clock,
    logger: createLogger('debug', (line) => logs.push(line)),
  });
  return {
    ...server,
    dataDir,
    logs,
    kmsClient: () => kmsClient(server),
    secretsClient: () => secretsClient(server),
    async stop() {
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
