// The AWS KMS JSON operations: parse the AWS-shaped input, call the engine, shape the AWS output.
import { z } from 'zod';
import { compilePolicy } from '../auth/index.js';
import { type Access, encryptionContextKeys } from '../core/access.js';
import { aliasArn, keyArn, parseKeyRef } from '../core/arn.js';
import { AppError } from '../core/errors.js';
import { blob, context, decodeMarker, encodeMarker, epochSeconds, int, parseInput, str } from '../core/wire.js';
import { parseCiphertextHeader, randomKeyBytesInsecure } from '../crypto/index.js';
import type { KeyRecord } from '../storage/index.js';
import type { KmsEngine } from './engine.js';
import {
  DATA_KEY_PAIR_SPECS,
  KEY_SPECS,
  KEY_USAGES,
  type KeySpec,
  type KeyUsage,
  SIGNING_ALGORITHMS,
  SPEC_INFO,
} from './key-specs.js';

type Handler = (engine: KmsEngine, input: unknown, access: Access) => Promise<object>;

/**
 * Authorizes `action` on the key `ref` names, with its key policy. A reference to no key is
 * checked against the ARN it names, so a caller without access learns nothing about what exists;
 * one with access then gets the operation's NotFoundException.
 */
async function authorizeKey(
  engine: KmsEngine,
  access: Access,
  action: string,
  ref: string,
  context?: Record<string, string | string[]>,
): Promise<void> {
  let key: KeyRecord | undefined;
  try {
    key = await engine.cachedKey(ref);
  } catch (e) {
    if (!(e instanceof AppError && e.code === 'NotFoundException')) throw e;
  }
  if (key) {
    const check = {
      action,
      resource: engine.arnOf(key.keyId),
      resourcePolicy: { document: key.policy, kind: 'kms-key' as const },
    };
    access.require(context ? { ...check, context } : check);
  } else {
    const check = { action, resource: refArn(engine, ref) };
    access.require(context ? { ...check, context } : check);
  }
}

function refArn(engine: KmsEngine, ref: string): string {
  const parsed = parseKeyRef(engine.partition, ref);
  if (parsed.kind === 'key') return keyArn(engine.partition, parsed.keyId);
  if (parsed.kind === 'alias') return aliasArn(engine.partition, parsed.name);
  return '*';
}

/** The key a symmetric ciphertext names, or the KeyId given; '*' when neither is readable. */
function ciphertextKeyRef(blob: Uint8Array, keyId: string | undefined): string | undefined {
  if (keyId !== undefined) return keyId;
  try {
    return parseCiphertextHeader(blob).keyId;
  } catch {
    return undefined;
  }
}

const anyResource = (access: Access, action: string) => access.require({ action, resource: '*' });

const keyId = str(1, 2048);
const grantTokens = z.array(str(1, 8192)).max(10).optional();
const limit = int(1, 1000).optional();
const marker = str(1, 1024).optional();
const tags = z.array(z.object({ TagKey: str(1, 128), TagValue: str(0, 256) })).optional();
const dryRun = z.boolean().optional();
const encryptionAlgorithm = z.enum(['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']).optional();
const signingAlgorithm = z.enum(SIGNING_ALGORITHMS);
const macAlgorithm = z.enum(['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512']);
const messageType = z.enum(['RAW', 'DIGEST']).optional();
const policy = str(1, 131072);
const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');

/** AWS signals a successful DryRun as an error. */
function dryRunDone(flag: boolean | undefined): void {
  if (flag) {
    throw new AppError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
  }
}

function algorithmsOf(k: KeyRecord) {
  const algorithms = SPEC_INFO[k.keySpec as KeySpec].usages[k.keyUsage as KeyUsage] ?? [];
  if (k.keyUsage === 'ENCRYPT_DECRYPT') return { EncryptionAlgorithms: algorithms };
  if (k.keyUsage === 'SIGN_VERIFY') return { SigningAlgorithms: algorithms };
  return { MacAlgorithms: algorithms };
}

