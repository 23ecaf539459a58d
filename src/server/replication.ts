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

type Outcome = Pick<ReplicaRecord, 'status' | 'statusMessage'>;
// The secrets engine's own types, derived rather than added to its index.
type ReplicaSource = Parameters<SecretsEngine['applyReplica']>[0];
type ReplicationResult = Awaited<ReturnType<ReplicationPort['replicate']>>;

/** Writes the primary into each of its replica regions; a failure is that region's outcome, not the sync's. */
async function applyToReplicas(
  deps: ReplicationDeps,
  arn: string,
  source: ReplicaSource,
): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  for (const r of source.secret.replicas ?? []) {
    try {
      outcomes.set(
        r.region,
        await deps.secretsIn(r.region).applyReplica(source, { kmsKeyId: r.kmsKeyId, force: r.force ?? false }),
      );
    } catch (e) {
      const message = e instanceof AppError ? `${e.code}: ${e.message}` : 'The replica could not be written.';
      if (!(e instanceof AppError))
        deps.logger.warn('replica sync failed', { arn, region: r.region, error: String(e) });
      outcomes.set(r.region, { status: 'Failed', statusMessage: message });
    }
  }
  return outcomes;
}

/** The primary's replica list with each synced region's outcome; `force` is kept only until a sync succeeds. */
function withOutcomes(replicas: readonly ReplicaRecord[], outcomes: ReadonlyMap<string, Outcome>): ReplicaRecord[] {
  return replicas.map((r): ReplicaRecord => {
    const o = outcomes.get(r.region);
    // A replica added after the source was read is left as it is, for the next sync.
    if (!o) return r;
    const { status: _s, statusMessage: _m, force, ...rest } = r;
    return { ...rest, ...o, ...(force && o.status !== 'InSync' && { force }) };
  });
}

async function syncReplicas(deps: ReplicationDeps, arn: string): Promise<SecretRecord | undefined> {
  const primaryEngine = deps.secretsIn(regionOfArn(arn));
  const source = await primaryEngine.replicaSource(arn);
  if (!source?.secret.replicas?.length) return source?.secret;
  const outcomes = await applyToReplicas(deps, arn, source);
  const saved = await primaryEngine.updateReplicas(
    arn,
    (replicas) => withOutcomes(replicas, outcomes),
    source.secret.revision,
  );
  return saved ?? (await primaryEngine.replicaSource(arn))?.secret;
}

/** One sync per primary at a time; a change during a sync asks for one more after it. */
class SyncQueue {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly deps: ReplicationDeps;

  constructor(deps: ReplicationDeps) {
    this.deps = deps;
  }

  /** Runs a sync, or asks the running one for another round. */
  queue(arn: string): Promise<void> {
    const current = this.running.get(arn);
    if (current) {
      this.again.add(arn);
      return current;
    }
    const run = (async () => {
      do {
        this.again.delete(arn);
        await syncReplicas(this.deps, arn).catch((e: unknown) =>
          this.deps.logger.warn('replica sync failed; the reconciler retries', { arn, error: String(e) }),
        );
      } while (this.again.has(arn));
    })().finally(() => this.running.delete(arn));
    this.running.set(arn, run);
    return run;
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }
}

async function reconcile(deps: ReplicationDeps, syncs: SyncQueue): Promise<number> {
  let synced = 0;
  for (const region of await deps.regions()) {
    for (const s of await deps.secretsIn(region).listAll()) {
      if (s.replicas?.some((r) => r.status !== 'InSync')) {
        await syncs.queue(s.arn);
        synced++;
      }
    }
  }
  return synced;
}

/** ReplicateSecretToRegions in `region`: records the new replicas InProgress, then syncs them before answering. */
async function replicate(
  deps: ReplicationDeps,
  syncs: SyncQueue,
  region: string,
  secretId: string,
  regions: readonly ReplicaRegionInput[],
  force: boolean,
): Promise<ReplicationResult> {
  const engine = () => deps.secretsIn(region);
  const primary = await engine().findLive(secretId);
  if (primary.primary) throw replicaWriteRefused();
  checkReplicaRegions(region, regions, primary.replicas ?? [], deps.allowed);
  const added: ReplicaRecord[] = regions.map((r) => ({
    region: r.Region ?? '',
    status: 'InProgress',
    ...(r.KmsKeyId && { kmsKeyId: r.KmsKeyId }),
    ...(force && { force }),
  }));
  await engine().updateReplicas(primary.arn, (replicas) => [...replicas, ...added]);
  await syncs.queue(primary.arn);
  return { secret: await engine().find(primary.arn) };
}

/** RemoveRegionsFromReplication in `region`: every named region must be a replica before any is removed. */
async function remove(
  deps: ReplicationDeps,
  region: string,
  secretId: string,
  regions: readonly string[],
): Promise<ReplicationResult> {
  const engine = () => deps.secretsIn(region);
  const primary = await engine().find(secretId);
  if (primary.primary) throw replicaWriteRefused();
  for (const r of regions) {
    if (!primary.replicas?.some((x) => x.region === r))
      throw new AppError('InvalidParameterException', `The secret is not replicated to region ${r.slice(0, 128)}.`);
  }
  for (const r of regions) await deps.secretsIn(r).removeReplica(primary.arn, primary.name);
  const saved = await engine().updateReplicas(primary.arn, (replicas) =>
    replicas.filter((x) => !regions.includes(x.region)),
  );
  return { secret: saved ?? (await engine().find(primary.arn)) };
}

/** StopReplicationToReplica in `region`: the replica is promoted, then its former primary forgets it. */
async function stop(deps: ReplicationDeps, region: string, secretId: string): Promise<SecretRecord> {
  const { secret, formerPrimary } = await deps.secretsIn(region).promoteReplica(secretId);
  // The primary forgets the region; were this lost, the primary's next sync finds the name taken (Failed).
  await deps
    .secretsIn(formerPrimary.region)
    .updateReplicas(formerPrimary.arn, (replicas) => replicas.filter((x) => x.region !== region))
    .catch((e: unknown) =>
      deps.logger.warn('could not drop the promoted replica from its primary', { error: String(e) }),
    );
  return secret;
}

export function createReplication(deps: ReplicationDeps): Replication {
  const syncs = new SyncQueue(deps);
  return {
    portIn: (region) => ({
      check: (regions, existing = []) => checkReplicaRegions(region, regions, existing, deps.allowed),
      replicate: (secretId, regions, force) => replicate(deps, syncs, region, secretId, regions, force),
      remove: (secretId, regions) => remove(deps, region, secretId, regions),
      stop: (secretId) => stop(deps, region, secretId),
    }),
    primaryChanged: (primary) => void syncs.queue(primary.arn),
    syncReplicas: (arn) => syncReplicas(deps, arn),
    reconcile: () => reconcile(deps, syncs),
    settled: () => syncs.settled(),
  };
}
