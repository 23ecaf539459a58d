// The server's composition root: opens the store and engines, serves HTTP(S), runs the schedulers, shuts down.
import type { Directory } from '../auth/index.js';
import { type Clock, systemClock } from '../core/clock.js';
import { INTERNAL_KEYS, type KmsEngine } from '../kms/index.js';
import { createLogger, type Logger } from '../observability/logger.js';
import type { Rotation, SecretsEngine } from '../secrets/index.js';
import type { AdminCredentials } from './admin-credentials.js';
import type { ServerConfig } from './config.js';
import { openEngines } from './engines.js';
import { checkListenAddress, listen } from './http-server.js';
import { createListener } from './listener.js';
import { startChangeSync } from './replica-sync.js';
import { type SchedulerRun, startSchedulers } from './schedulers.js';
import { openServices } from './services.js';
import { shutDown } from './shutdown.js';

export type { SchedulerRun } from './schedulers.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8270 */
  url: string;
  kms: KmsEngine;
  secrets: SecretsEngine;
  rotation: Rotation;
  admin: AdminCredentials;
  adminCredentialsFile: string;
  directory: Directory;
  auditDir: string;
  /** Resolves once the replica syncs under way are done (tests). */
  replicasSettled(): Promise<void>;
  /** Runs the schedulers once, now (tests use it with a manual clock). */
  runScheduler(): Promise<SchedulerRun>;
  /** Re-wraps all key material under a fresh root key file; reads continue meanwhile. */
  rotateRootKey(): Promise<{ rewrapped: number; rootKeyId: string }>;
  /** Stops accepting connections, lets in-flight requests finish, then closes the store. */
  close(): Promise<void>;
}

/** The alias shown for the KMS HMAC key that signs session tokens (the key itself is found by its recorded id). */
export const SESSION_KEY_ALIAS = INTERNAL_KEYS.sessions.alias;

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
}

export async function startServer(config: Readonly<ServerConfig>, options: StartOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  checkListenAddress(config, logger);
  const engines = await openEngines(config, clock, logger);
  const services = await openServices(config, engines, clock, logger);
  const sync = await startChangeSync(engines, services.directory);
  let ready = false;
  const listener = createListener({
    config,
    clock,
    logger,
    engines,
    services,
    changeFeedIn: sync.changeFeedIn,
    // Not ready while the audit log cannot be written: requests would be refused.
    isReady: () => ready && services.audit.healthy,
  });
  const http = await listen(config, listener, logger, () => engines.store.close());
  const schedulers = startSchedulers({
    engines,
    rotationIn: services.rotationIn,
    intervalMs: config.schedulerIntervalMs,
    clock,
    logger,
  });
  // Work that came due while the server was down runs right away, not one interval later.
  await schedulers.tick();

  ready = true;
  const rootKeyId = engines.rootKeys.current.id;
  logger.info('keysafe server listening', { url: http.url, store: config.store.split(':')[0], rootKeyId });

  let closing: Promise<void> | undefined;
  return {
    url: http.url,
    kms: engines.kms,
    secrets: engines.secrets,
    rotation: services.rotation,
    admin: engines.admin,
    adminCredentialsFile: config.adminCredentialsFile,
    directory: services.directory,
    auditDir: config.audit.dir,
    replicasSettled: engines.replication.settled,
    runScheduler: schedulers.runNow,
    rotateRootKey: engines.rotateRootKey,
    close() {
      ready = false;
      closing ??= shutDown({ schedulers, sync, http, services, engines, graceMs: config.shutdownGraceMs, logger });
      return closing;
    },
  };
}
