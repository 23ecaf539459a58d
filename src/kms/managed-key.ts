// Keys Keysafe makes for itself (the secrets default key, the session signing key), found by alias.
import { AppError } from '../core/errors.js';
import type { CreateKeyInput, KmsEngine } from './engine.js';

/**
 * Returns a function giving the ARN of the key behind `alias`, creating key and alias on first
 * use. Safe when several replicas race: the loser retires its key and uses the winner's.
 */
export function managedKey(kms: KmsEngine, alias: string, input: CreateKeyInput): () => Promise<string> {
  let arn: Promise<string> | undefined;
  return () => {
    arn ??= (async () => {
      try {
        return kms.arnOf((await kms.describeKey(alias)).keyId);
      } catch (e) {
        if (!(e instanceof AppError && e.code === 'NotFoundException')) throw e;
      }
      const key = await kms.createKey(input);
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
