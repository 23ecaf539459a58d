// Starts a real Keysafe server on an ephemeral loopback port with a fresh data dir, capturing its logs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Clock } from '../../src/core/clock.js';
import { createLogger } from '../../src/observability/logger.js';
import { loadServerConfig, type ServerFlags } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Every log line the server wrote. */
  logs: string[];
  kmsClient(): KMSClient;
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
    kmsClient: () => kmsClientFor(server),
    async stop() {
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function kmsClientFor(server: Pick<RunningServer, 'url' | 'admin'>): KMSClient {
  return new KMSClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: server.admin.accessKeyId, secretAccessKey: server.admin.secretAccessKey },
    maxAttempts: 1,
  });
}
