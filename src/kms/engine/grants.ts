// KMS grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant, and the grants an
// authorization decision reads. Grants take effect at once: their tokens only identify them.
import { parseKeyRef } from '../../core/arn.js';
import { AppError } from '../../core/errors.js';
import { randomHex, sha256Hex } from '../../crypto/index.js';
import type { Page } from '../../storage/index.js';
import { checkGrantId, grantToken } from '../grant-token.js';
import type { GrantConstraints, GrantOperation, GrantQuota, GrantRecord, KeyRecord } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireEnabled } from './guards.js';

export interface CreateGrantInput {
  keyId: string;
  granteePrincipal: string;
  retiringPrincipal?: string | undefined;
  operations: readonly GrantOperation[];
  constraints?: GrantConstraints | undefined;
  name?: string | undefined;
  /** Validate only: nothing is written (the operation then answers DryRunOperationException). */
  dryRun?: boolean | undefined;
}

export interface CreatedGrant {
  grantId: string;
  grantToken: string;
}

/** What any key allows in a grant, and what each kind of key adds (AWS's grant operations table). */
const ALWAYS: readonly GrantOperation[] = ['CreateGrant', 'RetireGrant', 'DescribeKey'];
const ENCRYPTION: readonly GrantOperation[] = ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo'];
const DATA_KEYS: readonly GrantOperation[] = [
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
];
const BY_USAGE: Readonly<Record<string, readonly GrantOperation[]>> = {
  ENCRYPT_DECRYPT: [...ENCRYPTION, 'GetPublicKey'],
  SIGN_VERIFY: ['Sign', 'Verify', 'GetPublicKey'],
  GENERATE_VERIFY_MAC: ['GenerateMac', 'VerifyMac'],
  KEY_AGREEMENT: ['DeriveSharedSecret', 'GetPublicKey'],
};

const isSymmetric = (key: KeyRecord) => key.keySpec === 'SYMMETRIC_DEFAULT';

/** The operations a grant on this key may list. */
export function grantableOperations(key: KeyRecord): readonly GrantOperation[] {
  if (isSymmetric(key)) return [...ALWAYS, ...ENCRYPTION, ...DATA_KEYS];
  return [...ALWAYS, ...(BY_USAGE[key.keyUsage] ?? [])];
}

/** AWS's quotas: 50,000 grants per KMS key, 500 of them to any one grantee principal. */
export const GRANT_QUOTA: GrantQuota = { perKey: 50_000, perGrantee: 500 };

function quotaExceeded(which: keyof GrantQuota, keyArn: string, grantee: string): AppError {
  const message =
    which === 'perKey'
      ? `The request was rejected because the number of grants on KMS key ${keyArn} has reached the quota of ${GRANT_QUOTA.perKey}. Retire or revoke grants you no longer need.`
      : `The request was rejected because the number of grants on KMS key ${keyArn} for grantee principal ${grantee} has reached the quota of ${GRANT_QUOTA.perGrantee}. Retire or revoke grants you no longer need.`;
  return new AppError('LimitExceededException', message);
}

/** At most 8 pairs and 384 characters per constraint (AWS's quota). */
const MAX_CONSTRAINT_PAIRS = 8;
const MAX_CONSTRAINT_CHARS = 384;

