// Replication's pure rules: AWS's refusals of replica regions, replica ARNs, the read-only replica, and the port
// through which the Secrets Manager operations reach the other regions (the server implements it).
import { AppError } from '../core/errors.js';
import type { ReplicaRecord, SecretRecord } from './store.js';

/** A region to replicate to, as ReplicateSecretToRegions and CreateSecret's AddReplicaRegions give it. */
export interface ReplicaRegionInput {
  Region?: string | undefined;
  KmsKeyId?: string | undefined;
}

/** What a replication call answers: the primary and how its replicas stand. */
export interface ReplicationResult {
  secret: SecretRecord;
}

/**
 * One region's replication operations, bound to the request's region: the server's replication module
 * reaches the other regions' engines (a domain engine sees only its own region).
 */
export interface ReplicationPort {
  /** AWS's refusals of the regions, before anything is written (CreateSecret checks before creating). */
  check(regions: readonly ReplicaRegionInput[], existing?: readonly ReplicaRecord[]): void;
  replicate(secretId: string, regions: readonly ReplicaRegionInput[], force: boolean): Promise<ReplicationResult>;
  remove(secretId: string, regions: readonly string[]): Promise<ReplicationResult>;
  /** StopReplicationToReplica: the replica in this region becomes a standalone primary. */
  stop(secretId: string): Promise<SecretRecord>;
}

/** AWS's answer to a write in a replica's region. */
export function replicaWriteRefused(): AppError {
  return new AppError(
    'InvalidRequestException',
    "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
  );
}

/** AWS's StatusMessage for a replica region holding another secret of the name, without ForceOverwriteReplicaSecret. */
export const NAME_EXISTS_MESSAGE = 'Secret with this name already exists in this region';

/** The replica's ARN: the primary's, name and suffix kept, in the replica's region. */
export function replicaArn(primaryArn: string, region: string): string {
  const parts = primaryArn.split(':');
  parts[3] = region;
  return parts.join(':');
}

/** The region an ARN names. */
export const regionOfArn = (arn: string): string => arn.split(':')[3] ?? '';

/** PrimaryRegion as AWS shows it: on a replicated secret (a primary with replicas, or a replica). */
export function primaryRegionOf(s: SecretRecord): string | undefined {
  if (s.primary) return s.primary.region;
  return s.replicas?.length ? regionOfArn(s.arn) : undefined;
}

const REGION = /^([a-z]+-)+\d+$/;

/**
 * AWS's refusals of replica regions: a malformed region, the primary's own region, a region given twice
 * or already a replica, one this server does not serve (`regions:`).
 */
export function checkReplicaRegions(
  primaryRegion: string,
  regions: readonly ReplicaRegionInput[],
  existing: readonly ReplicaRecord[],
  allowed: readonly string[] | undefined,
): void {
  const seen = new Set<string>();
  for (const { Region: region } of regions) {
    if (region === undefined || region.length > 128 || !REGION.test(region))
      throw invalidParameter(`Invalid replica region: '${(region ?? '').slice(0, 128)}'.`);
    if (region === primaryRegion)
      throw invalidParameter('Invalid replica region. Replica region cannot be same as primary region.');
    if (seen.has(region)) throw invalidParameter(`Duplicate replica region: ${region}.`);
    if (existing.some((r) => r.region === region))
      throw invalidParameter(`The secret is already replicated to region ${region}.`);
    if (allowed && !allowed.includes(region))
      throw invalidParameter(`Invalid replica region: ${region} is not served here; it serves ${allowed.join(', ')}.`);
    seen.add(region);
  }
}

/** The replicas after a change of the primary: each InProgress until the sync after the commit reaches it. */
export function markInProgress(replicas: readonly ReplicaRecord[]): ReplicaRecord[] {
  return replicas.map(({ statusMessage: _, ...r }) => ({ ...r, status: 'InProgress' }));
}

const invalidParameter = (message: string) => new AppError('InvalidParameterException', message);
