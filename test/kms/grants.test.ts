// Grants in the engine (create, name idempotence, AWS's refusals, lists, retire and revoke, deletion with
// their key) and the pure decision of what a grant allows (auth/grants.ts) through decide().
import { describe, expect, it } from 'vitest';
import { decide, type Identity } from '../../src/auth/index.js';
import type { AccessCheck, GrantAllowance } from '../../src/core/access.js';
import { encryptionContextKeys } from '../../src/core/access.js';
import { DAY_MS } from '../../src/core/clock.js';
import { GRANT_QUOTA } from '../../src/kms/engine/grants.js';
import { parseGrantToken } from '../../src/kms/grant-token.js';
import { kmsOnTempStore, PARTITION, withCode } from '../support/kms-engine.js';

const ACCOUNT = PARTITION.accountId;
const GRANTEE = `arn:aws:iam::${ACCOUNT}:role/app`;
const RETIRER = `arn:aws:iam::${ACCOUNT}:role/ops`;

describe('CreateGrant', () => {
  it('records the grant and answers a token naming it', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const { grantId, grantToken } = await kms.createGrant({
      keyId: key.keyId,
      granteePrincipal: GRANTEE,
      retiringPrincipal: RETIRER,
      operations: ['Decrypt', 'Decrypt', 'Encrypt'],
      constraints: { EncryptionContextSubset: { tenant: 'a' } },
    });
    expect(grantId).toMatch(/^[0-9a-f]{64}$/);
    expect(parseGrantToken(grantToken)).toEqual({ keyArn: kms.arnOf(key.keyId), grantId });
    const [g] = (await kms.listGrants(kms.arnOf(key.keyId), 10, undefined, {})).items;
    expect(g).toMatchObject({
      grantId,
      keyArn: kms.arnOf(key.keyId),
      granteePrincipal: GRANTEE,
      retiringPrincipal: RETIRER,
      operations: ['Decrypt', 'Encrypt'],
      constraints: { EncryptionContextSubset: { tenant: 'a' } },
      issuingAccount: `arn:aws:iam::${ACCOUNT}:root`,
    });
  });

  it('is idempotent by Name for the same parameters; other parameters make another grant', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const ask = { keyId: key.keyId, granteePrincipal: GRANTEE, operations: ['Decrypt', 'Encrypt'] as const, name: 'n' };
    const first = await kms.createGrant({ ...ask, operations: [...ask.operations] });
    const again = await kms.createGrant({ ...ask, operations: ['Encrypt', 'Decrypt'] });
    expect(again.grantId).toBe(first.grantId);
    expect(again.grantToken).not.toBe(first.grantToken);
    const other = await kms.createGrant({ ...ask, operations: ['Decrypt'] });
    expect(other.grantId).not.toBe(first.grantId);
    const unnamed = [await kms.createGrant({ ...ask, operations: ['Decrypt'], name: undefined })];
    unnamed.push(await kms.createGrant({ ...ask, operations: ['Decrypt'], name: undefined }));
    expect(unnamed[0]!.grantId).not.toBe(unnamed[1]!.grantId);
    expect((await kms.listGrants(key.keyId, 10, undefined, {})).items).toHaveLength(4);
  });

  it("refuses operations the key's type cannot do, and constraints on keys without a context", async () => {
    const { kms } = await kmsOnTempStore();
    const sym = await kms.createKey({});
    const hmac = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const rsa = await kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' });
    const grant = (keyId: string, operations: never[] | string[], constraints?: object) =>
      kms.createGrant({
        keyId,
        granteePrincipal: GRANTEE,
        operations: operations as never,
        ...(constraints && { constraints }),
      });
    await expect(grant(hmac.keyId, ['Encrypt'])).rejects.toEqual(withCode('ValidationException'));
    await expect(grant(sym.keyId, ['Sign'])).rejects.toEqual(withCode('ValidationException'));
    await expect(grant(rsa.keyId, ['GenerateDataKey'])).rejects.toEqual(withCode('ValidationException'));
    await expect(grant(sym.keyId, [])).rejects.toEqual(withCode('ValidationException'));
    const ec = { EncryptionContextEquals: { a: 'b' } };
    await expect(grant(hmac.keyId, ['GenerateMac'], ec)).rejects.toEqual(withCode('ValidationException'));
    await expect(grant(rsa.keyId, ['Sign'], ec)).rejects.toEqual(withCode('ValidationException'));
    const nine = Object.fromEntries([...Array(9).keys()].map((n) => [`k${n}`, 'v']));
    await expect(grant(sym.keyId, ['Decrypt'], { EncryptionContextSubset: nine })).rejects.toEqual(
      withCode('ValidationException'),
    );
    await expect(grant(hmac.keyId, ['GenerateMac', 'VerifyMac', 'DescribeKey'])).resolves.toBeDefined();
    await expect(grant(rsa.keyId, ['Sign', 'Verify', 'GetPublicKey'])).resolves.toBeDefined();
    await expect(
      kms.createGrant({ keyId: sym.keyId, granteePrincipal: 'not-a-principal', operations: ['Decrypt'] }),
    ).rejects.toEqual(withCode('ValidationException'));
  });

  it('refuses disabled and pending keys, aliases, and writes nothing on DryRun', async () => {
    const { kms } = await kmsOnTempStore();
    const key = await kms.createKey({});
    await kms.createAlias('alias/g', key.keyId);
    const ask = { keyId: key.keyId, granteePrincipal: GRANTEE, operations: ['Decrypt' as const] };
    await expect(kms.createGrant({ ...ask, keyId: 'alias/g' })).rejects.toEqual(withCode('NotFoundException'));
    await kms.createGrant({ ...ask, dryRun: true });
    expect((await kms.listGrants(key.keyId, 10, undefined, {})).items).toEqual([]);
    await kms.disableKey(key.keyId);
    await expect(kms.createGrant(ask)).rejects.toEqual(withCode('DisabledException'));
    await kms.enableKey(key.keyId);
    await kms.scheduleKeyDeletion(key.keyId, 7);
    await expect(kms.createGrant(ask)).rejects.toEqual(withCode('KMSInvalidStateException'));
  });
});

