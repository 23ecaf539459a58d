// What the KMS operations share: input fields, resource declarations, output shapes and pagination.
import { z } from 'zod';
import { compilePolicy } from '../../auth/index.js';
import type { Access, ConditionKeys, LocalResourceRef, ResourceRef } from '../../core/access.js';
import { keyArn } from '../../core/arn.js';
import { AppError } from '../../core/errors.js';
import { type Operation, singleCallOperations } from '../../core/operation.js';
import { awsEnum, blob, decodeMarker, encodeMarker, epochSeconds, int, str } from '../../core/wire.js';
import type { KmsEngine, MultiRegionView } from '../engine.js';
import { checkGrantTokens } from '../grant-token.js';
import { SPEC_INFO } from '../key-specs.js';
import type { KeyRecord } from '../store.js';

export type KmsOperation = Operation<KmsEngine>;

/** `action` on the key a request names (id, ARN or alias), with its key policy. */
export const key = (action: string, ref: string | undefined, context?: ConditionKeys): LocalResourceRef =>
  context ? { kind: 'key', action, key: ref, context } : { kind: 'key', action, key: ref };
export const anyResource = (action: string): LocalResourceRef => ({ kind: 'any', action });
/** The common resource shape: one action on the request's KeyId. */
export const onKeyId =
  (action: string) =>
  (i: { KeyId: string }): ResourceRef[] => [key(action, i.KeyId)];
/** The common operation shape: one action on the request's KeyId, one engine call, `{}` or a projection. */
export const onKey = singleCallOperations<KmsEngine, { KeyId: string }>((action, i) => key(action, i.KeyId));

// Fields and schemas built once: zod compiles each schema on first use, so building them per request is slow.
export const keyId = str(1, 2048);
/** GrantTokens: Keysafe's grants take effect at once, so a token is only checked for its form. */
export const grantTokens = z
  .array(str(1, 8192))
  .max(10)
  .optional()
  .transform((tokens) => {
    checkGrantTokens(tokens); // InvalidGrantTokenException, as AWS answers a malformed token
    return tokens;
  });
export const limit = int(1, 1000).optional();
export const marker = str(1, 1024, '[\\u0020-\\u00FF]*').optional();
export const tags = z.array(z.object({ TagKey: str(1, 128), TagValue: str(0, 256) })).optional();
export const dryRun = z.boolean().optional();
export const policy = str(1, 131072, '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+');
export const policyName = str(1, 128, '[\\w]+');
export const aliasName = str(1, 256, '^[a-zA-Z0-9:/_-]+$');
/** Nitro Enclaves attestation (the model's RecipientInfo): bounds checked, otherwise not used by Keysafe. */
export const recipient = z
  .object({
    KeyEncryptionAlgorithm: awsEnum(['RSAES_OAEP_SHA_256']).optional(),
    AttestationDocument: blob(1, 262144).optional(),
  })
  .optional();
export const dryRunModifiers = z.array(awsEnum(['IGNORE_CIPHERTEXT'])).optional();
export const KeyIdInput = z.object({ KeyId: keyId });

export const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');

/** AWS signals a successful DryRun as an error. */
export function dryRunDone(flag: boolean | undefined): void {
  if (flag) {
    throw new AppError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
  }
}

/** `answer` for an operation that honours DryRun: the call ran and succeeded, so a DryRun ends here. */
export const unlessDryRun =
  <R, I extends { DryRun?: boolean | undefined }>(answer: (result: R, input: I) => object) =>
  (result: R, _engine: KmsEngine, input: I): object => {
    dryRunDone(input.DryRun);
    return answer(result, input);
  };

export function algorithmsOf(k: KeyRecord) {
  const algorithms = SPEC_INFO[k.keySpec].usages[k.keyUsage] ?? [];
  if (k.keyUsage === 'ENCRYPT_DECRYPT') return { EncryptionAlgorithms: algorithms };
  if (k.keyUsage === 'SIGN_VERIFY') return { SigningAlgorithms: algorithms };
  if (k.keyUsage === 'KEY_AGREEMENT') return { KeyAgreementAlgorithms: algorithms };
  return { MacAlgorithms: algorithms };
}

/** DescribeKey's MultiRegionConfiguration: the primary, and every replica (this key included if it is one). */
function multiRegionConfiguration(engine: KmsEngine, k: KeyRecord, view: MultiRegionView, region: string) {
  const at = (r: string) => ({ Arn: keyArn({ region: r, accountId: engine.partition.accountId }, k.keyId), Region: r });
  return {
    MultiRegionKeyType: view.primaryRegion === region ? 'PRIMARY' : 'REPLICA',
    PrimaryKey: at(view.primaryRegion),
    ReplicaKeys: view.replicaRegions.map(at),
  };
}

