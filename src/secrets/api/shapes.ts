// What the Secrets Manager operations share: input fields, resource declarations, output shapes, pagination.
import { z } from 'zod';
import type { ConditionKeys, LocalResourceRef, ResourceRef } from '../../core/access.js';
import { AppError } from '../../core/errors.js';
import { type Operation, singleCallOperations } from '../../core/operation.js';
import { blob, epochSeconds, str } from '../../core/wire.js';
import type { SecretsEngine, SecretValue } from '../engine.js';
import { DEFAULT_KMS_ALIAS } from '../envelope.js';
import { AWSCURRENT } from '../labels.js';
import { primaryRegionOf, type ReplicationPort } from '../replication.js';
import type { Rotation } from '../rotation.js';
import type { SecretRecord, SecretVersionRecord } from '../store.js';

export interface SecretsApiContext {
  engine: SecretsEngine;
  rotation: Rotation;
  /** Replication across regions (the server's); absent where only one region's engine exists. */
  replication?: ReplicationPort;
}

export type SecretsOperation = Operation<SecretsApiContext>;

export const anyResource = (action: string): ResourceRef => ({ kind: 'any', action });
export const secret = (action: string, id: string, context?: ConditionKeys): ResourceRef =>
  context ? { kind: 'secret', action, secret: id, context } : { kind: 'secret', action, secret: id };
/** The common resource shape: one action on the request's SecretId. */
export const onSecretId =
  (action: string) =>
  (i: { SecretId: string }): ResourceRef[] => [secret(action, i.SecretId)];
/** The common operation shape: one action on the request's SecretId, one call, `{}` or a projection. */
export const onSecret = singleCallOperations<SecretsApiContext, { SecretId: string }>((action, i) =>
  secret(action, i.SecretId),
);

/** Reading a version: GetSecretValue on the secret, and kms:Decrypt on a customer-managed key of the version. */
export function readVersion(id: string, versionId?: string, versionStage?: string): ResourceRef[] {
  const context: Record<string, string> = {};
  if (versionId !== undefined) context['secretsmanager:versionid'] = versionId;
  const stage = versionStage ?? (versionId === undefined ? AWSCURRENT : undefined);
  if (stage !== undefined) context['secretsmanager:versionstage'] = stage;
  return [
    secret('secretsmanager:GetSecretValue', id, context),
    { kind: 'secret-key', action: 'kms:Decrypt', secret: id, version: { versionId, versionStage: stage } },
  ];
}

/** Sealing a new version: kms:GenerateDataKey on the customer-managed key it will be sealed with. */
export const sealWith = (id: string, key?: string): LocalResourceRef => ({
  kind: 'secret-key',
  action: 'kms:GenerateDataKey',
  secret: id,
  ...(key !== undefined && { key }),
});

// Fields and schemas built once: zod compiles each schema on first use, so building them per request is slow.
export const secretId = str(1, 2048);
export const token = str(32, 64).optional();
export const tags = z.array(z.object({ Key: str(1, 128), Value: str(0, 256) }));
export const secretString = str(1, 65_536).optional();
/** The model's `Type` of a managed external secret: bounds checked, otherwise not used by Keysafe. */
export const secretType = str(0, 256).optional();
export const secretBinary = blob(1, 65_536).optional();
export const SecretIdInput = z.object({ SecretId: secretId });

export const secretValueOf = (i: { SecretString?: string; SecretBinary?: Buffer }): SecretValue | undefined => {
  if (i.SecretString === undefined && i.SecretBinary === undefined) return undefined;
  return {
    ...(i.SecretString !== undefined && { string: i.SecretString }),
    ...(i.SecretBinary && { binary: i.SecretBinary }),
  };
};

/** The answer naming a secret. */
export const arnAndName = (s: { arn: string; name: string }) => ({ ARN: s.arn, Name: s.name });
/** The answer naming a secret and the version a write made, if it made one. */
export const arnNameAndVersion = (r: { secret: { arn: string; name: string }; versionId?: string | undefined }) => ({
  ARN: r.secret.arn,
  Name: r.secret.name,
  ...(r.versionId && { VersionId: r.versionId }),
});

