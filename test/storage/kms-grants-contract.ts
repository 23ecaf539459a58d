// The grant half of the KmsStore contract (KmsGrantStore), run on every storage driver.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GrantQuota, GrantRecord, KmsStore } from '../../src/kms/index.js';
import type { Store } from '../../src/storage/types.js';

const T0 = Date.UTC(2026, 0, 1);
const KEY_A = 'arn:aws:kms:us-east-1:000000000000:key/aaaaaaaa-0000-0000-0000-000000000000';
const KEY_B = 'arn:aws:kms:eu-west-1:000000000000:key/aaaaaaaa-0000-0000-0000-000000000000';
const KEY_C = 'arn:aws:kms:us-east-1:000000000000:key/cccccccc-0000-0000-0000-000000000000';
const APP = 'arn:aws:iam::000000000000:role/app';
const OPS = 'arn:aws:iam::000000000000:role/ops';

export function newGrant(overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    grantId: randomBytes(32).toString('hex'),
    keyArn: KEY_A,
    granteePrincipal: APP,
    operations: ['Decrypt'],
    createdAt: T0,
    issuingAccount: 'arn:aws:iam::000000000000:root',
    fingerprint: randomBytes(32).toString('hex'),
    ...overrides,
  };
}

/** Quotas no case here reaches, but the quota cases. */
const ROOMY: GrantQuota = { perKey: 1000, perGrantee: 1000 };

const ids = (grants: readonly GrantRecord[]) => grants.map((g) => g.grantId);
const sorted = (list: string[]) => [...list].sort();

