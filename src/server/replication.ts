// Secrets Manager replication across regions: the port each region's operations call (replicate, remove, stop),
// the sync that follows every committed change of a primary, and the reconciler that repairs what a crash left.
import { AppError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import {
  checkReplicaRegions,
  type ReplicaRecord,
  type ReplicaRegionInput,
  type ReplicationPort,
  regionOfArn,
  replicaWriteRefused,
  type SecretRecord,
  type SecretsEngine,
} from '../secrets/index.js';

export interface ReplicationDeps {
  secretsIn: (region: string) => SecretsEngine;
  /** The regions holding data (where the reconciler looks). */
  regions: () => Promise<string[]>;
  /** `regions:`, when the operator restricted the set. */
  allowed?: readonly string[] | undefined;
  logger: Logger;
}

export interface Replication {
  /** The operations' port, bound to a request's region. */
  portIn(region: string): ReplicationPort;
  /** After a primary's commit: syncs its replicas soon (coalesced per secret). */
  primaryChanged(primary: SecretRecord): void;
  /** Brings every replica of one primary up to date and records how each stands. */
  syncReplicas(arn: string): Promise<SecretRecord | undefined>;
  /** Syncs every primary whose replicas are not all InSync (a crash, a failed sync); returns how many. */
  reconcile(): Promise<number>;
  /** Resolves once the syncs under way are done (shutdown, tests). */
  settled(): Promise<void>;
}

export function createReplication(deps: ReplicationDeps): Replication {
  const { secretsIn, logger } = deps;
  // One sync per primary at a time; a change during a sync asks for one more after it.
  const running = new Map<string, Promise<void>>();
  const again = new Set<string>();

  async function syncReplicas(arn: string): Promise<SecretRecord | undefined> {
    const primaryEngine = secretsIn(regionOfArn(arn));
    const source = await primaryEngine.replicaSource(arn);
    if (!source?.secret.replicas?.length) return source?.secret;
    const outcomes = new Map<string, Pick<ReplicaRecord, 'status' | 'statusMessage'>>();
    for (const r of source.secret.replicas) {
      try {
        outcomes.set(
          r.region,
          await secretsIn(r.region).applyReplica(source, { kmsKeyId: r.kmsKeyId, force: r.force ?? false }),
        );
      } catch (e) {
        const message = e instanceof AppError ? `${e.code}: ${e.message}` : 'The replica could not be written.';
        if (!(e instanceof AppError)) logger.warn('replica sync failed', { arn, region: r.region, error: String(e) });
        outcomes.set(r.region, { status: 'Failed', statusMessage: message });
      }
    }
    const saved = await primaryEngine.updateReplicas(
      arn,
      (replicas) =>
        replicas.map((r): ReplicaRecord => {
          const o = outcomes.get(r.region);
          // A replica added after the source was read is left as it is, for the next sync.
          if (!o) return r;
          const { status: _s, statusMessage: _m, force, ...rest } = r;
          return { ...rest, ...o, ...(force && o.status !== 'InSync' && { force }) };
        }),
      source.secret.revision,
    );
    return saved ?? (await primaryEngine.replicaSource(arn))?.secret;
  }

  /** Runs a sync, or asks the running one for another round. */
  function queue(arn: string): Promise<void> {
    const current = running.get(arn);
    if (current) {
      again.add(arn);
      return current;
    }
    const run = (async () => {
      do {
        again.delete(arn);
        await syncReplicas(arn).catch((e: unknown) =>
          logger.warn('replica sync failed; the reconciler retries', { arn, error: String(e) }),
        );
      } while (again.has(arn));
    })().finally(() => running.delete(arn));
    running.set(arn, run);
    return run;
  }

  async function reconcile(): Promise<number> {
    let synced = 0;
    for (const region of await deps.regions()) {
      for (const s of await secretsIn(region).listAll()) {
        if (s.replicas?.some((r) => r.status !== 'InSync')) {
          await queue(s.arn);
          synced++;
        }
      }
    }
    return synced;
  }

  function portIn(region: string): ReplicationPort {
    const engine = () => secretsIn(region);
    const check = (regions: readonly ReplicaRegionInput[], existing: readonly ReplicaRecord[] = []) =>
      checkReplicaRegions(region, regions, existing, deps.allowed);
    return {
      check,
      async replicate(secretId, regions, force) {
        const primary = await engine().findLive(secretId);
        if (primary.primary) throw replicaWriteRefused();
        check(regions, primary.replicas);
        const added: ReplicaRecord[] = regions.map((r) => ({
          region: r.Region ?? '',
          status: 'InProgress',
          ...(r.KmsKeyId && { kmsKeyId: r.KmsKeyId }),
          ...(force && { force }),
        }));
        await engine().updateReplicas(primary.arn, (replicas) => [...replicas, ...added]);
        await queue(primary.arn);
        return { secret: await engine().find(primary.arn) };
      },
      async remove(secretId, regions) {
        const primary = await engine().find(secretId);
        if (primary.primary) throw replicaWriteRefused();
        for (const r of regions) {
          if (!primary.replicas?.some((x) => x.region === r))
            throw new AppError(
              'InvalidParameterException',
              `The secret is not replicated to region ${r.slice(0, 128)}.`,
            );
        }
        for (const r of regions) await secretsIn(r).removeReplica(primary.arn, primary.name);
        const saved = await engine().updateReplicas(primary.arn, (replicas) =>
          replicas.filter((x) => !regions.includes(x.region)),
        );
        return { secret: saved ?? (await engine().find(primary.arn)) };
      },
      async stop(secretId) {
        const { secret, formerPrimary } = await engine().promoteReplica(secretId);
        // The primary forgets the region; were this lost, the primary's next sync finds the name taken (Failed).
        await secretsIn(formerPrimary.region)
          .updateReplicas(formerPrimary.arn, (replicas) => replicas.filter((x) => x.region !== region))
          .catch((e: unknown) =>
            logger.warn('could not drop the promoted replica from its primary', { error: String(e) }),
          );
        return secret;
      },
    };
  }

  return {
    portIn,
    primaryChanged: (primary) => void queue(primary.arn),
    syncReplicas,
    reconcile,
    settled: async () => {
      while (running.size > 0) await Promise.allSettled([...running.values()]);
    },
  };
}