/** The pagination token: base64url of the last item's sort position. */
const encodeToken = (n: number) => Buffer.from(String(n)).toString('base64url');
function decodeToken(t: string | undefined): number {
  if (t === undefined) return 0;
  const n = Number(Buffer.from(t, 'base64url').toString());
  if (!Number.isInteger(n) || n < 0 || encodeToken(n) !== t) {
    throw new AppError('InvalidNextTokenException', 'The NextToken value is invalid.');
  }
  return n;
}

export function paginate<T>(items: T[], max: number, next: string | undefined): { page: T[]; NextToken?: string } {
  const start = decodeToken(next);
  const page = items.slice(start, start + max);
  return start + max < items.length ? { page, NextToken: encodeToken(start + max) } : { page };
}

function versionsToStages(versions: SecretVersionRecord[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of versions) if (v.stages.length > 0) out[v.versionId] = v.stages;
  return out;
}

/** DescribeSecret and ListSecrets entries; `KeysafeRotation` carries rotation progress and failures. */
export function describe(s: SecretRecord, versions: SecretVersionRecord[]) {
  const r = s.rotation;
  const stages = versionsToStages(versions);
  return {
    ARN: s.arn,
    Name: s.name,
    ...(s.description !== undefined && { Description: s.description }),
    ...(s.kmsKeyId !== undefined && { KmsKeyId: s.kmsKeyId }),
    ...(r && { RotationEnabled: r.enabled }),
    ...(r?.lambdaArn && { RotationLambdaARN: r.lambdaArn }),
    ...(r?.rules && { RotationRules: r.rules }),
    ...(r?.lastRotatedAt !== undefined && { LastRotatedDate: epochSeconds(r.lastRotatedAt) }),
    ...(r?.enabled && r.nextRotationAt !== undefined && { NextRotationDate: epochSeconds(r.nextRotationAt) }),
    LastChangedDate: epochSeconds(s.lastChangedAt),
    ...(s.deletedAt !== undefined && { DeletedDate: epochSeconds(s.deletedAt) }),
    ...(s.lastAccessedAt !== undefined && { LastAccessedDate: epochSeconds(s.lastAccessedAt) }),
    // "Secrets Manager only returns fields that have a value": no Tags for a never-tagged secret, no
    // VersionIdsToStages for one without labelled versions.
    ...((s.everTagged || s.tags.length > 0) && { Tags: s.tags }),
    ...(Object.keys(stages).length > 0 && { VersionIdsToStages: stages }),
    CreatedDate: epochSeconds(s.createdAt),
    ...replicationOf(s),
    ...((r?.inProgress || r?.lastFailure) && {
      KeysafeRotation: {
        ...(r.inProgress && {
          InProgress: { VersionId: r.inProgress.token, Step: r.inProgress.step, Attempts: r.inProgress.attempts },
        }),
        ...(r.lastFailure && {
          LastFailure: {
            Step: r.lastFailure.step,
            Message: r.lastFailure.message,
            Date: epochSeconds(r.lastFailure.at),
          },
        }),
      },
    }),
  };
}

/** PrimaryRegion and ReplicationStatus, on a replicated secret (ReplicationStatus on the primary). */
export function replicationOf(s: SecretRecord) {
  const primaryRegion = primaryRegionOf(s);
  return {
    ...(primaryRegion !== undefined && { PrimaryRegion: primaryRegion }),
    ...(s.replicas?.length && { ReplicationStatus: replicationStatus(s) }),
  };
}

export const replicationStatus = (s: SecretRecord) =>
  (s.replicas ?? []).map((r) => ({
    Region: r.region,
    ...(r.kmsKeyId !== undefined ? { KmsKeyId: r.kmsKeyId } : { KmsKeyId: DEFAULT_KMS_ALIAS }),
    Status: r.status,
    ...(r.statusMessage !== undefined && { StatusMessage: r.statusMessage }),
  }));