function validateGrant(ctx: KmsContext, key: KeyRecord, input: CreateGrantInput): void {
  if (input.operations.length === 0) {
    throw new AppError('ValidationException', 'Operations must list at least one grant operation.');
  }
  const allowed = grantableOperations(key);
  const refused = input.operations.filter((op) => !allowed.includes(op));
  if (refused.length > 0) {
    throw new AppError(
      'ValidationException',
      `Grant operations ${refused.join(', ')} are not valid for ${ctx.arnOf(key.keyId)}, a ${key.keySpec} key with key usage ${key.keyUsage}.`,
    );
  }
  for (const principal of [input.granteePrincipal, input.retiringPrincipal]) {
    if (principal !== undefined && !isPrincipal(principal)) {
      throw new AppError('ValidationException', `Invalid principal: ${principal}`);
    }
  }
  const c = input.constraints;
  if (c === undefined) return;
  if (!isSymmetric(key)) {
    throw new AppError(
      'ValidationException',
      'Grant constraints are supported only on symmetric encryption KMS keys: operations with other keys take no encryption context.',
    );
  }
  for (const pairs of [c.EncryptionContextEquals, c.EncryptionContextSubset]) {
    if (pairs === undefined) continue;
    const entries = Object.entries(pairs);
    const chars = entries.reduce((n, [k, v]) => n + k.length + v.length, 0);
    if (entries.length > MAX_CONSTRAINT_PAIRS || chars > MAX_CONSTRAINT_CHARS) {
      throw new AppError(
        'ValidationException',
        `A grant constraint holds at most ${MAX_CONSTRAINT_PAIRS} encryption context pairs of ${MAX_CONSTRAINT_CHARS} characters in all.`,
      );
    }
  }
}

/**
 * AWS's principals: an account id or root, an IAM role or user, an assumed role or federated user
 * (STS), or a service principal.
 */
const PRINCIPAL =
  /^(\d{12}|arn:aws:iam::\d{12}:(root|role\/.+|user\/.+)|arn:aws:sts::\d{12}:(assumed-role|federated-user)\/.+|[a-z0-9.-]+\.amazonaws\.com)$/;
const isPrincipal = (p: string) => PRINCIPAL.test(p);

