// Opens the services over the engines: the audit log, the auth directory, secret rotation (per region), sessions and login.
import { AuditLog } from '../audit/index.js';
import {
  createDirectory,
  createLogin,
  createSessions,
  type Directory,
  type Login,
  type Sessions,
} from '../auth/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { INTERNAL_KEYS, internalKey, type KmsEngine } from '../kms/index.js';
import type { Logger } from '../observability/logger.js';
import { createRotation, type Rotation } from '../secrets/index.js';
import { type Authenticator, createAuthenticator } from './authenticate.js';
import type { ServerConfig } from './config.js';
import type { Engines, RegionalEngines } from './engines.js';
import { type PerRegion, perRegion } from './regions.js';
import { createRotationAccess } from './rotation-access.js';

export interface Services {
  audit: AuditLog;
  directory: Directory;
  /** The default region's rotation. */
  rotation: Rotation;
  /** A region's rotation (over that region's engines), built on first use. */
  rotationIn: PerRegion<Rotation>;
  sessions: Sessions;
  login: Login;
  authenticator: Authenticator;
}

export async function openServices(
  config: Readonly<ServerConfig>,
  engines: Engines,
  clock: Clock,
  logger: Logger,
): Promise<Services> {
  if (!config.audit.sync) logger.warn('audit log fsync is off: records of answered requests can be lost in a crash');
  const audit = await AuditLog.open({ ...config.audit, logger });
  const directory = await createDirectory({
    store: engines.store.auth,
    issuers: config.issuers,
    roles: config.roles,
    accountId: config.accountId,
    logger,
    now: () => clock.now(),
    nowSeconds: () => Math.floor(clock.now() / 1000),
    refreshMs: config.authRefreshMs,
  });
  const rotationIn = perRegion((region) =>
    openRotation(config, engines, engines.inRegion(region), { audit, directory }, clock, logger),
  );
  const rotation = rotationIn(config.region);
  const sessions = await openSessions(config.accountId, engines.kms, directory, clock);
  const login = createLogin(directory, () => clock.now(), config.login);
  const authenticator = createAuthenticator({
    admin: engines.admin,
    sessions,
    accountId: config.accountId,
    now: () => clock.now(),
  });
  return { audit, directory, rotation, rotationIn, sessions, login, authenticator };
}

function openRotation(
  config: Readonly<ServerConfig>,
  { store, metrics }: Engines,
  { region, kms, secrets }: RegionalEngines,
  { audit, directory }: Pick<Services, 'audit' | 'directory'>,
  clock: Clock,
  logger: Logger,
): Rotation {
  return createRotation({
    engine: secrets,
    store: store.inRegion(region).secrets,
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
}

/**
 * Tokens are signed and verified only with the key whose id the store records for sessions: a
 * token MAC'd under any other key (one an alias was pointed at, say) is refused outright.
 */
async function openSessions(accountId: string, kms: KmsEngine, directory: Directory, clock: Clock): Promise<Sessions> {
  const sessionKey = internalKey(kms, INTERNAL_KEYS.sessions);
  await sessionKey();
  return createSessions({
    accountId,
    now: () => clock.now(),
    revokedBefore: directory.revokedBefore,
    keyInForce: async () => kms.requireMacKey(await sessionKey()),
    mac: async (data) =>
      Buffer.from((await kms.internal.generateMac(await sessionKey(), Buffer.from(data), 'HMAC_SHA_256')).mac).toString(
        'base64url',
      ),
  });
}
