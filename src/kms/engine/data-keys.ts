// GenerateDataKey and GenerateDataKeyPair: fresh keys returned in clear and sealed under a symmetric KMS key.
import { AppError } from '../../core/errors.js';
import {
  type AsymmetricKeySpec,
  type EncryptionContext,
  generateKeyPairInsecure,
  randomKeyBytesInsecure,
} from '../../crypto/index.js';
import { SPEC_INFO } from '../key-specs.js';
import type { KeyRecord } from '../store.js';
import type { KmsContext } from './context.js';
import { sealSymmetric } from './encryption.js';
import { refuseInternal, requireUsable } from './guards.js';

export interface DataKeyPair {
  keyId: string;
  publicKey: Buffer;
  privateKeyCiphertext: Buffer;
  privateKeyPlaintext: Buffer;
}

/** An enabled symmetric encryption key, as the data-key operations need. */
async function symmetricKey(ctx: KmsContext, ref: string, operation: string, asServer: boolean): Promise<KeyRecord> {
  const key = await ctx.keys.getKey(ref);
  if (!asServer) refuseInternal(ctx, key);
  requireUsable(ctx, key, 'ENCRYPT_DECRYPT', operation);
  if (SPEC_INFO[key.keySpec].kind !== 'symmetric') {
    throw new AppError(
      'InvalidKeyUsageException',
      `${ctx.arnOf(key.keyId)} key spec is ${key.keySpec} which is not valid for ${operation}.`,
    );
  }
  return key;
}

/** GenerateDataKey; `asServer` lets the server use one of its own keys. */
export async function dataKeyWith(
  ctx: KmsContext,
  ref: string,
  numberOfBytes: number,
  context: EncryptionContext | undefined,
  asServer: boolean,
) {
  const key = await symmetricKey(ctx, ref, 'GenerateDataKey', asServer);
  const plaintext = randomKeyBytesInsecure(numberOfBytes);
  return { keyId: ctx.arnOf(key.keyId), plaintext, ciphertext: await sealSymmetric(ctx, key, plaintext, context) };
}

export function dataKeyOperations(ctx: KmsContext) {
  return {
    generateDataKey: (ref: string, numberOfBytes: number, context?: EncryptionContext) =>
      dataKeyWith(ctx, ref, numberOfBytes, context, false),

    async generateDataKeyPair(
      ref: string,
      pairSpec: AsymmetricKeySpec,
      context?: EncryptionContext,
    ): Promise<DataKeyPair> {
      const key = await symmetricKey(ctx, ref, 'GenerateDataKeyPair', false);
      const pair = generateKeyPairInsecure(pairSpec);
      return {
        keyId: ctx.arnOf(key.keyId),
        publicKey: pair.publicKeyDer,
        privateKeyPlaintext: pair.privateKeyDer,
        privateKeyCiphertext: await sealSymmetric(ctx, key, pair.privateKeyDer, context),
      };
    },
  };
}