describe('grant quotas', () => {
  it("AWS's: 50,000 per key; 500 per grantee on a key, then LimitExceededException; a named retry still answers", async () => {
    expect(GRANT_QUOTA).toEqual({ perKey: 50_000, perGrantee: 500 });
    const { kms } = await kmsOnTempStore();
    const [key, other] = [await kms.createKey({}), await kms.createKey({})];
    const ask = { keyId: key.keyId, granteePrincipal: GRANTEE, operations: ['Decrypt' as const] };
    const first = await kms.createGrant({ ...ask, name: 'first' });
    for (let i = 1; i < GRANT_QUOTA.perGrantee; i++) await kms.createGrant(ask);
    await expect(kms.createGrant(ask)).rejects.toMatchObject({
      code: 'LimitExceededException',
      message: `The request was rejected because the number of grants on KMS key ${kms.arnOf(key.keyId)} for grantee principal ${GRANTEE} has reached the quota of 500. Retire or revoke grants you no longer need.`,
    });
    expect((await kms.createGrant({ ...ask, name: 'first' })).grantId).toBe(first.grantId);
    // Another grantee on the key, and the grantee on another key, still have room.
    await kms.createGrant({ ...ask, granteePrincipal: RETIRER });
    await kms.createGrant({ ...ask, keyId: other.keyId });
    await kms.deleteGrant(key.keyId, first.grantId);
    await kms.createGrant(ask);
  });
});

