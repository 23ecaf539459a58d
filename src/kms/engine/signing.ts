// Signatures and MACs: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac.
import { AppError } from '../../core/errors.js';
import {
  type AsymmetricKey,
  type MacAlgorithm,
  type MacKey,
  type MessageType,
  type MlDsaKey,
  messageRule,
  type SigningAlgorithm,
} from '../../crypto/index.js';
import { SPEC_INFO } from '../key-specs.js';
import type { KeyRecord } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal, requireAlgorithm, requireEnabled, requireUsable } from './guards.js';

const MESSAGE_TYPES: readonly MessageType[] = ['RAW', 'DIGEST', 'EXTERNAL_MU'];

/**
 * The MessageType rules of AWS's Sign docs: ED25519_SHA_512 takes RAW only, ED25519_PH_SHA_512 DIGEST only,
 * ML_DSA_SHAKE_256 RAW or a 64-byte EXTERNAL_MU; the rest RAW or a DIGEST as long as their hash.
 */
function checkMessageType(algorithm: SigningAlgorithm, message: Uint8Array, messageType: MessageType): void {
  const rule = messageRule(algorithm, messageType);
  if (rule === 'refused') {
    const allowed = MESSAGE_TYPES.filter((t) => messageRule(algorithm, t) !== 'refused');
    throw new AppError('ValidationException', `${algorithm} requires MessageType ${allowed.join(' or ')}.`);
  }
  if (rule !== 'any' && message.length !== rule) {
    const what = messageType === 'DIGEST' ? 'Digest' : 'External mu';
    throw new AppError(
      'ValidationException',
      `${what} is invalid length for algorithm ${algorithm}: expected ${rule} bytes.`,
    );
  }
}

/** A signing key and algorithm fit for the message (its MessageType and length). */
function checkSigning(
  ctx: KmsContext,
  key: KeyRecord,
  op: string,
  algorithm: string,
  message: Uint8Array,
  messageType: MessageType,
): void {
  refuseInternal(ctx, key);
  requireUsable(ctx, key, 'SIGN_VERIFY', op);
  requireAlgorithm(key, algorithm);
  checkMessageType(algorithm as SigningAlgorithm, message, messageType);
}

type SigningKey = AsymmetricKey | MlDsaKey;

/** An HMAC key fit for the algorithm and its material (`op` names the operation in a usage error). */
async function macKey(ctx: KmsContext, ref: string, algorithm: string, op: string, asServer: boolean) {
  const key = await ctx.keys.getKey(ref);
  if (!asServer) refuseInternal(ctx, key);
  requireUsable(ctx, key, 'GENERATE_VERIFY_MAC', op);
  requireAlgorithm(key, algorithm);
  return { key, mac: (await ctx.keys.material(key, key.currentVersion)) as MacKey };
}

/** GenerateMac; `asServer` lets the server use one of its own keys. */
export async function macWith(ctx: KmsContext, ref: string, message: Uint8Array, algorithm: string, asServer: boolean) {
  const { key, mac } = await macKey(ctx, ref, algorithm, 'GenerateMac', asServer);
  return { keyId: ctx.arnOf(key.keyId), mac: mac.generate(algorithm as MacAlgorithm, message) };
}

export function signingOperations(ctx: KmsContext) {
  return {
    async sign(ref: string, message: Uint8Array, messageType: MessageType, algorithm: string) {
      const key = await ctx.keys.getKey(ref);
      checkSigning(ctx, key, 'Sign', algorithm, message, messageType);
      const asym = (await ctx.keys.material(key, key.currentVersion)) as SigningKey;
      return {
        keyId: ctx.arnOf(key.keyId),
        signature: asym.sign(algorithm as SigningAlgorithm, message, messageType),
      };
    },

    async verify(ref: string, message: Uint8Array, messageType: MessageType, algorithm: string, signature: Uint8Array) {
      const key = await ctx.keys.getKey(ref);
      checkSigning(ctx, key, 'Verify', algorithm, message, messageType);
      const asym = (await ctx.keys.material(key, key.currentVersion)) as SigningKey;
      if (!asym.verify(algorithm as SigningAlgorithm, message, messageType, signature)) {
        // AWS answers a failed verification with no message.
        throw new AppError('KMSInvalidSignatureException', '');
      }
      return { keyId: ctx.arnOf(key.keyId) };
    },

    async getPublicKey(ref: string) {
      const key = await ctx.keys.getKey(ref);
      requireEnabled(ctx, key);
      if (SPEC_INFO[key.keySpec].kind !== 'asymmetric') {
        throw new AppError('UnsupportedOperationException', `${ctx.arnOf(key.keyId)} key type is not asymmetric.`);
      }
      const asym = (await ctx.keys.material(key, key.currentVersion)) as SigningKey;
      return { key, publicKey: asym.publicKeyDer() };
    },

    generateMac: (ref: string, message: Uint8Array, algorithm: string) => macWith(ctx, ref, message, algorithm, false),

    async verifyMac(ref: string, message: Uint8Array, algorithm: string, tag: Uint8Array) {
      const { key, mac } = await macKey(ctx, ref, algorithm, 'VerifyMac', false);
      if (!mac.verify(algorithm as MacAlgorithm, message, tag)) {
        throw new AppError('KMSInvalidMacException', ''); // no message, as AWS
      }
      return { keyId: ctx.arnOf(key.keyId) };
    },

    /** Throws unless the key may compute MACs now: what a cached MAC verification must still honour. */
    async requireMacKey(ref: string): Promise<void> {
      requireUsable(ctx, await ctx.keys.getKey(ref), 'GENERATE_VERIFY_MAC', 'VerifyMac');
    },
  };
}
