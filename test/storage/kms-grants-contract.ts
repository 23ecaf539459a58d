// The grant half of the KmsStore contract (KmsGrantStore), run on every storage driver.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GrantRecord, KmsStore } from '../../src/kms/index.js';
import type { Store } from '../../src/storage/types.js';

const T0 = Date.UTC(2026, 0, 1);
const KEY_A = 'arn:aws:kms:us-east-1:000000000000:key/aaaaaaaa-0000-0000-0000-000000000000';
const KEY_B = 'arn:aws:kms:eu-west-1:000000000000:key/aaaaaaaa-0000-0000-0000-000000000000';
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

    it('stores every field, optional ones absent when not given, and reads back by key ARN and id', async () => {
      const full = newGrant({
        name: 'n:1/x_y-z',
        retiringPrincipal: OPS,
        operations: ['Encrypt', 'Decrypt', 'CreateGrant'],
        // "__proto__" as an own key: JSON round trips keep it a pair, never a prototype.
        constraints: { EncryptionContextEquals: JSON.parse('{"tenant":"ä \\"x\\"","__proto__":"p"}') },
      });
      const bare = newGrant();
      expect(await kms.insertGrant(full)).toEqual(full);
      await kms.insertGrant(bare);
      expect(await kms.getGrant(KEY_A, full.grantId)).toEqual(full);
      const read = await kms.getGrant(KEY_A, bare.grantId);
      expect(read).toEqual(bare);
      expect(Object.keys(read!)).not.toContain('name');
      expect(await kms.getGrant(KEY_B, full.grantId)).toBeUndefined();
    });

    it('a named grant with the same fingerprint stands once; another fingerprint or name is a new grant', async () => {
      const first = newGrant({ name: 'n', fingerprint: 'f1' });
      expect(await kms.insertGrant(first)).toEqual(first);
      expect(await kms.insertGrant(newGrant({ name: 'n', fingerprint: 'f1' }))).toEqual(first);
      const other = newGrant({ name: 'n', fingerprint: 'f2' });
      expect(await kms.insertGrant(other)).toEqual(other);
      const otherKey = newGrant({ name: 'n', fingerprint: 'f1', keyArn: KEY_B });
      expect(await kms.insertGrant(otherKey)).toEqual(otherKey);
      const unnamed = [newGrant({ fingerprint: 'f1' }), newGrant({ fingerprint: 'f1' })];
      for (const g of unnamed) expect(await kms.insertGrant(g)).toEqual(g);
      expect((await kms.listGrants(KEY_A, 10)).items).toHaveLength(4);
    });

    it('lists a key’s grants by grant id in pages, and by grantee; retirable grants across keys', async () => {
      const mine = [0, 1, 2, 3, 4].map((n) =>
        newGrant({ granteePrincipal: n % 2 ? APP : OPS, retiringPrincipal: OPS }),
      );
      for (const g of mine) await kms.insertGrant(g);
      const elsewhere = newGrant({ keyArn: KEY_B, retiringPrincipal: OPS });
      await kms.insertGrant(elsewhere);
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
      expect(sorted([...ids(retirable.items), ...ids(rest.items)])).toEqual(sorted([...ids(mine), elsewhere.grantId]));
      expect(rest.next).toBeUndefined();
    });

    it('finds the grants naming principals as grantee or retiring principal, on one key only', async () => {
      const asGrantee = newGrant();
      const asRetirer = newGrant({ granteePrincipal: 'arn:aws:iam::000000000000:role/x', retiringPrincipal: APP });
      const unrelated = newGrant({ granteePrincipal: OPS });
      const otherKey = newGrant({ keyArn: KEY_B });
      for (const g of [asGrantee, asRetirer, unrelated, otherKey]) await kms.insertGrant(g);
      expect(sorted(ids(await kms.grantsNaming(KEY_A, [APP, 'arn:aws:sts::000000000000:assumed-role/app/s'])))).toEqual(
        sorted([asGrantee.grantId, asRetirer.grantId]),
      );
      expect(await kms.grantsNaming(KEY_A, [])).toEqual([]);
    });

    it('deletes one grant, or every grant of a key', async () => {
      const [a, b, c] = [newGrant(), newGrant(), newGrant({ keyArn: KEY_B })];
      for (const g of [a, b, c]) await kms.insertGrant(g);
      expect(await kms.deleteGrant(KEY_B, a.grantId)).toBe(false);
      expect(await kms.deleteGrant(KEY_A, a.grantId)).toBe(true);
      expect(await kms.deleteGrant(KEY_A, a.grantId)).toBe(false);
      expect(await kms.deleteGrantsOfKey(KEY_A)).toBe(1);
      expect((await kms.listGrants(KEY_A, 10)).items).toEqual([]);
      expect(ids((await kms.listGrants(KEY_B, 10)).items)).toEqual([c.grantId]);
    });
  });
}