export function keyMetadata(engine: KmsEngine, k: KeyRecord) {
  return {
    AWSAccountId: engine.partition.accountId,
    KeyId: k.keyId,
    Arn: engine.arnOf(k.keyId),
    CreationDate: epochSeconds(k.createdAt),
    Enabled: k.state === 'Enabled',
    Description: k.description,
    KeyUsage: k.keyUsage,
    KeyState: k.state,
    ...(k.deletionAt !== undefined && { DeletionDate: epochSeconds(k.deletionAt) }),
    ...(k.pendingWindowInDays !== undefined && { PendingDeletionWindowInDays: k.pendingWindowInDays }),
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: k.keySpec,
    KeySpec: k.keySpec,
    ...algorithmsOf(k),
    MultiRegion: false,
  };
}

function truncation(next: string | undefined) {
  return next === undefined ? { Truncated: false } : { Truncated: true, NextMarker: encodeMarker(next) };
}

const unsupported =
  (what: string): Handler =>
  async () => {
    throw new AppError('UnsupportedOperationException', `${what} is not supported by Keysafe.`);
  };

// Input schemas, built once: zod compiles each schema on first use, so building them per request is slow.
const KeyIdInput = z.object({ KeyId: keyId });
const CreateKeyInput = z.object({
  Description: str(0, 8192).optional(),
  KeyUsage: z.enum(KEY_USAGES).optional(),
  KeySpec: z.enum(KEY_SPECS).optional(),
  CustomerMasterKeySpec: z.enum(KEY_SPECS).optional(),
  Policy: policy.optional(),
  Tags: tags,
  Origin: z.enum(['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']).optional(),
  MultiRegion: z.boolean().optional(),
  CustomKeyStoreId: str(1, 64).optional(),
  XksKeyId: str(1, 128).optional(),
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
});
const DescribeKeyInput = z.object({ KeyId: keyId, GrantTokens: grantTokens });
const ListKeysInput = z.object({ Limit: limit, Marker: marker });
const UpdateKeyDescriptionInput = z.object({ KeyId: keyId, Description: str(0, 8192) });
const ScheduleKeyDeletionInput = z.object({ KeyId: keyId, PendingWindowInDays: int(7, 30).optional() });
const CreateAliasInput = z.object({ AliasName: str(1, 256), TargetKeyId: keyId });
const UpdateAliasInput = z.object({ AliasName: str(1, 256), TargetKeyId: keyId });
const DeleteAliasInput = z.object({ AliasName: str(1, 256) });
const ListAliasesInput = z.object({ KeyId: keyId.optional(), Limit: limit, Marker: marker });
const EncryptInput = z.object({
  KeyId: keyId,
  Plaintext: blob(1, 4096),
  EncryptionContext: context,
  EncryptionAlgorithm: encryptionAlgorithm,
  GrantTokens: grantTokens,
  DryRun: dryRun,
});
const DecryptInput = z.object({
  CiphertextBlob: blob(1, 6144),
  EncryptionContext: context,
  KeyId: keyId.optional(),
  EncryptionAlgorithm: encryptionAlgorithm,
  GrantTokens: grantTokens,
  Recipient: z.unknown().optional(),
  DryRun: dryRun,
});
const ReEncryptInput = z.object({
  CiphertextBlob: blob(1, 6144),
  SourceEncryptionContext: context,
  SourceKeyId: keyId.optional(),
  DestinationKeyId: keyId,
  DestinationEncryptionContext: context,
  SourceEncryptionAlgorithm: encryptionAlgorithm,
  DestinationEncryptionAlgorithm: encryptionAlgorithm,
  GrantTokens: grantTokens,
  DryRun: dryRun,
});
const GenerateRandomInput = z.object({
  NumberOfBytes: int(1, 1024).optional(),
  CustomKeyStoreId: str(1, 64).optional(),
});
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
const EnableKeyRotationInput = z.object({ KeyId: keyId, RotationPeriodInDays: int(90, 2560).optional() });
const ListKeyRotationsInput = z.object({
  KeyId: keyId,
  Limit: limit,
  Marker: marker,
  IncludeKeyMaterial: z.enum(['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY']).optional(),
});
const TagResourceInput = z.object({
  KeyId: keyId,
  Tags: z.array(z.object({ TagKey: str(1, 128), TagValue: str(0, 256) })),
});
const UntagResourceInput = z.object({ KeyId: keyId, TagKeys: z.array(str(1, 128)) });
const ListResourceTagsInput = z.object({ KeyId: keyId, Limit: int(1, 50).optional(), Marker: marker });
const GetKeyPolicyInput = z.object({ KeyId: keyId, PolicyName: str(1, 128).optional() });
const PutKeyPolicyInput = z.object({
  KeyId: keyId,
  PolicyName: str(1, 128).optional(),
  Policy: policy,
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
});
const ListKeyPoliciesInput = z.object({ KeyId: keyId, Limit: limit, Marker: marker });
const GenerateDataKeyInput = z.object({
  KeyId: keyId,
  EncryptionContext: context,
  NumberOfBytes: int(1, 1024).optional(),
  KeySpec: z.enum(['AES_256', 'AES_128']).optional(),
  GrantTokens: grantTokens,
  DryRun: dryRun,
});
const GenerateDataKeyPairInput = z.object({
  KeyId: keyId,
  EncryptionContext: context,
  KeyPairSpec: z.enum(DATA_KEY_PAIR_SPECS),
  GrantTokens: grantTokens,
  DryRun: dryRun,
});

