// The server's composition root: opens the store, loads keys, wires engines and serves HTTP(S).
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { AuditLog } from '../audit/index.js';
import { createDirectory, createLogin, createSessions, type Directory } from '../auth/index.js';
import { type Clock, systemClock } from '../core/clock.js';
import { ConfigError } from '../core/config-error.js';
import { AppError } from '../core/errors.js';
import { RootKeyring } from '../crypto/index.js';
import { createKmsEngine, INTERNAL_KEYS, internalKey, type KmsEngine } from '../kms/index.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { createRotation, createSecretsEngine, type Rotation, type SecretsEngine } from '../secrets/index.js';
import { openStore, type Store } from '../storage/index.js';
import { createTerraformStateBackend } from '../terraform/index.js';
import { watchCertificate } from '../tls/reload.js';
import { type AdminCredentials, loadOrCreateAdminCredentials } from './admin-credentials.js';
import { createApp } from './app.js';
import { createAuthenticator } from './authenticate.js';
import { createAwsJsonHandler } from './aws-json.js';
import { createChangeFeed } from './change-feed.js';
import { isLoopback, type ServerConfig } from './config.js';
import { createPipeline } from './pipeline.js';
import { createResourceResolver } from './resources.js';
import { loadOrCreateRootKey } from './root-key-file.js';
import { rotateRootKeyFile } from './root-key-rotation.js';
import { createRotationAccess } from './rotation-access.js';
import { startScheduler } from './scheduler.js';

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
  /** Runs the schedulers once, now (tests use it with a manual clock). */
  runScheduler(): Promise<SchedulerRun>;
  /** Re-wraps all key material under a fresh root key file; reads continue meanwhile. */
  rotateRootKey(): Promise<{ rewrapped: number; rootKeyId: string }>;
  /** Stops accepting connections, lets in-flight requests finish, then closes the store. */
  close(): Promise<void>;
}

export interface SchedulerRun {
  rotated: number;
  deleted: number;
  secretRotationsStarted: number;
  secretsPurged: number;
}

/** How long change events stay readable for agents catching up after a disconnect. */
const EVENT_RETENTION_MS = 24 * 3_600_000;

/** How often a standby replica asks for the scheduler lease: how soon it takes over from a dead leader. */
const SCHEDULER_LEASE_CHECK_MS = 2000;

/** The alias shown for the KMS HMAC key that signs session tokens (the key itself is found by its recorded id). */
export const SESSION_KEY_ALIAS = INTERNAL_KEYS.sessions.alias;

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
}

