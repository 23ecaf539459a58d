// KMS symmetric and envelope operations: encrypt, decrypt, re-encrypt, data keys, data key pairs, random bytes.
import { z } from 'zod';
import { encryptionContextKeys, type ResourceRef } from '../../core/access.js';
import { AppError } from '../../core/errors.js';
import { operation } from '../../core/operation.js';
import { awsEnum, blob, context, int, str } from '../../core/wire.js';
import { parseCiphertextHeader, randomKeyBytesInsecure } from '../../crypto/index.js';
import type { KmsEngine } from '../engine.js';
import { DATA_KEY_PAIR_SPECS } from '../key-specs.js';
import { DATA_KEY_PAIR_SPEC, ENCRYPTION_ALGORITHM_SPEC } from './model-enums.js';
import {
  anyResource,
  b64,
  dryRun,
  dryRunDone,
  dryRunModifiers,
  grantTokens,
  type KmsOperation,
  key,
  keyId,
  recipient,
} from './shapes.js';

const encryptionAlgorithm = awsEnum(
  ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
  ENCRYPTION_ALGORITHM_SPEC,
).optional();

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
  Recipient: recipient,
  DryRun: dryRun,
  DryRunModifiers: dryRunModifiers,
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
  DryRunModifiers: dryRunModifiers,
});
const GenerateDataKeyInput = z.object({
  KeyId: keyId,
  EncryptionContext: context,
  NumberOfBytes: int(1, 1024).optional(),
  KeySpec: z.enum(['AES_256', 'AES_128']).optional(),
  GrantTokens: grantTokens,
  Recipient: recipient,
  DryRun: dryRun,
});
const GenerateDataKeyPairInput = z.object({
  KeyId: keyId,
  EncryptionContext: context,
  KeyPairSpec: awsEnum(DATA_KEY_PAIR_SPECS, DATA_KEY_PAIR_SPEC),
  GrantTokens: grantTokens,
  Recipient: recipient,
  DryRun: dryRun,
});
const GenerateRandomInput = z.object({
  NumberOfBytes: int(1, 1024).optional(),
  CustomKeyStoreId: str(1, 64).optional(),
  Recipient: recipient,
});

/** The key a symmetric ciphertext names, or the KeyId given; undefined when neither is readable. */
function ciphertextKeyRef(blob: Uint8Array, keyId: string | undefined): string | undefined {
  if (keyId !== undefined) return keyId;
  try {
    return parseCiphertextHeader(blob).keyId;
  } catch {
    return undefined;
  }
}

/** `action` on the request's KeyId, its encryption context as condition keys (Encrypt, the data keys). */
const onKeyWithContext =
  (action: string) =>
  (i: { KeyId: string; EncryptionContext?: Record<string, string> | undefined }): ResourceRef[] => [
    key(action, i.KeyId, encryptionContextKeys(i.EncryptionContext)),
  ];

export const encryptionOperations: Record<string, KmsOperation> = {
  Encrypt: operation({
    input: EncryptInput,
    resources: onKeyWithContext('kms:Encrypt'),
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
};

function generateDataKey(withPlaintext: boolean): KmsOperation {
  const action = withPlaintext ? 'kms:GenerateDataKey' : 'kms:GenerateDataKeyWithoutPlaintext';
  return operation({
    input: GenerateDataKeyInput,
    resources: onKeyWithContext(action),
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
    resources: onKeyWithContext(action),
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
