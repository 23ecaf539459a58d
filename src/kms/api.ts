// The AWS KMS JSON operations: parse the AWS-shaped input, call the engine, shape the AWS output.
import { z } from 'zod';
import { compilePolicy } from '../auth/index.js';
import { type Access, type ConditionKeys, encryptionContextKeys, type ResourceRef } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { type Operation, operation } from '../core/operation.js';
import { blob, context, decodeMarker, encodeMarker, epochSeconds, int, str } from '../core/wire.js';
import { parseCiphertextHeader, randomKeyBytesInsecure } from '../crypto/index.js';
import { type KmsEngine, refuseReservedAlias } from './engine.js';
import { DATA_KEY_PAIR_SPECS, KEY_SPECS, KEY_USAGES, SIGNING_ALGORITHMS, SPEC_INFO } from './key-specs.js';
import type { KeyRecord } from './store.js';

type KmsOperation = Operation<KmsEngine>;

/** `action` on the key a request names (id, ARN or alias), with its key policy. */
const key = (action: string, ref: string | undefined, context?: ConditionKeys): ResourceRef =>
  context ? { kind: 'key', action, key: ref, context } : { kind: 'key', action, key: ref };
const anyResource = (action: string): ResourceRef => ({ kind: 'any', action });
/** The common shape: one action on the request's KeyId. */
const onKeyId =
  (action: string) =>
  (i: { KeyId: string }): ResourceRef[] => [key(action, i.KeyId)];

/** The key a symmetric ciphertext names, or the KeyId given; undefined when neither is readable. */
function ciphertextKeyRef(blob: Uint8Array, keyId: string | undefined): string | undefined {
  if (keyId !== undefined) return keyId;
  try {
    return parseCiphertextHeader(blob).keyId;
  } catch {
    return undefined;
  }
}

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
  const algorithms = SPEC_INFO[k.keySpec].usages[k.keyUsage] ?? [];
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
    // Keysafe's own keys are to a customer what AWS managed keys are: AWS says AWS for those.
    KeyManager: k.internalPurpose === undefined ? 'CUSTOMER' : 'AWS',
    CustomerMasterKeySpec: k.keySpec,
    KeySpec: k.keySpec,
    ...algorithmsOf(k),
    MultiRegion: false,
  };
}

function truncation(next: string | undefined) {
  return next === undefined ? { Truncated: false } : { Truncated: true, NextMarker: encodeMarker(next) };
}

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

const unsupported = (action: string, what: string): KmsOperation =>
  operation({
    input: z.object({}).loose(),
    resources: () => [anyResource(`kms:${action}`)],
    async run() {
      throw new AppError('UnsupportedOperationException', `${what} is not supported by Keysafe.`);
    },
  });

/** A handler that answers `{}` once the engine call is done. */
const done =
  <I>(call: (engine: KmsEngine, i: I) => Promise<unknown>) =>
  async (engine: KmsEngine, i: I): Promise<object> => {
    await call(engine, i);
    return {};
  };