/** Constraints without empty maps; undefined when none is left. */
function normalConstraints(c: GrantConstraints | undefined): GrantConstraints | undefined {
  if (c === undefined) return undefined;
  const out: GrantConstraints = {};
  if (c.EncryptionContextEquals && Object.keys(c.EncryptionContextEquals).length > 0) {
    out.EncryptionContextEquals = c.EncryptionContextEquals;
  }
  if (c.EncryptionContextSubset && Object.keys(c.EncryptionContextSubset).length > 0) {
    out.EncryptionContextSubset = c.EncryptionContextSubset;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const sortedPairs = (pairs: Record<string, string> | undefined) =>
  pairs && Object.entries(pairs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The parameters in canonical form, hashed: what makes two named CreateGrant requests the same. */
function fingerprintOf(g: Omit<GrantRecord, 'grantId' | 'createdAt' | 'fingerprint' | 'name' | 'keyArn'>): string {
  return sha256Hex(
    JSON.stringify([
      g.granteePrincipal,
      g.retiringPrincipal ?? null,
      [...g.operations].sort(),
      sortedPairs(g.constraints?.EncryptionContextEquals) ?? null,
      sortedPairs(g.constraints?.EncryptionContextSubset) ?? null,
    ]),
  );
}

/** A key by key id or key ARN: the grant operations take no alias, as AWS documents. */
async function grantKey(ctx: KmsContext, ref: string): Promise<KeyRecord> {
  if (parseKeyRef(ctx.partition, ref).kind === 'alias') {
    throw new AppError('NotFoundException', `Invalid keyId '${ref}': grant operations take a key id or key ARN.`);
  }
  const key = await ctx.keys.getKey(ref);
  refuseInternal(ctx, key);
  return key;
}

async function keyArnOf(ctx: KmsContext, ref: string): Promise<string> {
  return ctx.arnOf((await grantKey(ctx, ref)).keyId);
}

/** The grant a valid request describes, with a new id (not yet stored). */
function newGrant(ctx: KmsContext, key: KeyRecord, input: CreateGrantInput): GrantRecord {
  const constraints = normalConstraints(input.constraints);
  const operations = [...new Set(input.operations)];
  const shape = {
    granteePrincipal: input.granteePrincipal,
    ...(input.retiringPrincipal !== undefined && { retiringPrincipal: input.retiringPrincipal }),
    operations,
    ...(constraints && { constraints }),
    issuingAccount: `arn:aws:iam::${ctx.partition.accountId}:root`,
  };
  return {
    grantId: randomHex(32),
    keyArn: ctx.arnOf(key.keyId),
    ...(input.name !== undefined && { name: input.name }),
    ...shape,
    createdAt: ctx.clock.now(),
    fingerprint: fingerprintOf(shape),
  };
}

async function createGrant(ctx: KmsContext, input: CreateGrantInput): Promise<CreatedGrant> {
  const key = await grantKey(ctx, input.keyId);
  requireEnabled(ctx, key);
  validateGrant(ctx, key, input);
  const grant = newGrant(ctx, key, input);
  if (input.dryRun) return { grantId: grant.grantId, grantToken: grantToken(grant) };
  const r = await ctx.store.insertGrant(grant, GRANT_QUOTA);
  if ('exceeded' in r) throw quotaExceeded(r.exceeded, grant.keyArn, grant.granteePrincipal);
  return { grantId: r.grant.grantId, grantToken: grantToken(r.grant) };
}

/** A key's grants, optionally one grant or one grantee's. */
async function listGrants(
  ctx: KmsContext,
  keyRef: string,
  limit: number,
  after: string | undefined,
  filter: { grantId?: string | undefined; grantee?: string | undefined },
): Promise<Page<GrantRecord>> {
  const keyArn = await keyArnOf(ctx, keyRef);
  if (filter.grantId !== undefined) {
    checkGrantId(filter.grantId);
    const g = await ctx.store.getGrant(keyArn, filter.grantId);
    const shown = g && (filter.grantee === undefined || g.granteePrincipal === filter.grantee);
    return { items: shown && (after === undefined || g.grantId > after) ? [g] : [] };
  }
  return ctx.store.listGrants(keyArn, limit, after, filter.grantee);
}

export function grantOperations(ctx: KmsContext) {
  return {
    createGrant: (input: CreateGrantInput): Promise<CreatedGrant> => createGrant(ctx, input),

    /** A key's grants, optionally one grant or one grantee's. */
    listGrants: (
      keyRef: string,
      limit: number,
      after: string | undefined,
      filter: { grantId?: string | undefined; grantee?: string | undefined },
    ): Promise<Page<GrantRecord>> => listGrants(ctx, keyRef, limit, after, filter),

    listRetirableGrants: (principal: string, limit: number, after: string | undefined) =>
      ctx.store.listRetirableGrants(principal, limit, after),

    /** The grant, or NotFoundException (DryRun of RetireGrant and RevokeGrant). */
    async requireGrant(keyRef: string, grantId: string): Promise<GrantRecord> {
      checkGrantId(grantId);
      const g = await ctx.store.getGrant(await keyArnOf(ctx, keyRef), grantId);
      if (!g) throw new AppError('NotFoundException', `Grant ID ${grantId} not found`);
      return g;
    },

    /** RetireGrant and RevokeGrant: deletes the grant; NotFoundException when the key has no such grant. */
    async deleteGrant(keyRef: string, grantId: string): Promise<void> {
      checkGrantId(grantId);
      const keyArn = await keyArnOf(ctx, keyRef);
      if (!(await ctx.store.deleteGrant(keyArn, grantId))) {
        throw new AppError('NotFoundException', `Grant ID ${grantId} not found`);
      }
    },

    /**
     * The key's grants to any of `grantees`, for an authorization decision: at most the quota's
     * worth per grantee, read through the (key, grantee) index whatever else the key has.
     */
    grantsFor: (keyArn: string, grantees: readonly string[]) =>
      ctx.store.grantsFor(keyArn, grantees, grantees.length * GRANT_QUOTA.perGrantee),

    /** One grant of a key, for RetireGrant's decision (its retiring principal may retire it). */
    grantOf: (keyArn: string, grantId: string) => ctx.store.getGrant(keyArn, grantId),
  };
}