describe('ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant', () => {
  it('pages, filters, deletes; a key deleted after its window takes its grants with it', async () => {
    const { kms, clock } = await kmsOnTempStore();
    const key = await kms.createKey({});
    const other = await kms.createKey({});
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      const grantee = n % 2 ? GRANTEE : RETIRER;
      const g = await kms.createGrant({
        keyId: key.keyId,
        granteePrincipal: grantee,
        retiringPrincipal: RETIRER,
        operations: ['Decrypt'],
      });
      ids.push(g.grantId);
    }
    await kms.createGrant({
      keyId: other.keyId,
      granteePrincipal: GRANTEE,
      retiringPrincipal: RETIRER,
      operations: ['Encrypt'],
    });
    const first = await kms.listGrants(key.keyId, 2, undefined, {});
    const second = await kms.listGrants(key.keyId, 2, first.next, {});
    const third = await kms.listGrants(key.keyId, 2, second.next, {});
    expect(third.next).toBeUndefined();
    expect([...first.items, ...second.items, ...third.items].map((g) => g.grantId)).toEqual([...ids].sort());
    expect((await kms.listGrants(key.keyId, 10, undefined, { grantee: GRANTEE })).items).toHaveLength(2);
    expect((await kms.listGrants(key.keyId, 10, undefined, { grantId: ids[0]! })).items).toHaveLength(1);
    await expect(kms.listGrants(key.keyId, 10, undefined, { grantId: 'nope' })).rejects.toEqual(
      withCode('InvalidGrantIdException'),
    );
    expect((await kms.listRetirableGrants(RETIRER, 10, undefined)).items).toHaveLength(6);

    await kms.deleteGrant(key.keyId, ids[0]!);
    await expect(kms.deleteGrant(key.keyId, ids[0]!)).rejects.toEqual(withCode('NotFoundException'));
    await expect(kms.deleteGrant(other.keyId, ids[1]!)).rejects.toEqual(withCode('NotFoundException'));
    await kms.scheduleKeyDeletion(key.keyId, 7);
    clock.advance(8 * DAY_MS);
    expect((await kms.runDueJobs()).deleted).toBe(1);
    expect((await kms.listRetirableGrants(RETIRER, 10, undefined)).items.map((g) => g.keyArn)).toEqual([
      kms.arnOf(other.keyId),
    ]);
  });
});