export function describeKmsGrantStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`KmsStore grants contract: ${name}`, () => {
    let store: Store;
    let kms: KmsStore;

    beforeEach(async () => {
      store = await open();
      kms = store.kms;
    });

    afterEach(async () => {
      await store.close();
    });

    const put = (g: GrantRecord, quota = ROOMY) => kms.insertGrant(g, quota);

    it('stores every field, optional ones absent when not given, and reads back by key ARN and id', async () => {
      const full = newGrant({
        name: 'n:1/x_y-z',
        retiringPrincipal: OPS,
        operations: ['Encrypt', 'Decrypt', 'CreateGrant'],
        // "__proto__" as an own key: JSON round trips keep it a pair, never a prototype.
        constraints: { EncryptionContextEquals: JSON.parse('{"tenant":"ä \\"x\\"","__proto__":"p"}') },
      });
      const bare = newGrant();
      expect(await put(full)).toEqual({ grant: full });
      await put(bare);
      expect(await kms.getGrant(KEY_A, full.grantId)).toEqual(full);
      const read = await kms.getGrant(KEY_A, bare.grantId);
      expect(read).toEqual(bare);
      expect(Object.keys(read!)).not.toContain('name');
      expect(await kms.getGrant(KEY_B, full.grantId)).toBeUndefined();
    });

    it('a named grant with the same fingerprint stands once; another fingerprint or name is a new grant', async () => {
      const first = newGrant({ name: 'n', fingerprint: 'f1' });
      expect(await put(first)).toEqual({ grant: first });
      expect(await put(newGrant({ name: 'n', fingerprint: 'f1' }))).toEqual({ grant: first });
      const other = newGrant({ name: 'n', fingerprint: 'f2' });
      expect(await put(other)).toEqual({ grant: other });
      const otherKey = newGrant({ name: 'n', fingerprint: 'f1', keyArn: KEY_B });
      expect(await put(otherKey)).toEqual({ grant: otherKey });
      const unnamed = [newGrant({ fingerprint: 'f1' }), newGrant({ fingerprint: 'f1' })];
      for (const g of unnamed) expect(await put(g)).toEqual({ grant: g });
      expect((await kms.listGrants(KEY_A, 10)).items).toHaveLength(4);
    });

    it('lists a key’s grants by grant id in pages, and by grantee; retirable grants across the region’s keys only', async () => {
      const mine = [0, 1, 2, 3, 4].map((n) =>
        newGrant({ granteePrincipal: n % 2 ? APP : OPS, retiringPrincipal: OPS }),
      );
      for (const g of mine) await put(g);
      const otherKey = newGrant({ keyArn: KEY_C, retiringPrincipal: OPS });
      const elsewhere = newGrant({ keyArn: KEY_B, retiringPrincipal: OPS });
      await put(otherKey);
      await put(elsewhere);
      const seen: string[] = [];
      let after: string | undefined;
      do {
        const page = await kms.listGrants(KEY_A, 2, after);
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...ids(page.items));
        after = page.next;
      } while (after !== undefined);
      expect(seen).toEqual(sorted(ids(mine)));
      expect(ids((await kms.listGrants(KEY_A, 10, undefined, APP)).items)).toEqual(
        sorted(ids(mine.filter((g) => g.granteePrincipal === APP))),
      );
      const retirable = await kms.listRetirableGrants(OPS, 4);
      expect(retirable.items).toHaveLength(4);
      const rest = await kms.listRetirableGrants(OPS, 4, retirable.next);
      expect(sorted([...ids(retirable.items), ...ids(rest.items)])).toEqual(sorted([...ids(mine), otherKey.grantId]));
      expect(rest.next).toBeUndefined();
      // Another region's view shows its own key's grant only (a key ARN names its region).
      expect(ids((await store.inRegion('eu-west-1').kms.listRetirableGrants(OPS, 10)).items)).toEqual([
        elsewhere.grantId,
      ]);
    });

    it('finds the grants to any of some grantees on one key only (not those they may only retire), at most `limit`', async () => {
      const asGrantee = newGrant();
      const asSession = newGrant({ granteePrincipal: 'arn:aws:sts::000000000000:assumed-role/app/s' });
      const asRetirer = newGrant({ granteePrincipal: 'arn:aws:iam::000000000000:role/x', retiringPrincipal: APP });
      const unrelated = newGrant({ granteePrincipal: OPS });
      const otherKey = newGrant({ keyArn: KEY_B });
      for (const g of [asGrantee, asSession, asRetirer, unrelated, otherKey]) await put(g);
      const me = [APP, 'arn:aws:sts::000000000000:assumed-role/app/s'];
      expect(sorted(ids(await kms.grantsFor(KEY_A, me, 10)))).toEqual(sorted([asGrantee.grantId, asSession.grantId]));
      expect(await kms.grantsFor(KEY_A, me, 1)).toHaveLength(1);
      expect(await kms.grantsFor(KEY_A, [], 10)).toEqual([]);
    });

    it('refuses a grant beyond the quota per key or per grantee; a named retry of a standing grant still answers it', async () => {
      const quota: GrantQuota = { perKey: 4, perGrantee: 2 };
      const named = newGrant({ name: 'n', fingerprint: 'f1' });
      expect(await put(named, quota)).toEqual({ grant: named });
      await put(newGrant(), quota);
      expect(await put(newGrant(), quota)).toEqual({ exceeded: 'perGrantee' });
      expect(await put(newGrant({ name: 'n', fingerprint: 'f1' }), quota)).toEqual({ grant: named });
      await put(newGrant({ granteePrincipal: OPS }), quota);
      await put(newGrant({ granteePrincipal: OPS, keyArn: KEY_B }), quota);
      await put(newGrant({ granteePrincipal: OPS }), quota);
      expect(await put(newGrant({ granteePrincipal: 'arn:aws:iam::000000000000:role/x' }), quota)).toEqual({
        exceeded: 'perKey',
      });
      expect((await kms.listGrants(KEY_A, 10)).items).toHaveLength(4);
      // Concurrent inserts never exceed it together: one room left, many ask at once.
      const [, one] = (await kms.listGrants(KEY_A, 10)).items;
      await kms.deleteGrant(KEY_A, one!.grantId);
      const many = Array.from({ length: 8 }, (_, n) =>
        put(newGrant({ granteePrincipal: `arn:aws:iam::000000000000:role/r${n}` }), quota),
      );
      const results = await Promise.all(many);
      expect(results.filter((r) => 'grant' in r)).toHaveLength(1);
      expect((await kms.listGrants(KEY_A, 10)).items).toHaveLength(4);
    });

    it('deletes one grant, or every grant of a key', async () => {
      const [a, b, c] = [newGrant(), newGrant(), newGrant({ keyArn: KEY_B })];
      for (const g of [a, b, c]) await put(g);
      expect(await kms.deleteGrant(KEY_B, a.grantId)).toBe(false);
      expect(await kms.deleteGrant(KEY_A, a.grantId)).toBe(true);
      expect(await kms.deleteGrant(KEY_A, a.grantId)).toBe(false);
      expect(await kms.deleteGrantsOfKey(KEY_A)).toBe(1);
      expect((await kms.listGrants(KEY_A, 10)).items).toEqual([]);
      expect(ids((await kms.listGrants(KEY_B, 10)).items)).toEqual([c.grantId]);
    });
  });
}
