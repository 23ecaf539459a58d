// Keys Keysafe makes for itself (session signing, default secrets key, Terraform state key), found by the key id recorded in the store.
import { AppError } from '../core/errors.js';
import type { CreateKeyInput, KmsEngine } from './engine.js';
import type { KeyRecord } from './store.js';

/**
 * The key policy of Keysafe's own keys: no principal may use them through the API. The engine
 * also refuses every use and change of them through the API (the admin included), so this policy
 * can never be replaced; with the default policy a role allowed `kms:GenerateMac` on `*` could
 * sign session tokens for any role, or decrypt every secret's data key.
 */
export const INTERNAL_KEY_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'KeysafeInternalUseOnly', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*' }],
});

export interface InternalKeySpec {
  /** The row in the store's internal keys: what the key is for. */
  purpose: string;
  /** Shown for display (and for stores from before the key ids were recorded): never read to find the key. */
  alias: string;
  key: Pick<CreateKeyInput, 'description' | 'keyUsage' | 'keySpec'>;
}

/** Keysafe's own keys. The descriptions are those earlier versions gave them (adoption compares them). */
export const INTERNAL_KEYS = {
  sessions: {
    purpose: 'sessions',
    alias: 'alias/keysafe/sessions',
    key: {
      description: 'Signs Keysafe session tokens; disabling it ends every session',
      keyUsage: 'GENERATE_VERIFY_MAC',
      keySpec: 'HMAC_256',
    },
  },
  secretsmanager: {
    purpose: 'secretsmanager',
    alias: 'alias/keysafe/secretsmanager',
    key: { description: 'Default key for Keysafe secrets (analogue of aws/secretsmanager)' },
  },
  terraform: {
    purpose: 'terraform',
    alias: 'alias/keysafe/terraform',
    key: { description: 'Encrypts Terraform state stored in Keysafe' },
  },
} as const satisfies Record<string, InternalKeySpec>;

/**
 * Whether the key an old store's alias points at is one Keysafe made for itself, so it may be
 * adopted. Keysafe created its keys with the internal key policy and never changed them after:
 * a record still at revision 1 with that policy has had it since it was created, so no role
 * could ever have used it through the API. A tenant's key that an alias was pointed at was used
 * by that tenant first (its policy allowed it, or was changed later: a newer revision), so it
 * fails this test whatever its description says; the description, spec and lack of tags must
 * match too.
 */
export function madeByKeysafe(key: KeyRecord, spec: InternalKeySpec): boolean {
  return (
    key.revision === 1 &&
    key.policy === INTERNAL_KEY_POLICY &&
    key.state === 'Enabled' &&
    key.description === (spec.key.description ?? '') &&
    key.keySpec === (spec.key.keySpec ?? 'SYMMETRIC_DEFAULT') &&
    key.keyUsage === (spec.key.keyUsage ?? 'ENCRYPT_DECRYPT') &&
    key.tags.length === 0
  );
}

/**
 * Returns a function giving the ARN of Keysafe's key for `spec.purpose`: the key id recorded in
 * the store, never an alias (an alias can be re-pointed). On first use the key is made (or, on a
 * store from before the ids were recorded, the alias's key adopted if Keysafe made it) and its id
 * recorded once. Replicas racing agree: the record is insert-if-absent, and the loser retires the
 * key it made and uses the winner's.
 */
export function internalKey(kms: KmsEngine, spec: InternalKeySpec): () => Promise<string> {
  let arn: Promise<string> | undefined;
  return () => {
    arn ??= resolve(kms, spec).catch((e: unknown) => {
      arn = undefined;
      throw e;
    });
    return arn;
  };
}

async function resolve(kms: KmsEngine, spec: InternalKeySpec): Promise<string> {
  const { internal } = kms;
  let recorded = await internal.getInternalKey(spec.purpose);
  if (!recorded) {
    const candidate = await adoptable(kms, spec);
    const keyId =
      candidate ?? (await internal.createKey({ ...spec.key, policy: INTERNAL_KEY_POLICY }, spec.purpose)).keyId;
    const won = await internal.recordInternalKey({ purpose: spec.purpose, keyId, createdAt: internal.now() });
    recorded = await internal.getInternalKey(spec.purpose);
    if (!recorded) throw new AppError('KMSInternalException', `the ${spec.purpose} key could not be recorded`);
    if (!won && candidate === undefined && recorded.keyId !== keyId) await internal.retireKey(keyId);
    if (won) {
      internal.logger?.info(candidate ? 'adopted an internal key' : 'created an internal key', {
        purpose: spec.purpose,
        keyId,
      });
    }
  }
  let key: KeyRecord;
  try {
    key = await kms.describeKey(recorded.keyId);
  } catch (e) {
    if (e instanceof AppError && e.code === 'NotFoundException') {
      throw new AppError('KMSInternalException', `the ${spec.purpose} key ${recorded.keyId} is missing from the store`);
    }
    throw e;
  }
  // An adopted key, or a record a crash left unfinished: mark it Keysafe's, with its policy.
  if (key.internalPurpose !== spec.purpose || key.policy !== INTERNAL_KEY_POLICY) {
    await internal.claimKey(key.keyId, spec.purpose, INTERNAL_KEY_POLICY);
  }
  const alias = await internal.getAlias(spec.alias);
  if (alias?.keyId !== key.keyId) await internal.pointAlias(spec.alias, key.keyId);
  return kms.arnOf(key.keyId);
}

/** On a store from before the ids were recorded: the alias's key, if Keysafe made it for itself. */
async function adoptable(kms: KmsEngine, spec: InternalKeySpec): Promise<string | undefined> {
  const alias = await kms.internal.getAlias(spec.alias);
  if (!alias) return undefined;
  let key: KeyRecord;
  try {
    key = await kms.describeKey(alias.keyId);
  } catch (e) {
    if (e instanceof AppError && e.code === 'NotFoundException') return undefined;
    throw e;
  }
  if (madeByKeysafe(key, spec)) return key.keyId;
  kms.internal.logger?.warn(
    'an internal key alias points at a key Keysafe did not make for itself: not adopted; a new key replaces it',
    { alias: spec.alias, keyId: key.keyId },
  );
  return undefined;
}