export async function startServer(config: Readonly<ServerConfig>, options: StartOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  if (!config.tls && !isLoopback(config.host)) {
    if (!config.insecurePlaintextNonLoopback) {
      throw new ConfigError(
        `listen: refusing plaintext HTTP on non-loopback address ${config.host}; give --tls-cert/--tls-key, or --insecure-plaintext-non-loopback`,
      );
    }
    logger.warn(
      'serving plaintext HTTP on a non-loopback address: credentials and secrets cross the network unencrypted',
      {
        host: config.host,
      },
    );
  }

  const root = loadOrCreateRootKey({ fromEnv: config.rootKeyFromEnv, file: config.rootKeyFile });
  if (root.created)
    logger.info('created a new root key', { file: resolve(config.rootKeyFile), rootKeyId: root.key.id });
  const adminCredentialsFile = config.adminCredentialsFile;
  const admin = loadOrCreateAdminCredentials(adminCredentialsFile);
  const store: Store = await openStore(config.store, { logger });
  const rootKeys = new RootKeyring(root.key);
  const kms = createKmsEngine({
    store: store.kms,
    rootKeys,
    clock,
    partition: { region: config.region, accountId: config.accountId },
    logger,
  });
  const secrets = createSecretsEngine({ store: store.secrets, kms, clock, partition: kms.partition });
  const metrics = new Metrics();
  // Finish a root key rotation that a crash interrupted, before serving.
  await rotateRootKeyFile({
    kms,
    rootKeys,
    file: config.rootKeyFile,
    logger,
    resumeOnly: true,
    fromEnv: !!config.rootKeyFromEnv,
  });
  // A wrong root key (a typo in --root-key-file, another KEYSAFE_ROOT_KEY) would serve but fail
  // every decryption; refuse to start instead.
  const foreign = await store.kms.versionsNotWrappedBy(rootKeys.current.id, 1);
  if (foreign.length > 0) {
    await store.close();
    throw new ConfigError(
      `the database's key material is wrapped under root key ${foreign[0]!.rootKeyId}, but the root key given is ${rootKeys.current.id}; check KEYSAFE_ROOT_KEY or --root-key-file`,
    );
  }

  let ready = false;
  const rotateRootKey = () =>
    rotateRootKeyFile({
      kms,
      rootKeys,
      file: config.rootKeyFile,
      logger,
      resumeOnly: false,
      fromEnv: !!config.rootKeyFromEnv,
    });

  if (!config.audit.sync) logger.warn('audit log fsync is off: records of answered requests can be lost in a crash');
  const audit = await AuditLog.open({ ...config.audit, logger });
  const directory = await createDirectory({
    store: store.auth,
    issuers: config.issuers,
    roles: config.roles,
    accountId: config.accountId,
    logger,
    now: () => clock.now(),
    nowSeconds: () => Math.floor(clock.now() / 1000),
    refreshMs: config.authRefreshMs,
  });
  const rotation = createRotation({
    engine: secrets,
    store: store.secrets,
    clock,
    logger,
    metrics,
    leaseMs: config.rotationLeaseMs,
    // Steps act as the principal that configured the rotation, audited like its requests.
    authorizer: createRotationAccess({ directory, audit, accountId: config.accountId, now: () => clock.now() }),
    keys: {
      keyCheck: async (ref) => {
        const key = await kms.cachedKey(ref).catch((e: unknown) => {
          if (e instanceof AppError && e.code === 'NotFoundException') return undefined;
          throw e;
        });
        return key && { resource: kms.arnOf(key.keyId), policy: key.policy };
      },
    },
    webhooks: {
      allow: config.rotation.webhookAllow,
      secret: config.rotation.webhookSecret,
      nowSeconds: () => Math.floor(clock.now() / 1000),
    },
  });
  // Tokens are signed and verified only with the key whose id the store records for sessions: a
  // token MAC'd under any other key (one an alias was pointed at, say) is refused outright.
  const sessionKey = internalKey(kms, INTERNAL_KEYS.sessions);
  await sessionKey();
  const sessions = createSessions({
    accountId: config.accountId,
    now: () => clock.now(),
    revokedBefore: directory.revokedBefore,
    keyInForce: async () => kms.requireMacKey(await sessionKey()),
    mac: async (data) =>
      Buffer.from((await kms.internal.generateMac(await sessionKey(), Buffer.from(data), 'HMAC_SHA_256')).mac).toString(
        'base64url',
      ),
  });
  const login = createLogin(directory, () => clock.now(), config.login);
  const authenticator = createAuthenticator({ admin, sessions, accountId: config.accountId, now: () => clock.now() });
  const changeFeed = createChangeFeed(store.secrets, secrets.onChange);
  await changeFeed.start();
  // Replicas on one database: another replica's commits ring the feed and drop the caches here.
  await store.coordination?.watch({
    change: (change) => {
      if (change.kind === 'key') kms.invalidateKey(change.keyId);
      else if (change.kind === 'alias') kms.invalidateAlias(change.name);
      else if (change.kind === 'secret') secrets.invalidate(change.arn);
      else if (change.kind === 'events') changeFeed.poll();
      else void directory.refresh().catch(() => {}); // a failure is logged by the periodic refresh
    },
    resync: () => {
      kms.invalidateAll();
      secrets.invalidate();
      changeFeed.poll();
      void directory.refresh().catch(() => {});
    },
  });
  // The safety net for a notification lost in transit: look for new events every second.
  const feedPoll = setInterval(changeFeed.poll, 1000);
  feedPoll.unref();
  const pipeline = createPipeline({
    audit,
    directory,
    accountId: config.accountId,
    resolve: createResourceResolver(kms, secrets),
    now: () => clock.now(),
    logger,
    metrics,
  });
  const app = createApp({
    authenticator,
    pipeline,
    secrets: { engine: secrets, rotation },
    changeFeed,
    directory,
    login,
    sessions,
    accountId: config.accountId,
    metrics,
    // Not ready while the audit log cannot be written: requests would be refused.
    isReady: () => ready && audit.healthy,
    maxBodyBytes: config.maxBodyBytes,
    watchHeartbeatMs: config.watchHeartbeatMs,
    rotateRootKey,
    terraform: {
      backend: createTerraformStateBackend({
        store: store.terraform,
        kms,
        keyArn: internalKey(kms, INTERNAL_KEYS.terraform),
        now: () => clock.now(),
        keepVersions: config.terraform.keepVersions,
      }),
      maxStateBytes: config.terraform.maxStateBytes,
      region: config.region,
    },
  });
  const awsJson = createAwsJsonHandler({
    kms,
    secrets: { engine: secrets, rotation },
    authenticator,
    pipeline,
    sts: {
      login,
      sessions,
      accountId: config.accountId,
      issuerOf: (role) => {
        const r = directory.role(role);
        const issuer = r && directory.issuer(r.config.issuer);
        return issuer && { issuer: issuer.config.issuer, audience: issuer.config.audiences[0]! };
      },
    },
    maxBodyBytes: config.maxBodyBytes,
  });
  const routes = getRequestListener(app.fetch);
  const listener: RequestListener = (req, res) => {
    if (req.method === 'POST' && (req.url === '/' || req.url?.startsWith('/?'))) awsJson(req, res);
    else void routes(req, res);
  };

  const tlsFiles = config.tls;
  const server: HttpServer = tlsFiles
    ? (createHttpsServer(
        { cert: readFileSync(tlsFiles.cert), key: readFileSync(tlsFiles.key) },
        listener,
      ) as unknown as HttpServer)
    : createHttpServer(listener);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(config.port, config.host, () => {
      server.off('error', fail);
      ok();
    });
  }).catch(async (e: NodeJS.ErrnoException) => {
    await store.close();
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      throw new ConfigError(
        `listen: cannot listen on ${config.host}:${config.port} (${e.code}); is another server running? Use --listen`,
      );
    }
    throw e;
  });
  const tlsWatcher = tlsFiles && (await watchCertificate(server as unknown as HttpsServer, tlsFiles, logger));

  const runScheduler = async (): Promise<SchedulerRun> => {
    const now = clock.now();
    const keys = await kms.runDueJobs();
    const done = {
      ...keys,
      secretsPurged: await secrets.purgeDue(now),
      secretRotationsStarted: await rotation.runDue(now),
    };
    await store.secrets.trimEvents(now - EVENT_RETENTION_MS);
    if (Object.values(done).some((n) => n > 0)) logger.info('scheduler ran', done);
    return done;
  };
  const scheduler = startScheduler({
    run: runScheduler,
    lead: () => store.coordination?.lead() ?? Promise.resolve(true),
    intervalMs: config.schedulerIntervalMs,
    checkMs: SCHEDULER_LEASE_CHECK_MS,
    now: () => clock.now(),
    logger,
  });
  metrics.gauge('keysafe_scheduler_leader', () => (scheduler.leading() ? 1 : 0));
  // Work that came due while the server was down runs right away, not one interval later.
  await scheduler.tick();

  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tlsFiles ? 'https' : 'http'}://${host}:${address.port}`;
  ready = true;
  logger.info('keysafe server listening', { url, store: config.store.split(':')[0], rootKeyId: rootKeys.current.id });

  let closing: Promise<void> | undefined;
  return {
    url,
    kms,
    secrets,
    rotation,
    admin,
    adminCredentialsFile,
    directory,
    auditDir: config.audit.dir,
    runScheduler,
    rotateRootKey,
    close() {
      closing ??= (async () => {
        ready = false;
        await scheduler.stop();
        clearInterval(feedPoll);
        changeFeed.close(); // ends the watch streams, so draining does not wait for them
        await tlsWatcher?.close();
        await new Promise<void>((ok) => {
          const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
          force.unref();
          server.close(() => {
            clearTimeout(force);
            ok();
          });
          server.closeIdleConnections();
        });
        // A rotation step under way finishes; one that does not is resumed after its lease.
        await Promise.race([rotation.idle(), new Promise((r) => setTimeout(r, config.shutdownGraceMs).unref())]);
        await directory.close();
        await audit.close();
        await store.close();
        logger.info('keysafe server stopped');
      })();
      return closing;
    },
  };
}