export const kmsOperations: Record<string, KmsOperation> = {
  CreateKey: operation({
    input: CreateKeyInput,
    // Tags on CreateKey need kms:TagResource too, as on AWS.
    resources: (i) => [anyResource('kms:CreateKey'), ...(i.Tags?.length ? [anyResource('kms:TagResource')] : [])],
    async run(engine: KmsEngine, i) {
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
      const created = await engine.createKey({
        description: i.Description,
        keyUsage: i.KeyUsage,
        keySpec: i.KeySpec ?? i.CustomerMasterKeySpec,
        policy: i.Policy,
        tags: i.Tags,
      });
      return { KeyMetadata: keyMetadata(engine, created) };
    },
  }),

  DescribeKey: operation({
    input: DescribeKeyInput,
    resources: onKeyId('kms:DescribeKey'),
    run: async (engine: KmsEngine, i) => ({ KeyMetadata: keyMetadata(engine, await engine.describeKey(i.KeyId)) }),
  }),

  ListKeys: operation({
    input: ListKeysInput,
    resources: () => [anyResource('kms:ListKeys')],
    async run(engine: KmsEngine, i, access) {
      const { items, next } = await engine.listKeys(i.Limit ?? 100, decodeMarker(i.Marker));
      const shown = await mayDescribe(access, items, (k) => k.keyId);
      return { Keys: shown.map((k) => ({ KeyId: k.keyId, KeyArn: engine.arnOf(k.keyId) })), ...truncation(next) };
    },
  }),

  UpdateKeyDescription: operation({
    input: UpdateKeyDescriptionInput,
    resources: onKeyId('kms:UpdateKeyDescription'),
    run: done((engine, i) => engine.updateKeyDescription(i.KeyId, i.Description)),
  }),

  EnableKey: operation({
    input: KeyIdInput,
    resources: onKeyId('kms:EnableKey'),
    run: done((engine, i) => engine.enableKey(i.KeyId)),
  }),

  DisableKey: operation({
    input: KeyIdInput,
    resources: onKeyId('kms:DisableKey'),
    run: done((engine, i) => engine.disableKey(i.KeyId)),
  }),

  ScheduleKeyDeletion: operation({
    input: ScheduleKeyDeletionInput,
    resources: onKeyId('kms:ScheduleKeyDeletion'),
    async run(engine: KmsEngine, i) {
      const k = await engine.scheduleKeyDeletion(i.KeyId, i.PendingWindowInDays ?? 30);
      return {
        KeyId: engine.arnOf(k.keyId),
        DeletionDate: epochSeconds(k.deletionAt!),
        KeyState: k.state,
        PendingWindowInDays: k.pendingWindowInDays,
      };
    },
  }),

  CancelKeyDeletion: operation({
    input: KeyIdInput,
    resources: onKeyId('kms:CancelKeyDeletion'),
    run: async (engine: KmsEngine, i) => ({ KeyId: engine.arnOf((await engine.cancelKeyDeletion(i.KeyId)).keyId) }),
  }),

  // AWS: CreateAlias needs kms:CreateAlias on the alias and on the key; UpdateAlias on the alias,
  // the key it points at now and the new key; DeleteAlias on the alias and its key.
  CreateAlias: operation({
    input: CreateAliasInput,
    validate: (i) => refuseReservedAlias(i.AliasName),
    resources: (i) => [
      { kind: 'alias', action: 'kms:CreateAlias', alias: i.AliasName },
      key('kms:CreateAlias', i.TargetKeyId),
    ],
    run: done((engine, i) => engine.createAlias(i.AliasName, i.TargetKeyId)),
  }),

  UpdateAlias: operation({
    input: UpdateAliasInput,
    validate: (i) => refuseReservedAlias(i.AliasName),
    resources: (i) => [
      { kind: 'alias', action: 'kms:UpdateAlias', alias: i.AliasName },
      { kind: 'alias-target', action: 'kms:UpdateAlias', alias: i.AliasName },
      key('kms:UpdateAlias', i.TargetKeyId),
    ],
    run: done((engine, i) => engine.updateAlias(i.AliasName, i.TargetKeyId)),
  }),

  DeleteAlias: operation({
    input: DeleteAliasInput,
    validate: (i) => refuseReservedAlias(i.AliasName),
    resources: (i) => [
      { kind: 'alias', action: 'kms:DeleteAlias', alias: i.AliasName },
      { kind: 'alias-target', action: 'kms:DeleteAlias', alias: i.AliasName },
    ],
    run: done((engine, i) => engine.deleteAlias(i.AliasName)),
  }),

  ListAliases: operation({
    input: ListAliasesInput,
    resources: () => [anyResource('kms:ListAliases')],
    async run(engine: KmsEngine, i, access) {
      const { items, next } = await engine.listAliases(i.Limit ?? 50, decodeMarker(i.Marker), i.KeyId);
      return {
        Aliases: (await mayDescribe(access, items, (a) => a.keyId)).map((a) => ({
          AliasName: a.name,
          AliasArn: `arn:aws:kms:${engine.partition.region}:${engine.partition.accountId}:${a.name}`,
          TargetKeyId: a.keyId,
          CreationDate: epochSeconds(a.createdAt),
          LastUpdatedDate: epochSeconds(a.updatedAt),
        })),
        ...truncation(next),
      };
    },
  }),

  Encrypt: operation({
    input: EncryptInput,
    resources: (i) => [key('kms:Encrypt', i.KeyId, encryptionContextKeys(i.EncryptionContext))],
    async run(engine: KmsEngine, i) {
      const r = await engine.encrypt(i.KeyId, i.Plaintext, i.EncryptionContext, i.EncryptionAlgorithm);
      dryRunDone(i.DryRun);
      return { CiphertextBlob: b64(r.ciphertext), KeyId: r.keyId, EncryptionAlgorithm: r.algorithm };
    },
  }),

  Decrypt: operation({
    input: DecryptInput,
    resources: (i) => [
      key('kms:Decrypt', ciphertextKeyRef(i.CiphertextBlob, i.KeyId), encryptionContextKeys(i.EncryptionContext)),
    ],
    async run(engine: KmsEngine, i) {
      if (i.Recipient !== undefined) {
        throw new AppError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported.');
      }
      const r = await engine.decrypt(i.CiphertextBlob, i.EncryptionContext, i.KeyId, i.EncryptionAlgorithm);
      dryRunDone(i.DryRun);
      return { KeyId: r.keyId, Plaintext: b64(r.plaintext), EncryptionAlgorithm: r.algorithm };
    },
  }),

  ReEncrypt: operation({
    input: ReEncryptInput,
    resources: (i) => [
      key(
        'kms:ReEncryptFrom',
        ciphertextKeyRef(i.CiphertextBlob, i.SourceKeyId),
        encryptionContextKeys(i.SourceEncryptionContext),
      ),
      key('kms:ReEncryptTo', i.DestinationKeyId, encryptionContextKeys(i.DestinationEncryptionContext)),
    ],
    async run(engine: KmsEngine, i) {
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
  }),

  GenerateDataKey: generateDataKey(true),
  GenerateDataKeyWithoutPlaintext: generateDataKey(false),
  GenerateDataKeyPair: generateDataKeyPair(true),
  GenerateDataKeyPairWithoutPlaintext: generateDataKeyPair(false),

  GenerateRandom: operation({
    input: GenerateRandomInput,
    resources: () => [anyResource('kms:GenerateRandom')],
    async run(_engine: KmsEngine, i) {
      if (i.CustomKeyStoreId)
        throw new AppError('UnsupportedOperationException', 'Custom key stores are not supported.');
      return { Plaintext: b64(randomKeyBytesInsecure(i.NumberOfBytes ?? 32)) };
    },
  }),

  Sign: operation({
    input: SignInput,
    resources: onKeyId('kms:Sign'),
    async run(engine: KmsEngine, i) {
      const r = await engine.sign(i.KeyId, i.Message, i.MessageType ?? 'RAW', i.SigningAlgorithm);
      dryRunDone(i.DryRun);
      return { KeyId: r.keyId, Signature: b64(r.signature), SigningAlgorithm: i.SigningAlgorithm };
    },
  }),

  Verify: operation({
    input: VerifyInput,
    resources: onKeyId('kms:Verify'),
    async run(engine: KmsEngine, i) {
      const r = await engine.verify(i.KeyId, i.Message, i.MessageType ?? 'RAW', i.SigningAlgorithm, i.Signature);
      dryRunDone(i.DryRun);
      return { KeyId: r.keyId, SignatureValid: true, SigningAlgorithm: i.SigningAlgorithm };
    },
  }),

  GetPublicKey: operation({
    input: GetPublicKeyInput,
    resources: onKeyId('kms:GetPublicKey'),
    async run(engine: KmsEngine, i) {
      const { key: k, publicKey } = await engine.getPublicKey(i.KeyId);
      return {
        KeyId: engine.arnOf(k.keyId),
        PublicKey: b64(publicKey),
        CustomerMasterKeySpec: k.keySpec,
        KeySpec: k.keySpec,
        KeyUsage: k.keyUsage,
        ...algorithmsOf(k),
      };
    },
  }),

  GenerateMac: operation({
    input: GenerateMacInput,
    resources: onKeyId('kms:GenerateMac'),
    async run(engine: KmsEngine, i) {
      const r = await engine.generateMac(i.KeyId, i.Message, i.MacAlgorithm);
      dryRunDone(i.DryRun);
      return { KeyId: r.keyId, Mac: b64(r.mac), MacAlgorithm: i.MacAlgorithm };
    },
  }),

  VerifyMac: operation({
    input: VerifyMacInput,
    resources: onKeyId('kms:VerifyMac'),
    async run(engine: KmsEngine, i) {
      const r = await engine.verifyMac(i.KeyId, i.Message, i.MacAlgorithm, i.Mac);
      dryRunDone(i.DryRun);
      return { KeyId: r.keyId, MacValid: true, MacAlgorithm: i.MacAlgorithm };
    },
  }),

  EnableKeyRotation: operation({
    input: EnableKeyRotationInput,
    resources: onKeyId('kms:EnableKeyRotation'),
    run: done((engine, i) => engine.enableKeyRotation(i.KeyId, i.RotationPeriodInDays)),
  }),

  DisableKeyRotation: operation({
    input: KeyIdInput,
    resources: onKeyId('kms:DisableKeyRotation'),
    run: done((engine, i) => engine.disableKeyRotation(i.KeyId)),
  }),

  GetKeyRotationStatus: operation({
    input: KeyIdInput,
    resources: onKeyId('kms:GetKeyRotationStatus'),
    async run(engine: KmsEngine, i) {
      const { key: k, status } = await engine.getKeyRotationStatus(i.KeyId);
      const onDemand = (await engine.listKeyRotations(k.keyId)).rotations.filter((r) => r.rotationType === 'ON_DEMAND');
      return {
        KeyRotationEnabled: status.enabled,
        KeyId: engine.arnOf(k.keyId),
        ...(status.periodInDays !== undefined && { RotationPeriodInDays: status.periodInDays }),
        ...(status.nextRotationAt !== undefined && { NextRotationDate: epochSeconds(status.nextRotationAt) }),
        ...(onDemand.length > 0 && {
          OnDemandRotationStartDate: epochSeconds(onDemand[onDemand.length - 1]!.createdAt),
        }),
      };
    },
  }),

  RotateKeyOnDemand: operation({
    input: KeyIdInput,
    resources: onKeyId('kms:RotateKeyOnDemand'),
    run: async (engine: KmsEngine, i) => ({ KeyId: engine.arnOf((await engine.rotateKeyOnDemand(i.KeyId)).keyId) }),
  }),

  ListKeyRotations: operation({
    input: ListKeyRotationsInput,
    resources: onKeyId('kms:ListKeyRotations'),
    async run(engine: KmsEngine, i) {
      const { key: k, rotations } = await engine.listKeyRotations(i.KeyId);
      return paginate(
        rotations.map((r) => ({
          KeyId: engine.arnOf(k.keyId),
          RotationDate: epochSeconds(r.createdAt),
          RotationType: r.rotationType,
        })),
        i.Limit ?? 100,
        i.Marker,
        'Rotations',
      );
    },
  }),

  TagResource: operation({
    input: TagResourceInput,
    resources: onKeyId('kms:TagResource'),
    run: done((engine, i) => engine.tagResource(i.KeyId, i.Tags)),
  }),

  UntagResource: operation({
    input: UntagResourceInput,
    resources: onKeyId('kms:UntagResource'),
    run: done((engine, i) => engine.untagResource(i.KeyId, i.TagKeys)),
  }),

  ListResourceTags: operation({
    input: ListResourceTagsInput,
    resources: onKeyId('kms:ListResourceTags'),
    run: async (engine: KmsEngine, i) =>
      paginate(await engine.listResourceTags(i.KeyId), i.Limit ?? 50, i.Marker, 'Tags'),
  }),

  GetKeyPolicy: operation({
    input: GetKeyPolicyInput,
    resources: onKeyId('kms:GetKeyPolicy'),
    async run(engine: KmsEngine, i) {
      requireDefaultPolicyName(i.PolicyName);
      return { Policy: await engine.getKeyPolicy(i.KeyId), PolicyName: 'default' };
    },
  }),

  PutKeyPolicy: operation({
    input: PutKeyPolicyInput,
    resources: onKeyId('kms:PutKeyPolicy'),
    async run(engine: KmsEngine, i) {
      requireDefaultPolicyName(i.PolicyName);
      validatePolicy(engine, i.Policy);
      await engine.putKeyPolicy(i.KeyId, i.Policy);
      return {};
    },
  }),

  ListKeyPolicies: operation({
    input: ListKeyPoliciesInput,
    resources: onKeyId('kms:ListKeyPolicies'),
    async run(engine: KmsEngine, i) {
      await engine.describeKey(i.KeyId);
      return { PolicyNames: ['default'], Truncated: false };
    },
  }),

  ReplicateKey: unsupported('ReplicateKey', 'ReplicateKey (multi-Region keys)'),
  UpdatePrimaryRegion: unsupported('UpdatePrimaryRegion', 'UpdatePrimaryRegion (multi-Region keys)'),
  CreateCustomKeyStore: unsupported('CreateCustomKeyStore', 'Custom key stores'),
  ConnectCustomKeyStore: unsupported('ConnectCustomKeyStore', 'Custom key stores'),
  DisconnectCustomKeyStore: unsupported('DisconnectCustomKeyStore', 'Custom key stores'),
  DeleteCustomKeyStore: unsupported('DeleteCustomKeyStore', 'Custom key stores'),
  DescribeCustomKeyStores: unsupported('DescribeCustomKeyStores', 'Custom key stores'),
  UpdateCustomKeyStore: unsupported('UpdateCustomKeyStore', 'Custom key stores'),
  GetParametersForImport: unsupported('GetParametersForImport', 'Importing key material'),
  ImportKeyMaterial: unsupported('ImportKeyMaterial', 'Importing key material'),
  DeleteImportedKeyMaterial: unsupported('DeleteImportedKeyMaterial', 'Importing key material'),
  CreateGrant: unsupported('CreateGrant', 'Grants'),
  ListGrants: unsupported('ListGrants', 'Grants'),
  ListRetirableGrants: unsupported('ListRetirableGrants', 'Grants'),
  RetireGrant: unsupported('RetireGrant', 'Grants'),
  RevokeGrant: unsupported('RevokeGrant', 'Grants'),
  DeriveSharedSecret: unsupported('DeriveSharedSecret', 'DeriveSharedSecret (KEY_AGREEMENT keys)'),
  GetKeyLastUsage: unsupported('GetKeyLastUsage', 'GetKeyLastUsage'),
};

/**
 * The listed items whose key the caller may describe: a tenant lists its own keys and aliases, never
 * another's (a Keysafe choice; AWS lists a whole account). A page may come out short.
 */
async function mayDescribe<T>(access: Access, items: T[], keyIdOf: (item: T) => string): Promise<T[]> {
  const shown: T[] = [];
  for (const item of items) {
    if ((await access.refusalOf([key('kms:DescribeKey', keyIdOf(item))])) === undefined) shown.push(item);
  }
  return shown;
}

function generateDataKey(withPlaintext: boolean): KmsOperation {
  const action = withPlaintext ? 'kms:GenerateDataKey' : 'kms:GenerateDataKeyWithoutPlaintext';
  return operation({
    input: GenerateDataKeyInput,
    resources: (i) => [key(action, i.KeyId, encryptionContextKeys(i.EncryptionContext))],
    async run(engine: KmsEngine, i) {
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
    },
  });
}

function generateDataKeyPair(withPlaintext: boolean): KmsOperation {
  const action = withPlaintext ? 'kms:GenerateDataKeyPair' : 'kms:GenerateDataKeyPairWithoutPlaintext';
  return operation({
    input: GenerateDataKeyPairInput,
    resources: (i) => [key(action, i.KeyId, encryptionContextKeys(i.EncryptionContext))],
    async run(engine: KmsEngine, i) {
      const r = await engine.generateDataKeyPair(i.KeyId, i.KeyPairSpec, i.EncryptionContext);
      dryRunDone(i.DryRun);
      return {
        PrivateKeyCiphertextBlob: b64(r.privateKeyCiphertext),
        ...(withPlaintext && { PrivateKeyPlaintext: b64(r.privateKeyPlaintext) }),
        PublicKey: b64(r.publicKey),
        KeyId: r.keyId,
        KeyPairSpec: i.KeyPairSpec,
      };
    },
  });
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
