// Encrypt, Decrypt and ReEncrypt: symmetric ciphertexts framed with their key version, bare RSA-OAEP for asymmetric keys.
import { AppError } from '../../core/errors.js';
import {
  type AeadKey,
  type AsymmetricKey,
  type AsymmetricKeySpec,
  DecryptionError,
  type EncryptionContext,
  encodeEncryptionContext,
  maxRsaPlaintext,
  openCiphertext,
  parseCiphertextHeader,
  type RsaEncryptionAlgorithm,
  sealCiphertext,
} from '../../crypto/index.js';
import { SPEC_INFO } from '../key-specs.js';
import type { KeyRecord } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireAlgorithm, requireUsable } from './guards.js';

export const SYMMETRIC_DEFAULT = 'SYMMETRIC_DEFAULT';

/** One message for every decryption failure, so failures reveal nothing about why. */
const INVALID_CIPHERTEXT = 'The ciphertext is invalid, or does not match its key or encryption context.';

export interface EncryptResult {
  keyId: string;
  ciphertext: Buffer;
  algorithm: string;
}

export interface DecryptResult {
  keyId: string;
  plaintext: Buffer;
  algorithm: string;
}

/** Seals under the key's current version: what Encrypt, ReEncrypt and the data-key operations share. */
export async function sealSymmetric(
  ctx: KmsContext,
  key: KeyRecord,
  plaintext: Uint8Array,
  context?: EncryptionContext,
): Promise<Buffer> {
  const aead = (await ctx.keys.material(key, key.currentVersion)) as AeadKey;
  return sealCiphertext(
    aead,
    { keyId: key.keyId, keyVersion: key.currentVersion },
    plaintext,
    encodeEncryptionContext(context),
  );
}

async function encryptAsymmetric(
  ctx: KmsContext,
  key: KeyRecord,
  plaintext: Uint8Array,
  context: EncryptionContext | undefined,
  algorithm: string | undefined,
): Promise<EncryptResult> {
  if (algorithm === undefined || algorithm === SYMMETRIC_DEFAULT) {
    throw new AppError(
      'InvalidKeyUsageException',
      `Algorithm ${algorithm ?? SYMMETRIC_DEFAULT} is incompatible with key spec ${key.keySpec}.`,
    );
  }
  requireAlgorithm(key, algorithm);
  if (context && Object.keys(context).length > 0) {
    throw new AppError('ValidationException', 'EncryptionContext is not supported with asymmetric keys.');
  }
  const limit = maxRsaPlaintext(key.keySpec as AsymmetricKeySpec, algorithm as RsaEncryptionAlgorithm);
  if (plaintext.length > limit) {
    throw new AppError(
      'ValidationException',
      `Plaintext is too long for ${algorithm} with ${key.keySpec}: at most ${limit} bytes.`,
    );
  }
  const asym = (await ctx.keys.material(key, key.currentVersion)) as AsymmetricKey;
  return {
    keyId: ctx.arnOf(key.keyId),
    ciphertext: asym.encrypt(algorithm as RsaEncryptionAlgorithm, plaintext),
    algorithm,
  };
}

async function encryptWith(
  ctx: KmsContext,
  ref: string,
  plaintext: Uint8Array,
  context: EncryptionContext | undefined,
  algorithm: string | undefined,
  operation: string,
): Promise<EncryptResult> {
  const key = await ctx.keys.getKey(ref);
  refuseInternal(ctx, key);
  requireUsable(ctx, key, 'ENCRYPT_DECRYPT', operation);
  if (SPEC_INFO[key.keySpec].kind !== 'symmetric') {
    return encryptAsymmetric(ctx, key, plaintext, context, algorithm);
  }
  const alg = algorithm ?? SYMMETRIC_DEFAULT;
  requireAlgorithm(key, alg);
  return { keyId: ctx.arnOf(key.keyId), ciphertext: await sealSymmetric(ctx, key, plaintext, context), algorithm: alg };
}

/** Asymmetric ciphertexts are bare RSA-OAEP: the caller must name the key. */
async function decryptAsymmetric(
  ctx: KmsContext,
  blob: Uint8Array,
  ref: string | undefined,
  algorithm: string,
  asServer: boolean,
): Promise<DecryptResult> {
  if (ref === undefined) {
    throw new AppError('ValidationException', 'KeyId is required to decrypt with an asymmetric algorithm.');
  }
  const key = await ctx.keys.getKey(ref);
  if (!asServer) refuseInternal(ctx, key);
  requireUsable(ctx, key, 'ENCRYPT_DECRYPT', 'Decrypt');
  requireAlgorithm(key, algorithm);
  const asym = (await ctx.keys.material(key, key.currentVersion)) as AsymmetricKey;
  try {
    return {
      keyId: ctx.arnOf(key.keyId),
      plaintext: asym.decrypt(algorithm as RsaEncryptionAlgorithm, blob),
      algorithm,
    };
  } catch {
    throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
  }
}

