// Opens what everything else runs on: the root key, admin credentials, the store, and the KMS and secrets engines
// (one pair per region, over that region's store views; `kms` and `secrets` are the default region's).
import { resolve } from 'node:path';
import type { Clock } from '../core/clock.js';
import { ConfigError } from '../core/config-error.js';
import { AppError } from '../core/errors.js';
import { RootKeyring } from '../crypto/index.js';
import { createKmsEngine, INTERNAL_KEYS, type KmsEngine, type KmsRegions } from '../kms/index.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { createSecretsEngine, type SecretRecord, type SecretsEngine } from '../secrets/index.js';
import { openStore, type Store } from '../storage/index.js';
import { type AdminCredentials, loadOrCreateAdminCredentials } from './admin-credentials.js';
import type { ServerConfig } from './config.js';
import { type PerRegion, perRegion, requestRegion } from './regions.js';
import { createReplication, type Replication } from './replication.js';
import { loadOrCreateRootKey } from './root-key-file.js';
import { rotateRootKeyFile } from './root-key-rotation.js';

/** One region's engines: the region's Partition over the region's store views, their own caches. */
export interface RegionalEngines {
  region: string;
  kms: KmsEngine;
  secrets: SecretsEngine;
}

export interface Engines {
  store: Store;
  rootKeys: RootKeyring;
  /** The default region's engines (Terraform state, sessions, internal callers). */
  kms: KmsEngine;
  secrets: SecretsEngine;
  /** A region's engines, built on first use. */
  inRegion: PerRegion<RegionalEngines>;
  /** Secrets Manager replication between the regions' secrets engines. */
  replication: Replication;
  metrics: Metrics;
  admin: AdminCredentials;
  /** Re-wraps all key material under a fresh root key file; reads continue meanwhile. */
  rotateRootKey(): Promise<{ rewrapped: number; rootKeyId: string }>;
}

export async function openEngines(config: Readonly<ServerConfig>, clock: Clock, logger: Logger): Promise<Engines> {
  const root = loadOrCreateRootKey({ fromEnv: config.rootKeyFromEnv, file: config.rootKeyFile });
  if (root.created)
    logger.info('created a new root key', { file: resolve(config.rootKeyFile), rootKeyId: root.key.id });
  const admin = loadOrCreateAdminCredentials(config.adminCredentialsFile);
  const store: Store = await openStore(config.store, { logger, defaultRegion: config.region });
  const rootKeys = new RootKeyring(root.key);
  const regions = kmsRegions(store, config, () => inRegion.built());
  // Each region's secrets engine tells replication of its primaries' commits; replication reaches every region.
  const inRegion: PerRegion<RegionalEngines> = perRegion((region): RegionalEngines => {
    const views = store.inRegion(region);
    const partition = { region, accountId: config.accountId };
    const kms = createKmsEngine({ store: views.kms, rootKeys, clock, partition, logger, regions });
    const primaryChanged = (primary: SecretRecord) => replication.primaryChanged(primary);
    return {
      region,
      kms,
      secrets: createSecretsEngine({ store: views.secrets, kms, clock, partition, primaryChanged }),
    };
  });
  const replication = createReplication({
    secretsIn: (region) => inRegion(region).secrets,
    regions: () => store.regions(),
    allowed: config.regions,
    logger,
  });
  const { kms, secrets } = inRegion(config.region);
  const metrics = new Metrics();
  const rotateRootKey = (resumeOnly: boolean) =>
    rotateRootKeyFile({
      kms,
      rootKeys,
      file: config.rootKeyFile,
      logger,
      resumeOnly,
      fromEnv: !!config.rootKeyFromEnv,
    });
  // Finish a root key rotation that a crash interrupted, before serving.
  await rotateRootKey(true);
  await refuseForeignRootKey(store, rootKeys);
  await refuseMovedRegion(store, config.region);
  return {
    store,
    rootKeys,
    kms,
    secrets,
    inRegion,
    replication,
    metrics,
    admin,
    rotateRootKey: () => rotateRootKey(false),
  };
}

/**
 * How a region's KMS engine reaches the others for multi-Region keys: their store views (a region
 * outside `regions:` refused as a request naming it would be), and this process's engines' caches.
 */
function kmsRegions(store: Store, config: Readonly<ServerConfig>, built: () => RegionalEngines[]): KmsRegions {
  const policy = { defaultRegion: config.region, allowed: config.regions };
  return {
    async list() {
      const served = built().map((e) => e.region);
      return [...new Set([...(await store.regions()), ...served, ...(config.regions ?? [])])].sort();
    },
    store(region) {
      try {
        requestRegion(policy, { header: region });
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        throw new AppError('UnsupportedOperationException', `The region ${region} is not served here.`);
      }
      return store.inRegion(region).kms;
    },
    forget(region, keyId) {
      for (const e of built()) if (e.region === region) e.kms.invalidateKey(keyId);
    },
  };
}

/**
 * A wrong root key (a typo in --root-key-file, another KEYSAFE_ROOT_KEY) would serve but fail
 * every decryption; refuse to start instead.
 */
async function refuseForeignRootKey(store: Store, rootKeys: RootKeyring): Promise<void> {
  const foreign = await store.kms.versionsNotWrappedBy(rootKeys.current.id, 1);
  if (foreign.length > 0) {
    await store.close();
    throw new ConfigError(
      `the database's key material is wrapped under root key ${foreign[0]!.rootKeyId}, but the root key given is ${rootKeys.current.id}; check KEYSAFE_ROOT_KEY or --root-key-file`,
    );
  }
}

/**
 * `region:` changed under existing data would make new internal keys in the new region: every
 * session would end and the Terraform state (encrypted under the old region's key) be unreadable.
 * Refuse to start, naming both regions, rather than orphan them.
 */
async function refuseMovedRegion(store: Store, region: string): Promise<void> {
  const holdsInternalKeys = async (r: string): Promise<boolean> => {
    for (const { purpose } of Object.values(INTERNAL_KEYS)) {
      if (await store.inRegion(r).kms.getInternalKey(purpose)) return true;
    }
    return false;
  };
  if (await holdsInternalKeys(region)) return;
  for (const other of await store.regions()) {
    if (other !== region && (await holdsInternalKeys(other))) {
      await store.close();
      throw new ConfigError(
        `region: is ${region}, but this store's internal keys (sessions, Terraform state) are in ${other}; set region: ${other} (the default region cannot change once data exists)`,
      );
    }
  }
}