/**
 * KeyMetadata; a multi-Region key's `view` (engine.multiRegionView) fills MultiRegionConfiguration.
 * `region`: where the record lives, when not the engine's (ReplicateKey describes the new replica).
 */
export function keyMetadata(engine: KmsEngine, k: KeyRecord, view?: MultiRegionView, region = engine.partition.region) {
  return {
    AWSAccountId: engine.partition.accountId,
    KeyId: k.keyId,
    Arn: keyArn({ region, accountId: engine.partition.accountId }, k.keyId),
    CreationDate: epochSeconds(k.createdAt),
    Enabled: k.state === 'Enabled',
    Description: k.description,
    KeyUsage: k.keyUsage,
    KeyState: k.state,
    // AWS: DeletionDate only when PendingDeletion; PendingDeletionWindowInDays only when PendingReplicaDeletion.
    ...(k.state === 'PendingDeletion' && k.deletionAt !== undefined && { DeletionDate: epochSeconds(k.deletionAt) }),
    ...(k.state === 'PendingReplicaDeletion' && { PendingDeletionWindowInDays: k.pendingWindowInDays }),
    ...originMetadata(k),
    // Keysafe's own keys are to a customer what AWS managed keys are: AWS says AWS for those.
    KeyManager: k.internalPurpose === undefined ? 'CUSTOMER' : 'AWS',
    CustomerMasterKeySpec: k.keySpec,
    KeySpec: k.keySpec,
    ...algorithmsOf(k),
    MultiRegion: k.multiRegion !== undefined,
    ...(view && { MultiRegionConfiguration: multiRegionConfiguration(engine, k, view, region) }),
  };
}

/** Origin, and for imported material its expiry and id, as DescribeKey reports them. */
function originMetadata(k: KeyRecord) {
  const m = k.imported;
  if (k.origin !== 'EXTERNAL') return { Origin: 'AWS_KMS' };
  return {
    Origin: 'EXTERNAL',
    ...(m?.present && { ExpirationModel: m.expirationModel }),
    ...(m?.present && m.validTo !== undefined && { ValidTo: epochSeconds(m.validTo) }),
    ...(m && SPEC_INFO[k.keySpec].kind === 'symmetric' && { CurrentKeyMaterialId: m.keyMaterialId }),
  };
}

/** The answer naming a key by its ARN (CancelKeyDeletion, RotateKeyOnDemand). */
export const keyArnOf = (k: KeyRecord, engine: KmsEngine) => ({ KeyId: engine.arnOf(k.keyId) });

export function truncation(next: string | undefined) {
  return next === undefined ? { Truncated: false } : { Truncated: true, NextMarker: encodeMarker(next) };
}

/** In-memory pagination for short lists (tags, rotations): the marker is the next index. */
export function paginate<T>(all: T[], pageSize: number, markerIn: string | undefined, field: string): object {
  const start = markerIn === undefined ? 0 : Number(decodeMarker(markerIn));
  if (!Number.isInteger(start) || start < 0) throw new AppError('InvalidMarkerException', 'The marker is invalid.');
  const end = start + pageSize;
  return {
    [field]: all.slice(start, end),
    ...(end < all.length ? { Truncated: true, NextMarker: encodeMarker(String(end)) } : { Truncated: false }),
  };
}

/**
 * The listed items whose key the caller may describe: a tenant lists its own keys and aliases, never
 * another's (a Keysafe choice; AWS lists a whole account). A page may come out short.
 */
export const mayDescribe = <T>(access: Access, items: T[], keyIdOf: (item: T) => string): Promise<T[]> =>
  allowedOnKeys(access, 'kms:DescribeKey', items, keyIdOf);

/** The listed items on whose key the caller may do `action`. */
export async function allowedOnKeys<T>(
  access: Access,
  action: string,
  items: T[],
  keyIdOf: (item: T) => string,
): Promise<T[]> {
  const shown: T[] = [];
  for (const item of items) {
    if ((await access.refusalOf([key(action, keyIdOf(item))])) === undefined) shown.push(item);
  }
  return shown;
}

export function validatePolicy(engine: KmsEngine, document: string): void {
  compilePolicy(document, 'resource', engine.partition.accountId);
}
