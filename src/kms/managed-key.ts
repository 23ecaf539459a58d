// Keys Keysafe makes for itself (the secrets default key, the session signing key), found by alias.
import { AppError } from '../core/errors.js';
import type { CreateKeyInput, KmsEngine } from './engine.js';

/**
 * The key policy of Keysafe's own keys: no principal may use them through the API (the admin, who
 * is above policies, still can). With the default policy a role allowed `kms:GenerateMac` on `*`
 * could sign session tokens for any role, or decrypt every secret's data key.
 */
export const INTERNAL_KEY_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'KeysafeInternalUseOnly', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*' }],
});

/**
 * Returns a function giving the ARN of the key behind `alias`, creating key and alias on first
 * use, with the internal key policy (put back on a key made before it existed). Safe when
 * several replicas race: the loser retires its key and uses the winner's.
 */
export function managedKey(kms: KmsEngine, alias: string, input: CreateKeyInput): () => Promise<string> {
  let arn: Promise<string> | undefined;
  return () => {
    arn ??= (async () => {
      try {
        const existing = await kms.describeKey(alias);
        if (existing.policy !== INTERNAL_KEY_POLICY) await kms.putKeyPolicy(existing.keyId, INTERNAL_KEY_POLICY);
        return kms.arnOf(existing.keyId);
      } catch (e) {
        if (!(e instanceof AppError && e.code === 'NotFoundException')) throw e;
      }
      const key = await kms.createKey({ ...input, policy: INTERNAL_KEY_POLICY });
      try {
        await kms.createAlias(alias, key.keyId);
        return kms.arnOf(key.keyId);
      } catch (e) {
        if (!(e instanceof AppError && e.code === 'AlreadyExistsException')) throw e;
        await kms.scheduleKeyDeletion(key.keyId, 7);
        return kms.arnOf((await kms.describeKey(alias)).keyId);
      }
    })().catch((e: unknown) => {
      arn = undefined;
      throw e;
    });
    return arn;
  };
}
