// Keysafe's own keys and aliases in the KMS engine: reserved alias namespaces, pinned key ids, old-store adoption.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { RootKey, RootKeyring } from '../../src/crypto/index.js';
import {
  createKmsEngine,
  INTERNAL_KEY_POLICY,
  INTERNAL_KEYS,
  internalKey,
  type KmsEngine,
} from '../../src/kms/index.js';
import type { LogFields, Logger } from '../../src/observability/logger.js';
import { openStore, type Store } from '../../src/storage/index.js';
import { tempDir } from '../support/server.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

/** A logger that keeps what it was told, to check what start-up reports. */
function recordingLogger() {
  const lines: { level: string; msg: string; fields?: LogFields }[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: LogFields): void => {
      lines.push({ level, msg, ...(fields && { fields }) });
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

async function engineOnStore() {
  const dir = tempDir();
  const store: Store = await openStore(`sqlite:${join(dir, 'keysafe.db')}`);
  cleanup.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { logger, lines } = recordingLogger();
  const kms = createKmsEngine({
    store: store.kms,
    rootKeys: new RootKeyring(RootKey.fromBytesInsecure(RootKey.generateBytesInsecure())),
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    partition: { region: 'us-east-1', accountId: '000000000000' },
    logger,
  });
  return { store, kms, lines };
}

const code = (code: string) => expect.objectContaining({ code });
const MAC = 'HMAC_SHA_256';

describe('reserved alias namespaces', () => {
  it.each(['alias/aws/secretsmanager', 'alias/aws', 'alias/keysafe/sessions', 'alias/keysafe/mine', 'alias/keysafe'])(
    'no caller creates, re-points or deletes %s',
    async (name) => {
      const { kms, store } = await engineOnStore();
      const mine = await kms.createKey({});
      await expect(kms.createAlias(name, mine.keyId)).rejects.toEqual(code('NotAuthorizedException'));
      // An existing one (as the server makes them) cannot be re-pointed or deleted either.
      await store.kms.createAlias({ name, keyId: mine.keyId, createdAt: 1, updatedAt: 1 });
      const other = await kms.createKey({});
      await expect(kms.updateAlias(name, other.keyId)).rejects.toEqual(code('NotAuthorizedException'));
      await expect(kms.deleteAlias(name)).rejects.toEqual(code('NotAuthorizedException'));
      expect(await store.kms.getAlias(name)).toMatchObject({ keyId: mine.keyId, updatedAt: 1 });
    },
  );

  it('leaves names that only look alike to callers', async () => {
    const { kms } = await engineOnStore();
    const key = await kms.createKey({});
    for (const name of ['alias/keysafe-demo', 'alias/awsome', 'alias/team/keysafe/x']) {
      await kms.createAlias(name, key.keyId);
      await kms.deleteAlias(name);
    }
  });
});

describe("Keysafe's own keys", () => {
  it('are found by the recorded key id: re-pointing the alias in the store changes nothing', async () => {
    const { kms, store } = await engineOnStore();
    const arn = await internalKey(kms, INTERNAL_KEYS.sessions)();
    const recorded = await store.kms.getInternalKey('sessions');
    expect(kms.arnOf(recorded!.keyId)).toBe(arn);
    // The attack of issue 14, done below the API: the alias now names a tenant's HMAC key.
    const tenant = await kms.createKey({ keyUsage: 'GENERATE_VERIFY_MAC', keySpec: 'HMAC_256' });
    await store.kms.updateAlias(INTERNAL_KEYS.sessions.alias, tenant.keyId, 2);
    // A restart resolves the key again: the recorded id, and the alias is put back for display.
    const again = await internalKey(kms, INTERNAL_KEYS.sessions)();
    expect(again).toBe(arn);
    expect((await store.kms.getAlias(INTERNAL_KEYS.sessions.alias))?.keyId).toBe(recorded!.keyId);
  });

  it('cannot be used or changed through the engine by any caller; the server uses them', async () => {
    const { kms } = await engineOnStore();
    const sessions = await internalKey(kms, INTERNAL_KEYS.sessions)();
    const secrets = await internalKey(kms, INTERNAL_KEYS.secretsmanager)();
    const refused = code('NotAuthorizedException');
    for (const ref of [sessions, INTERNAL_KEYS.sessions.alias]) {
      await expect(kms.generateMac(ref, Buffer.from('x'), MAC)).rejects.toEqual(refused);
      await expect(kms.verifyMac(ref, Buffer.from('x'), MAC, Buffer.alloc(32))).rejects.toEqual(refused);
    }
    await expect(kms.putKeyPolicy(sessions, '{"Statement":[]}')).rejects.toEqual(refused);
    await expect(kms.scheduleKeyDeletion(sessions, 7)).rejects.toEqual(refused);
    await expect(kms.cancelKeyDeletion(sessions)).rejects.toEqual(refused);
    await expect(kms.tagResource(sessions, [{ TagKey: 'a', TagValue: 'b' }])).rejects.toEqual(refused);
    await expect(kms.untagResource(sessions, ['a'])).rejects.toEqual(refused);
    await expect(kms.updateKeyDescription(sessions, 'x')).rejects.toEqual(refused);
    await expect(kms.rotateKeyOnDemand(secrets)).rejects.toEqual(refused);
    await expect(kms.enableKeyRotation(secrets)).rejects.toEqual(refused);
    await expect(kms.disableKeyRotation(secrets)).rejects.toEqual(refused);
    await expect(kms.encrypt(secrets, Buffer.from('x'))).rejects.toEqual(refused);
    await expect(kms.generateDataKey(secrets, 32)).rejects.toEqual(refused);
    await expect(kms.createAlias('alias/mine', secrets)).rejects.toEqual(refused);
    const tenant = await kms.createKey({});
    await kms.createAlias('alias/mine', tenant.keyId);
    await expect(kms.updateAlias('alias/mine', secrets)).rejects.toEqual(refused);
    // What the server sealed under its own key, a caller cannot open.
    const sealed = await kms.internal.generateDataKey(secrets, 32, { a: 'b' });
    await expect(kms.decrypt(sealed.ciphertext, { a: 'b' })).rejects.toEqual(refused);
    expect((await kms.internal.decrypt(sealed.ciphertext, { a: 'b' })).plaintext).toEqual(sealed.plaintext);
    expect((await kms.internal.generateMac(sessions, Buffer.from('x'), MAC)).mac).toHaveLength(32);
    const key = await kms.describeKey(sessions);
    expect(key).toMatchObject({ policy: INTERNAL_KEY_POLICY, state: 'Enabled', tags: [], internalPurpose: 'sessions' });
    // Disabling stays possible (the documented, reversible way to end every session at once).
    await kms.disableKey(sessions);
    await kms.enableKey(sessions);
  });
});

describe('a store from before the key ids were recorded', () => {
  /** What the previous version left: a key and the alias naming it, and no recorded id. */
  async function oldStore(make: (kms: KmsEngine) => Promise<string>) {
    const env = await engineOnStore();
    const keyId = await make(env.kms);
    await env.store.kms.createAlias({ name: INTERNAL_KEYS.sessions.alias, keyId, createdAt: 5, updatedAt: 5 });
    return { ...env, keyId };
  }

  it("adopts the alias's key when Keysafe made it (its deny-all policy since creation)", async () => {
    const { kms, store, keyId, lines } = await oldStore(
      async (k) => (await k.createKey({ ...INTERNAL_KEYS.sessions.key, policy: INTERNAL_KEY_POLICY })).keyId,
    );
    expect(await internalKey(kms, INTERNAL_KEYS.sessions)()).toBe(kms.arnOf(keyId));
    expect((await store.kms.getInternalKey('sessions'))?.keyId).toBe(keyId);
    expect((await kms.describeKey(keyId)).internalPurpose).toBe('sessions');
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'adopted an internal key' }));
  });

  it.each([
    [
      'a tenant key given the deny-all policy later (as the previous version did at start)',
      async (k: KmsEngine) => {
        const key = await k.createKey({ ...INTERNAL_KEYS.sessions.key });
        await k.putKeyPolicy(key.keyId, INTERNAL_KEY_POLICY);
        return key.keyId;
      },
    ],
    [
      'a tenant key with the default policy',
      async (k: KmsEngine) => (await k.createKey({ ...INTERNAL_KEYS.sessions.key })).keyId,
    ],
    [
      'a deny-all key with another description',
      async (k: KmsEngine) =>
        (await k.createKey({ ...INTERNAL_KEYS.sessions.key, description: 'mine', policy: INTERNAL_KEY_POLICY })).keyId,
    ],
  ])('does not adopt %s: a fresh key is made, recorded and logged', async (_what, make) => {
    const { kms, store, keyId, lines } = await oldStore(make);
    const arn = await internalKey(kms, INTERNAL_KEYS.sessions)();
    expect(arn).not.toBe(kms.arnOf(keyId));
    const recorded = await store.kms.getInternalKey('sessions');
    expect(kms.arnOf(recorded!.keyId)).toBe(arn);
    expect((await kms.describeKey(keyId)).internalPurpose).toBeUndefined();
    expect((await store.kms.getAlias(INTERNAL_KEYS.sessions.alias))?.keyId).toBe(recorded!.keyId);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'warn', fields: { alias: INTERNAL_KEYS.sessions.alias, keyId } }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'created an internal key' }));
  });
});