export const kmsOperations: Record<string, Handler> = {
  async CreateKey(engine, raw, access) {
    const i = parseInput(CreateKeyInput, raw);
    if (i.Origin !== undefined && i.Origin !== 'AWS_KMS') {
      throw new AppError('UnsupportedOperationException', `Origin ${i.Origin} is not supported; use AWS_KMS.`);
    }
    if (i.MultiRegion) throw new AppError('UnsupportedOperationException', 'Multi-Region keys are not supported.');
    if (i.CustomKeyStoreId || i.XksKeyId) {
      throw new AppError('UnsupportedOperationException', 'Custom key stores are not supported.');
    }
    if (i.KeySpec && i.CustomerMasterKeySpec && i.KeySpec !== i.CustomerMasterKeySpec) {
      throw new AppError('ValidationException', 'KeySpec and CustomerMasterKeySpec must not differ.');
    }
    if (i.Policy !== undefined) validatePolicy(engine, i.Policy);
    anyResource(access, 'kms:CreateKey');
    const key = await engine.createKey({
      description: i.Description,
      keyUsage: i.KeyUsage,
      keySpec: i.KeySpec ?? i.CustomerMasterKeySpec,
      policy: i.Policy,
      tags: i.Tags,
    });
    return { KeyMetadata: keyMetadata(engine, key) };
  },

  async DescribeKey(engine, raw, access) {
    const i = parseInput(DescribeKeyInput, raw);
    await authorizeKey(engine, access, 'kms:DescribeKey', i.KeyId);
    return { KeyMetadata: keyMetadata(engine, await engine.describeKey(i.KeyId)) };
  },

  async ListKeys(engine, raw, access) {
    const i = parseInput(ListKeysInput, raw);
    anyResource(access, 'kms:ListKeys');
    const { items, next } = await engine.listKeys(i.Limit ?? 100, decodeMarker(i.Marker));
    return { Keys: items.map((k) => ({ KeyId: k.keyId, KeyArn: engine.arnOf(k.keyId) })), ...truncation(next) };
  },

  async UpdateKeyDescription(engine, raw, access) {
    const i = parseInput(UpdateKeyDescriptionInput, raw);
    await authorizeKey(engine, access, 'kms:UpdateKeyDescription', i.KeyId);
    await engine.updateKeyDescription(i.KeyId, i.Description);
    return {};
  },

  async EnableKey(engine, raw, access) {
    const { KeyId } = parseInput(KeyIdInput, raw);
    await authorizeKey(engine, access, 'kms:EnableKey', KeyId);
    await engine.enableKey(KeyId);
    return {};
  },

  async DisableKey(engine, raw, access) {
    const { KeyId } = parseInput(KeyIdInput, raw);
    await authorizeKey(engine, access, 'kms:DisableKey', KeyId);
    await engine.disableKey(KeyId);
    return {};
  },

  async ScheduleKeyDeletion(engine, raw, access) {
    const i = parseInput(ScheduleKeyDeletionInput, raw);
    await authorizeKey(engine, access, 'kms:ScheduleKeyDeletion', i.KeyId);
    const k = await engine.scheduleKeyDeletion(i.KeyId, i.PendingWindowInDays ?? 30);
    return {
      KeyId: engine.arnOf(k.keyId),
      DeletionDate: epochSeconds(k.deletionAt!),
      KeyState: k.state,
      PendingWindowInDays: k.pendingWindowInDays,
    };
  },

  async CancelKeyDeletion(engine, raw, access) {
    const { KeyId } = parseInput(KeyIdInput, raw);
    await authorizeKey(engine, access, 'kms:CancelKeyDeletion', KeyId);
    const k = await engine.cancelKeyDeletion(KeyId);
    return { KeyId: engine.arnOf(k.keyId) };
  },

  async CreateAlias(engine, raw, access) {
    const i = parseInput(CreateAliasInput, raw);
    access.require({ action: 'kms:CreateAlias', resource: aliasArn(engine.partition, i.AliasName) });
    await authorizeKey(engine, access, 'kms:CreateAlias', i.TargetKeyId);
    await engine.createAlias(i.AliasName, i.TargetKeyId);
    return {};
  },

  async UpdateAlias(engine, raw, access) {
    const i = parseInput(UpdateAliasInput, raw);
    access.require({ action: 'kms:UpdateAlias', resource: aliasArn(engine.partition, i.AliasName) });
    await authorizeKey(engine, access, 'kms:UpdateAlias', i.TargetKeyId);
    await engine.updateAlias(i.AliasName, i.TargetKeyId);
    return {};
  },

  async DeleteAlias(engine, raw, access) {
    const { AliasName } = parseInput(DeleteAliasInput, raw);
    access.require({ action: 'kms:DeleteAlias', resource: aliasArn(engine.partition, AliasName) });
    await engine.deleteAlias(AliasName);
    return {};
  },

  async ListAliases(engine, raw, access) {
    const i = parseInput(ListAliasesInput, raw);
    anyResource(access, 'kms:ListAliases');
    const { items, next } = await engine.listAliases(i.Limit ?? 50, decodeMarker(i.Marker), i.KeyId);
    return {
      Aliases: items.map((a) => ({
        AliasName: a.name,
        AliasArn: `arn:aws:kms:${engine.partition.region}:${engine.partition.accountId}:${a.name}`,
        TargetKeyId: a.keyId,
        CreationDate: epochSeconds(a.createdAt),
        LastUpdatedDate: epochSeconds(a.updatedAt),
      })),
      ...truncation(next),
    };
  },

  async Encrypt(engine, raw, access) {
    const i = parseInput(EncryptInput, raw);
    await authorizeKey(engine, access, 'kms:Encrypt', i.KeyId, encryptionContextKeys(i.EncryptionContext));
    const r = await engine.encrypt(i.KeyId, i.Plaintext, i.EncryptionContext, i.EncryptionAlgorithm);
    dryRunDone(i.DryRun);
    return { CiphertextBlob: b64(r.ciphertext), KeyId: r.keyId, EncryptionAlgorithm: r.algorithm };
  },

  async Decrypt(engine, raw, access) {
    const i = parseInput(DecryptInput, raw);
    if (i.Recipient !== undefined) {
      throw new AppError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported.');
    }
    const ref = ciphertextKeyRef(i.CiphertextBlob, i.KeyId);
    const context = encryptionContextKeys(i.EncryptionContext);
    if (ref === undefined) access.require({ action: 'kms:Decrypt', resource: '*', context });
    else await authorizeKey(engine, access, 'kms:Decrypt', ref, context);
    const r = await engine.decrypt(i.CiphertextBlob, i.EncryptionContext, i.KeyId, i.EncryptionAlgorithm);
    dryRunDone(i.DryRun);
    return { KeyId: r.keyId, Plaintext: b64(r.plaintext), EncryptionAlgorithm: r.algorithm };
  },

  async ReEncrypt(engine, raw, access) {
    const i = parseInput(ReEncryptInput, raw);
    const sourceRef = ciphertextKeyRef(i.CiphertextBlob, i.SourceKeyId);
    const sourceContext = encryptionContextKeys(i.SourceEncryptionContext);
    if (sourceRef === undefined) access.require({ action: 'kms:ReEncryptFrom', resource: '*', context: sourceContext });
    else await authorizeKey(engine, access, 'kms:ReEncryptFrom', sourceRef, sourceContext);
    await authorizeKey(
      engine,
      access,
      'kms:ReEncryptTo',
      i.DestinationKeyId,
      encryptionContextKeys(i.DestinationEncryptionContext),
    );
    const { source, destination } = await engine.reEncrypt({
      blob: i.CiphertextBlob,
      sourceContext: i.SourceEncryptionContext,
      sourceKeyRef: i.SourceKeyId,
      sourceAlgorithm: i.SourceEncryptionAlgorithm,
      destinationKeyRef: i.DestinationKeyId,
      destinationContext: i.DestinationEncryptionContext,
      destinationAlgorithm: i.DestinationEncryptionAlgorithm,
    });
    dryRunDone(i.DryRun);
    return {
      CiphertextBlob: b64(destination.ciphertext),
      SourceKeyId: source.keyId,
      KeyId: destination.keyId,
      SourceEncryptionAlgorithm: source.algorithm,
      DestinationEncryptionAlgorithm: destination.algorithm,
    };
  },

  GenerateDataKey: (engine, raw, access) => generateDataKey(engine, raw, access, 'GenerateDataKey'),
  GenerateDataKeyWithoutPlaintext: (engine, raw, access) =>
    generateDataKey(engine, raw, access, 'GenerateDataKeyWithoutPlaintext'),
  GenerateDataKeyPair: (engine, raw, access) => generateDataKeyPair(engine, raw, access, 'GenerateDataKeyPair'),
  GenerateDataKeyPairWithoutPlaintext: (engine, raw, access) =>
    generateDataKeyPair(engine, raw, access, 'GenerateDataKeyPairWithoutPlaintext'),

  async GenerateRandom(_engine, raw, access) {
    const i = parseInput(GenerateRandomInput, raw);
    anyResource(access, 'kms:GenerateRandom');
    if (i.CustomKeyStoreId) throw new AppError('UnsupportedOperationException', 'Custom key stores are not supported.');
    return { Plaintext: b64(randomKeyBytesInsecure(i.NumberOfBytes ?? 32)) };
  },

  async Sign(engine, raw, access) {
    const i = parseInput(SignInput, raw);
    await authorizeKey(engine, access, 'kms:Sign', i.KeyId);
    const r = await engine.sign(i.KeyId, i.Message, i.MessageType ?? 'RAW', i.SigningAlgorithm);
    dryRunDone(i.DryRun);
    return { KeyId: r.keyId, Signature: b64(r.signature), SigningAlgorithm: i.SigningAlgorithm };
  },

  async Verify(engine, raw, access) {
    const i = parseInput(VerifyInput, raw);
    await authorizeKey(engine, access, 'kms:Verify', i.KeyId);
    const r = await engine.verify(i.KeyId, i.Message, i.MessageType ?? 'RAW', i.SigningAlgorithm, i.Signature);
    dryRunDone(i.DryRun);
    return { KeyId: r.keyId, SignatureValid: true, SigningAlgorithm: i.SigningAlgorithm };
  },

  async GetPublicKey(engine, raw, access) {
    const i = parseInput(GetPublicKeyInput, raw);
    await authorizeKey(engine, access, 'kms:GetPublicKey', i.KeyId);
    const { key, publicKey } = await engine.getPublicKey(i.KeyId);
    return {
      KeyId: engine.arnOf(key.keyId),
      PublicKey: b64(publicKey),
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      KeyUsage: key.keyUsage,
      ...algorithmsOf(key),
    };
  },

  async GenerateMac(engine, raw, access) {
    const i = parseInput(GenerateMacInput, raw);
    await authorizeKey(engine, access, 'kms:GenerateMac', i.KeyId);
    const r = await engine.generateMac(i.KeyId, i.Message, i.MacAlgorithm);
    dryRunDone(i.DryRun);
    return { KeyId: r.keyId, Mac: b64(r.mac), MacAlgorithm: i.MacAlgorithm };
  },

  async VerifyMac(engine, raw, access) {
    const i = parseInput(VerifyMacInput, raw);
    await authorizeKey(engine, access, 'kms:VerifyMac', i.KeyId);
    const r = await engine.verifyMac(i.KeyId, i.Message, i.MacAlgorithm, i.Mac);
    dryRunDone(i.DryRun);
    return { KeyId: r.keyId, MacValid: true, MacAlgorithm: i.MacAlgorithm };
  },

  async EnableKeyRotation(engine, raw, access) {
    const i = parseInput(EnableKeyRotationInput, raw);
    await authorizeKey(engine, access, 'kms:EnableKeyRotation', i.KeyId);
    await engine.enableKeyRotation(i.KeyId, i.RotationPeriodInDays);
    return {};
  },

  async DisableKeyRotation(engine, raw, access) {
    const { KeyId } = parseInput(KeyIdInput, raw);
    await authorizeKey(engine, access, 'kms:DisableKeyRotation', KeyId);
    await engine.disableKeyRotation(KeyId);
    return {};
  },

  async GetKeyRotationStatus(engine, raw, access) {
    const { KeyId } = parseInput(KeyIdInput, raw);
    await authorizeKey(engine, access, 'kms:GetKeyRotationStatus', KeyId);
    const { key, status } = await engine.getKeyRotationStatus(KeyId);
    const onDemand = (await engine.listKeyRotations(key.keyId)).rotations.filter((r) => r.rotationType === 'ON_DEMAND');
    return {
      KeyRotationEnabled: status.enabled,
      KeyId: engine.arnOf(key.keyId),
      ...(status.periodInDays !== undefined && { RotationPeriodInDays: status.periodInDays }),
      ...(status.nextRotationAt !== undefined && { NextRotationDate: epochSeconds(status.nextRotationAt) }),
      ...(onDemand.length > 0 && { OnDemandRotationStartDate: epochSeconds(onDemand[onDemand.length - 1]!.createdAt) }),
    };
  },

  async RotateKeyOnDemand(engine, raw, access) {
    const { KeyId } = parseInput(KeyIdInput, raw);
    await authorizeKey(engine, access, 'kms:RotateKeyOnDemand', KeyId);
    const k = await engine.rotateKeyOnDemand(KeyId);
    return { KeyId: engine.arnOf(k.keyId) };
  },

  async ListKeyRotations(engine, raw, access) {
    const i = parseInput(ListKeyRotationsInput, raw);
    await authorizeKey(engine, access, 'kms:ListKeyRotations', i.KeyId);
    const { key, rotations } = await engine.listKeyRotations(i.KeyId);
    return paginate(
      rotations.map((r) => ({
        KeyId: engine.arnOf(key.keyId),
        RotationDate: epochSeconds(r.createdAt),
        RotationType: r.rotationType,
      })),
      i.Limit ?? 100,
      i.Marker,
      'Rotations',
    );
  },

  async TagResource(engine, raw, access) {
    const i = parseInput(TagResourceInput, raw);
    await authorizeKey(engine, access, 'kms:TagResource', i.KeyId);
    await engine.tagResource(i.KeyId, i.Tags);
    return {};
  },

  async UntagResource(engine, raw, access) {
    const i = parseInput(UntagResourceInput, raw);
    await authorizeKey(engine, access, 'kms:UntagResource', i.KeyId);
    await engine.untagResource(i.KeyId, i.TagKeys);
    return {};
  },

  async ListResourceTags(engine, raw, access) {
    const i = parseInput(ListResourceTagsInput, raw);
    await authorizeKey(engine, access, 'kms:ListResourceTags', i.KeyId);
    return paginate(await engine.listResourceTags(i.KeyId), i.Limit ?? 50, i.Marker, 'Tags');
  },

  async GetKeyPolicy(engine, raw, access) {
    const i = parseInput(GetKeyPolicyInput, raw);
    await authorizeKey(engine, access, 'kms:GetKeyPolicy', i.KeyId);
    requireDefaultPolicyName(i.PolicyName);
    return { Policy: await engine.getKeyPolicy(i.KeyId), PolicyName: 'default' };
  },

  async PutKeyPolicy(engine, raw, access) {
    const i = parseInput(PutKeyPolicyInput, raw);
    requireDefaultPolicyName(i.PolicyName);
    validatePolicy(engine, i.Policy);
    await authorizeKey(engine, access, 'kms:PutKeyPolicy', i.KeyId);
    await engine.putKeyPolicy(i.KeyId, i.Policy);
    return {};
  },

  async ListKeyPolicies(engine, raw, access) {
    const i = parseInput(ListKeyPoliciesInput, raw);
    await authorizeKey(engine, access, 'kms:ListKeyPolicies', i.KeyId);
    await engine.describeKey(i.KeyId);
    return { PolicyNames: ['default'], Truncated: false };
  },

  ReplicateKey: unsupported('ReplicateKey (multi-Region keys)'),
  UpdatePrimaryRegion: unsupported('UpdatePrimaryRegion (multi-Region keys)'),
  CreateCustomKeyStore: unsupported('Custom key stores'),
  ConnectCustomKeyStore: unsupported('Custom key stores'),
  DisconnectCustomKeyStore: unsupported('Custom key stores'),
  DeleteCustomKeyStore: unsupported('Custom key stores'),
  DescribeCustomKeyStores: unsupported('Custom key stores'),
  UpdateCustomKeyStore: unsupported('Custom key stores'),
  GetParametersForImport: unsupported('Importing key material'),
  ImportKeyMaterial: unsupported('Importing key material'),
  DeleteImportedKeyMaterial: unsupported('Importing key material'),
  CreateGrant: unsupported('Grants'),
  ListGrants: unsupported('Grants'),
  ListRetirableGrants: unsupported('Grants'),
  RetireGrant: unsupported('Grants'),
  RevokeGrant: unsupported('Grants'),
  DeriveSharedSecret: unsupported('DeriveSharedSecret (KEY_AGREEMENT keys)'),
  GetKeyLastUsage: unsupported('GetKeyLastUsage'),
};