/** The key a symmetric ciphertext names, which must be the one the caller named, if any. */
async function keyOfCiphertext(ctx: KmsContext, keyId: string, ref: string | undefined): Promise<KeyRecord> {
  if (ref !== undefined) {
    const named = await ctx.keys.resolveKeyId(ref);
    if (named !== keyId) {
      throw new AppError(
        'IncorrectKeyException',
        'The key ID in the request does not identify a CMK that can perform this operation.',
      );
    }
  }
  try {
    return await ctx.keys.loadKey(keyId);
  } catch (e) {
    // A blob naming no key we know is just a bad blob; don't confirm which ids exist.
    if (e instanceof AppError && e.code === 'NotFoundException' && ref === undefined) {
      throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
    }
    throw e;
  }
}

async function decryptSymmetric(
  ctx: KmsContext,
  blob: Uint8Array,
  context: EncryptionContext | undefined,
  ref: string | undefined,
  asServer: boolean,
): Promise<DecryptResult> {
  let header: ReturnType<typeof parseCiphertextHeader>;
  try {
    header = parseCiphertextHeader(blob);
  } catch {
    throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
  }
  const key = await keyOfCiphertext(ctx, header.keyId, ref);
  if (!asServer) refuseInternal(ctx, key);
  requireUsable(ctx, key, 'ENCRYPT_DECRYPT', 'Decrypt');
  if (SPEC_INFO[key.keySpec].kind !== 'symmetric' || header.keyVersion > key.currentVersion) {
    throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
  }
  try {
    const aead = (await ctx.keys.material(key, header.keyVersion)) as AeadKey;
    return {
      keyId: ctx.arnOf(key.keyId),
      plaintext: openCiphertext(aead, blob, encodeEncryptionContext(context)),
      algorithm: SYMMETRIC_DEFAULT,
    };
  } catch (e) {
    if (e instanceof DecryptionError) throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
    throw e;
  }
}

/** Decrypt; `asServer` lets the server open what it sealed under one of its own keys. */
export function decryptWith(
  ctx: KmsContext,
  blob: Uint8Array,
  context?: EncryptionContext,
  ref?: string,
  algorithm?: string,
  asServer = false,
): Promise<DecryptResult> {
  if (algorithm !== undefined && algorithm !== SYMMETRIC_DEFAULT) {
    return decryptAsymmetric(ctx, blob, ref, algorithm, asServer);
  }
  return decryptSymmetric(ctx, blob, context, ref, asServer);
}

export function encryptionOperations(ctx: KmsContext) {
  return {
    encrypt: (ref: string, plaintext: Uint8Array, context?: EncryptionContext, algorithm?: string) =>
      encryptWith(ctx, ref, plaintext, context, algorithm, 'Encrypt'),

    decrypt: (blob: Uint8Array, context?: EncryptionContext, ref?: string, algorithm?: string) =>
      decryptWith(ctx, blob, context, ref, algorithm),

    /** Throws the error Decrypt would for a key that may not decrypt now (disabled, pending deletion, gone). */
    async requireDecryptable(ref: string): Promise<void> {
      requireUsable(ctx, await ctx.keys.getKey(ref), 'ENCRYPT_DECRYPT', 'Decrypt');
    },

    async reEncrypt(input: {
      blob: Uint8Array;
      sourceContext?: EncryptionContext;
      sourceKeyRef?: string;
      sourceAlgorithm?: string;
      destinationKeyRef: string;
      destinationContext?: EncryptionContext;
      destinationAlgorithm?: string;
    }): Promise<{ source: DecryptResult; destination: EncryptResult }> {
      const source = await decryptWith(ctx, input.blob, input.sourceContext, input.sourceKeyRef, input.sourceAlgorithm);
      try {
        const destination = await encryptWith(
          ctx,
          input.destinationKeyRef,
          source.plaintext,
          input.destinationContext,
          input.destinationAlgorithm,
          'ReEncrypt',
        );
        return { source, destination };
      } finally {
        source.plaintext.fill(0);
      }
    },
  };
}
