// KMS grant operations: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
import { z } from 'zod';
import type { ConditionKeys, GrantAllowance, ResourceRef } from '../../core/access.js';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { context, decodeMarker, epochSeconds, int, str } from '../../core/wire.js';
import type { KmsEngine } from '../engine.js';
import { parseGrantToken } from '../grant-token.js';
import { GRANT_OPERATIONS, type GrantRecord } from '../store.js';
import {
  allowedOnKeys,
  anyResource,
  dryRun,
  dryRunDone,
  grantTokens,
  type KmsOperation,
  key,
  keyId,
  marker,
  truncation,
} from './shapes.js';

const principal = str(1, 256, '^[\\w+=,.@:/-]+$');
const grantId = str(1, 128);
const grantLimit = int(1, 1000).optional();

const CreateGrantInput = z.object({
  KeyId: keyId,
  GranteePrincipal: principal,
  RetiringPrincipal: principal.optional(),
  Operations: z.array(z.enum(GRANT_OPERATIONS)),
  Constraints: z.object({ EncryptionContextSubset: context, EncryptionContextEquals: context }).optional(),
  GrantTokens: grantTokens,
  Name: str(1, 256, '^[a-zA-Z0-9:/_-]+$').optional(),
  DryRun: dryRun,
});
const ListGrantsInput = z.object({
  KeyId: keyId,
  Limit: grantLimit,
  Marker: marker,
  GrantId: grantId.optional(),
  GranteePrincipal: principal.optional(),
});
const ListRetirableGrantsInput = z.object({ RetiringPrincipal: principal, Limit: grantLimit, Marker: marker });
const RetireGrantInput = z.object({
  GrantToken: str(1, 8192).optional(),
  KeyId: keyId.optional(),
  GrantId: grantId.optional(),
  DryRun: dryRun,
});
const RevokeGrantInput = z.object({ KeyId: keyId, GrantId: grantId, DryRun: dryRun });

type CreateGrant = z.output<typeof CreateGrantInput>;

/** The grant CreateGrant asks for, as the authorization compares it with the caller's grants. */
function requested(i: CreateGrant): GrantAllowance {
  const g: GrantAllowance = { granteePrincipal: i.GranteePrincipal, operations: i.Operations };
  if (i.RetiringPrincipal !== undefined) g.retiringPrincipal = i.RetiringPrincipal;
  if (i.Constraints !== undefined) g.constraints = i.Constraints;
  return g;
}

/** AWS's condition keys for CreateGrant. */
function grantConditionKeys(i: CreateGrant): ConditionKeys {
  const keys: Record<string, string | string[]> = {
    'kms:grantoperations': i.Operations,
    'kms:granteeprincipal': i.GranteePrincipal,
    'kms:grantisforawsresource': 'false',
  };
  if (i.RetiringPrincipal !== undefined) keys['kms:retiringprincipal'] = i.RetiringPrincipal;
  const types = Object.keys(i.Constraints ?? {}).filter((t) => t.startsWith('EncryptionContext'));
  if (types.length > 0) keys['kms:grantconstrainttype'] = types;
  return keys;
}

/** RetireGrant names its grant by token, or by key and grant id. */
function retireTarget(i: z.output<typeof RetireGrantInput>): { keyRef: string; grantId: string } {
  if (i.KeyId !== undefined && i.GrantId !== undefined) return { keyRef: i.KeyId, grantId: i.GrantId };
  if (i.GrantToken !== undefined) {
    const t = parseGrantToken(i.GrantToken);
    return { keyRef: t.keyArn, grantId: t.grantId };
  }
  throw new AppError('ValidationException', 'Specify a GrantToken, or both a KeyId and a GrantId.');
}

function grantEntry(g: GrantRecord) {
  return {
    KeyId: g.keyArn,
    GrantId: g.grantId,
    ...(g.name !== undefined && { Name: g.name }),
    CreationDate: epochSeconds(g.createdAt),
    GranteePrincipal: g.granteePrincipal,
    ...(g.retiringPrincipal !== undefined && { RetiringPrincipal: g.retiringPrincipal }),
    IssuingAccount: g.issuingAccount,
    Operations: g.operations,
    ...(g.constraints !== undefined && { Constraints: g.constraints }),
  };
}

export const grantOperations: Record<string, KmsOperation> = {
  CreateGrant: operation({
    input: CreateGrantInput,
    resources: (i): ResourceRef[] => [
      {
        kind: 'key',
        action: 'kms:CreateGrant',
        key: i.KeyId,
        context: grantConditionKeys(i),
        requestedGrant: requested(i),
      },
    ],
    async run(engine: KmsEngine, i) {
      const r = await engine.createGrant({
        keyId: i.KeyId,
        granteePrincipal: i.GranteePrincipal,
        retiringPrincipal: i.RetiringPrincipal,
        operations: i.Operations,
        constraints: i.Constraints,
        name: i.Name,
        dryRun: i.DryRun,
      });
      dryRunDone(i.DryRun);
      return { GrantToken: r.grantToken, GrantId: r.grantId };
    },
  }),

  ListGrants: operation({
    input: ListGrantsInput,
    resources: (i) => [key('kms:ListGrants', i.KeyId)],
    async run(engine: KmsEngine, i) {
      const filter = { grantId: i.GrantId, grantee: i.GranteePrincipal };
      const { items, next } = await engine.listGrants(i.KeyId, i.Limit ?? 50, decodeMarker(i.Marker), filter);
      return { Grants: items.map(grantEntry), ...truncation(next) };
    },
  }),

  ListRetirableGrants: operation({
    input: ListRetirableGrantsInput,
    resources: () => [anyResource('kms:ListRetirableGrants')],
    async run(engine: KmsEngine, i, access) {
      const { items, next } = await engine.listRetirableGrants(
        i.RetiringPrincipal,
        i.Limit ?? 50,
        decodeMarker(i.Marker),
      );
      // A tenant sees the grants it may retire itself, and those on keys whose grants it may list:
      // DescribeKey alone must not show another principal's grants (their constraints, their grantees).
      const { identity } = access;
      const own =
        identity.kind === 'admin' || identity.roleArn === i.RetiringPrincipal || identity.arn === i.RetiringPrincipal;
      const shown = own ? items : await allowedOnKeys(access, 'kms:ListGrants', items, (g) => g.keyArn);
      return { Grants: shown.map(grantEntry), ...truncation(next) };
    },
  }),

  RetireGrant: operation({
    input: RetireGrantInput,
    validate: (i) => {
      if (i.GrantToken !== undefined) parseGrantToken(i.GrantToken);
      retireTarget(i);
    },
    resources: (i): ResourceRef[] => {
      const t = retireTarget(i);
      return [{ kind: 'key', action: 'kms:RetireGrant', key: t.keyRef, grantId: t.grantId }];
    },
    async run(engine: KmsEngine, i) {
      const t = retireTarget(i);
      if (i.DryRun) {
        await engine.requireGrant(t.keyRef, t.grantId);
        dryRunDone(true);
      }
      await engine.deleteGrant(t.keyRef, t.grantId);
      return {};
    },
  }),

  RevokeGrant: operation({
    input: RevokeGrantInput,
    resources: (i) => [key('kms:RevokeGrant', i.KeyId)],
    async run(engine: KmsEngine, i) {
      if (i.DryRun) {
        await engine.requireGrant(i.KeyId, i.GrantId);
        dryRunDone(true);
      }
      await engine.deleteGrant(i.KeyId, i.GrantId);
      return {};
    },
  }),
};