async function generateDataKey(
  engine: KmsEngine,
  raw: unknown,
  access: Access,
  op: 'GenerateDataKey' | 'GenerateDataKeyWithoutPlaintext',
): Promise<object> {
  const withPlaintext = op === 'GenerateDataKey';
  const i = parseInput(GenerateDataKeyInput, raw);
  await authorizeKey(engine, access, `kms:${op}`, i.KeyId, encryptionContextKeys(i.EncryptionContext));
  if ((i.NumberOfBytes === undefined) === (i.KeySpec === undefined)) {
    throw new AppError('ValidationException', 'Please specify either number of bytes or key spec.');
  }
  const bytes = i.NumberOfBytes ?? (i.KeySpec === 'AES_128' ? 16 : 32);
  const r = await engine.generateDataKey(i.KeyId, bytes, i.EncryptionContext);
  dryRunDone(i.DryRun);
  return {
    CiphertextBlob: b64(r.ciphertext),
    ...(withPlaintext && { Plaintext: b64(r.plaintext) }),
    KeyId: r.keyId,
  };
}

async function generateDataKeyPair(
  engine: KmsEngine,
  raw: unknown,
  access: Access,
  op: 'GenerateDataKeyPair' | 'GenerateDataKeyPairWithoutPlaintext',
): Promise<object> {
  const withPlaintext = op === 'GenerateDataKeyPair';
  const i = parseInput(GenerateDataKeyPairInput, raw);
  await authorizeKey(engine, access, `kms:${op}`, i.KeyId, encryptionContextKeys(i.EncryptionContext));
  const r = await engine.generateDataKeyPair(i.KeyId, i.KeyPairSpec, i.EncryptionContext);
  dryRunDone(i.DryRun);
  return {
    PrivateKeyCiphertextBlob: b64(r.privateKeyCiphertext),
    ...(withPlaintext && { PrivateKeyPlaintext: b64(r.privateKeyPlaintext) }),
    PublicKey: b64(r.publicKey),
    KeyId: r.keyId,
    KeyPairSpec: i.KeyPairSpec,
  };
}

/** In-memory pagination for short lists (tags, rotations): the marker is the next index. */
function paginate<T>(all: T[], pageSize: number, markerIn: string | undefined, field: string): object {
  const start = markerIn === undefined ? 0 : Number(decodeMarker(markerIn));
  if (!Number.isInteger(start) || start < 0) throw new AppError('InvalidMarkerException', 'The marker is invalid.');
  const end = start + pageSize;
  return {
    [field]: all.slice(start, end),
    ...(end < all.length ? { Truncated: true, NextMarker: encodeMarker(String(end)) } : { Truncated: false }),
  };
}

function requireDefaultPolicyName(name: string | undefined): void {
  if (name !== undefined && name !== 'default') {
    throw new AppError(
      'NotFoundException',
      `No such policy exists: ${name.slice(0, 128)}. Only 'default' is supported.`,
    );
  }
}

function validatePolicy(engine: KmsEngine, document: string): void {
  compilePolicy(document, 'resource', engine.partition.accountId);
}