describe('what a grant allows (decide)', () => {
  const role: Identity = {
    kind: 'role',
    role: 'app',
    roleArn: GRANTEE,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1`,
    sessionName: 's1',
    subject: 'sub',
    claims: {},
    via: 'login',
    issuedAt: 0,
    expiresAt: Number.MAX_SAFE_INTEGER,
  };
  const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/00000000-0000-0000-0000-000000000001`;
  const noPolicy = JSON.stringify({
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'kms:*' }],
  });
  const denyDecrypt = JSON.stringify({
    Statement: [{ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt' }],
  });
  const check = (action: string, grants: GrantAllowance[], extra: Partial<AccessCheck> = {}, policy = noPolicy) =>
    decide(
      role,
      undefined,
      {
        action,
        resource: KEY,
        resourcePolicy: { document: policy, kind: 'kms-key' },
        grant: { lookup: async () => grants, grants },
        ...extra,
      },
      ACCOUNT,
    ).allowed;
  const g = (operations: string[], more: Partial<GrantAllowance> = {}): GrantAllowance => ({
    granteePrincipal: GRANTEE,
    operations,
    ...more,
  });

  it('allows the listed operations only, to its grantee only; an explicit deny still wins', () => {
    expect(check('kms:Decrypt', [])).toBe(false);
    expect(check('kms:Decrypt', [g(['Decrypt'])])).toBe(true);
    expect(check('kms:Encrypt', [g(['Decrypt'])])).toBe(false);
    expect(check('kms:GenerateDataKeyWithoutPlaintext', [g(['GenerateDataKey'])])).toBe(false);
    expect(check('kms:Decrypt', [g(['Decrypt'], { granteePrincipal: `arn:aws:iam::${ACCOUNT}:role/other` })])).toBe(
      false,
    );
    expect(check('kms:Decrypt', [g(['Decrypt'], { granteePrincipal: role.arn })])).toBe(true);
    expect(check('kms:Decrypt', [g(['Decrypt'])], {}, denyDecrypt)).toBe(false);
    // A grant to the account needs the role's own policy too.
    expect(check('kms:Decrypt', [g(['Decrypt'], { granteePrincipal: `arn:aws:iam::${ACCOUNT}:root` })])).toBe(false);
  });

  it('holds its encryption-context constraint: Equals exactly, Subset contained', () => {
    const equals = [g(['Decrypt', 'DescribeKey'], { constraints: { EncryptionContextEquals: { a: '1' } } })];
    const ctx = (c: Record<string, string>) => ({ context: encryptionContextKeys(c) });
    expect(check('kms:Decrypt', equals, ctx({ a: '1' }))).toBe(true);
    expect(check('kms:Decrypt', equals, ctx({ a: '1', b: '2' }))).toBe(false);
    expect(check('kms:Decrypt', equals, ctx({ a: '2' }))).toBe(false);
    expect(check('kms:Decrypt', equals, ctx({}))).toBe(false);
    expect(check('kms:DescribeKey', equals)).toBe(true);
    const subset = [g(['Decrypt'], { constraints: { EncryptionContextSubset: { a: '1' } } })];
    expect(check('kms:Decrypt', subset, ctx({ a: '1', b: '2' }))).toBe(true);
    expect(check('kms:Decrypt', subset, ctx({ b: '2' }))).toBe(false);
  });

  it('CreateGrant in a grant creates only narrower grants; RetireGrant by its retiring principal or grantee', () => {
    const parent = g(['CreateGrant', 'Decrypt'], { constraints: { EncryptionContextSubset: { a: '1' } } });
    const asking = (requested: GrantAllowance) =>
      check('kms:CreateGrant', [parent], { grant: { lookup: async () => [parent], grants: [parent], requested } });
    const other = `arn:aws:iam::${ACCOUNT}:role/other`;
    expect(
      asking({
        granteePrincipal: other,
        operations: ['Decrypt'],
        constraints: { EncryptionContextSubset: { a: '1', b: '2' } },
      }),
    ).toBe(true);
    expect(
      asking({
        granteePrincipal: other,
        operations: ['Decrypt'],
        constraints: { EncryptionContextEquals: { a: '1' } },
      }),
    ).toBe(true);
    expect(asking({ granteePrincipal: other, operations: ['Decrypt'] })).toBe(false);
    expect(
      asking({
        granteePrincipal: other,
        operations: ['Encrypt'],
        constraints: { EncryptionContextSubset: { a: '1' } },
      }),
    ).toBe(false);
    expect(
      check('kms:CreateGrant', [g(['Decrypt'])], {
        grant: { lookup: async () => [], grants: [g(['Decrypt'])], requested: g(['Decrypt']) },
      }),
    ).toBe(false);

    // A parent with both constraints: the child must keep both, not just Equals.
    const both = g(['CreateGrant', 'Decrypt'], {
      constraints: { EncryptionContextEquals: { a: '1' }, EncryptionContextSubset: { b: '2' } },
    });
    const under = (constraints: GrantAllowance['constraints']) =>
      check('kms:CreateGrant', [both], {
        grant: {
          lookup: async () => [both],
          grants: [both],
          requested: { granteePrincipal: other, operations: ['Decrypt'], constraints },
        },
      });
    expect(under({ EncryptionContextEquals: { a: '1' } })).toBe(false);
    expect(under({ EncryptionContextSubset: { b: '2' } })).toBe(false);
    expect(under({ EncryptionContextEquals: { a: '1' }, EncryptionContextSubset: { b: '2' } })).toBe(true);

    expect(check('kms:RetireGrant', [g(['Decrypt'])])).toBe(false);
    expect(check('kms:RetireGrant', [g(['Decrypt', 'RetireGrant'])])).toBe(true);
    expect(check('kms:RetireGrant', [g(['Decrypt'], { granteePrincipal: other, retiringPrincipal: GRANTEE })])).toBe(
      true,
    );
  });
});
