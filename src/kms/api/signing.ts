// KMS asymmetric and MAC operations: sign, verify, get the public key, generate and verify MACs.
import { z } from 'zod';
import { awsEnum, blob } from '../../core/wire.js';
import { SIGNING_ALGORITHMS } from '../key-specs.js';
import { MESSAGE_TYPE, SIGNING_ALGORITHM_SPEC } from './model-enums.js';
import { algorithmsOf, b64, dryRun, grantTokens, type KmsOperation, keyId, onKey, unlessDryRun } from './shapes.js';

const signingAlgorithm = awsEnum(SIGNING_ALGORITHMS, SIGNING_ALGORITHM_SPEC);
const macAlgorithm = z.enum(['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512']);
const messageType = awsEnum(['RAW', 'DIGEST', 'EXTERNAL_MU'], MESSAGE_TYPE).optional();

const SignInput = z.object({
  KeyId: keyId,
  Message: blob(1, 4096),
  MessageType: messageType,
  SigningAlgorithm: signingAlgorithm,
  GrantTokens: grantTokens,
  DryRun: dryRun,
});
const VerifyInput = z.object({
  KeyId: keyId,
  Message: blob(1, 4096),
  MessageType: messageType,
  Signature: blob(1, 6144),
  SigningAlgorithm: signingAlgorithm,
  GrantTokens: grantTokens,
  DryRun: dryRun,
});
const GetPublicKeyInput = z.object({ KeyId: keyId, GrantTokens: grantTokens });
const GenerateMacInput = z.object({
  KeyId: keyId,
  Message: blob(1, 4096),
  MacAlgorithm: macAlgorithm,
  GrantTokens: grantTokens,
  DryRun: dryRun,
});
const VerifyMacInput = z.object({
  KeyId: keyId,
  Message: blob(1, 4096),
  MacAlgorithm: macAlgorithm,
  Mac: blob(1, 6144),
  GrantTokens: grantTokens,
  DryRun: dryRun,
});

export const signingOperations: Record<string, KmsOperation> = {
  Sign: onKey(
    'kms:Sign',
    SignInput,
    (engine, i) => engine.sign(i.KeyId, i.Message, i.MessageType ?? 'RAW', i.SigningAlgorithm),
    unlessDryRun((r, i) => ({ KeyId: r.keyId, Signature: b64(r.signature), SigningAlgorithm: i.SigningAlgorithm })),
  ),

  Verify: onKey(
    'kms:Verify',
    VerifyInput,
    (engine, i) => engine.verify(i.KeyId, i.Message, i.MessageType ?? 'RAW', i.SigningAlgorithm, i.Signature),
    unlessDryRun((r, i) => ({ KeyId: r.keyId, SignatureValid: true, SigningAlgorithm: i.SigningAlgorithm })),
  ),

  GetPublicKey: onKey(
    'kms:GetPublicKey',
    GetPublicKeyInput,
    (engine, i) => engine.getPublicKey(i.KeyId),
    ({ key: k, publicKey }, engine) => ({
      KeyId: engine.arnOf(k.keyId),
      PublicKey: b64(publicKey),
      CustomerMasterKeySpec: k.keySpec,
      KeySpec: k.keySpec,
      KeyUsage: k.keyUsage,
      ...algorithmsOf(k),
    }),
  ),

  GenerateMac: onKey(
    'kms:GenerateMac',
    GenerateMacInput,
    (engine, i) => engine.generateMac(i.KeyId, i.Message, i.MacAlgorithm),
    unlessDryRun((r, i) => ({ KeyId: r.keyId, Mac: b64(r.mac), MacAlgorithm: i.MacAlgorithm })),
  ),

  VerifyMac: onKey(
    'kms:VerifyMac',
    VerifyMacInput,
    (engine, i) => engine.verifyMac(i.KeyId, i.Message, i.MacAlgorithm, i.Mac),
    unlessDryRun((r, i) => ({ KeyId: r.keyId, MacValid: true, MacAlgorithm: i.MacAlgorithm })),
  ),
};
