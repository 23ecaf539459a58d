// KMS operations for imported key material (BYOK): GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial.
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import { blob, epochSeconds, str } from '../../core/wire.js';
import {
  WRAPPING_ALGORITHMS,
  WRAPPING_KEY_SPECS,
  type WrappingAlgorithm,
  type WrappingKeySpec,
} from '../../crypto/index.js';
import type { KmsEngine } from '../engine.js';
import { SPEC_INFO } from '../key-specs.js';
import type { KeyRecord } from '../store.js';
import { b64, type KmsOperation, keyId, onKey } from './shapes.js';

// The model's enums; what Keysafe does not support is refused after parsing, as AWS refuses it.
const GetParametersForImportInput = z.object({
  KeyId: keyId,
  WrappingAlgorithm: z.enum([
    'RSAES_PKCS1_V1_5',
    'RSAES_OAEP_SHA_1',
    'RSAES_OAEP_SHA_256',
    'RSA_AES_KEY_WRAP_SHA_1',
    'RSA_AES_KEY_WRAP_SHA_256',
    'SM2PKE',
  ]),
  WrappingKeySpec: z.enum(['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2']),
});
const materialId = str(64, 64, '^[a-f0-9]+$');
const ImportKeyMaterialInput = z.object({
  KeyId: keyId,
  ImportToken: blob(1, 6144),
  EncryptedKeyMaterial: blob(1, 6144),
  ValidTo: z.number().optional(),
  ExpirationModel: z.enum(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE']).optional(),
  ImportType: z.enum(['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL']).optional(),
  KeyMaterialDescription: str(0, 256, '^[a-zA-Z0-9:/_\\s.-]+$').optional(),
  KeyMaterialId: materialId.optional(),
});
const DeleteImportedKeyMaterialInput = z.object({ KeyId: keyId, KeyMaterialId: materialId.optional() });

const isWrappingAlgorithm = (a: string): a is WrappingAlgorithm =>
  (WRAPPING_ALGORITHMS as readonly string[]).includes(a);
const isWrappingKeySpec = (s: string): s is WrappingKeySpec => (WRAPPING_KEY_SPECS as readonly string[]).includes(s);

/** SM2 exists only in AWS's China Regions; RSAES_PKCS1_V1_5 was withdrawn by AWS in October 2023. */
function wrappingParameters(i: z.output<typeof GetParametersForImportInput>) {
  const algorithm = i.WrappingAlgorithm;
  const spec = i.WrappingKeySpec;
  if (!isWrappingKeySpec(spec)) {
    throw new AppError('UnsupportedOperationException', `WrappingKeySpec ${spec} is not supported in this Region.`);
  }
  if (!isWrappingAlgorithm(algorithm)) {
    throw new AppError('UnsupportedOperationException', `WrappingAlgorithm ${algorithm} is not supported.`);
  }
  return { algorithm, spec };
}

/** The symmetric-only members of ImportKeyMaterial. */
function refuseSymmetricOnlyMembers(k: KeyRecord, i: z.output<typeof ImportKeyMaterialInput>): void {
  if (SPEC_INFO[k.keySpec].kind === 'symmetric') return;
  for (const member of ['ImportType', 'KeyMaterialDescription', 'KeyMaterialId'] as const) {
    if (i[member] !== undefined) {
      throw new AppError('ValidationException', `${member} is only supported for symmetric encryption KMS keys.`);
    }
  }
}

export const importOperations: Record<string, KmsOperation> = {
  GetParametersForImport: onKey(
    'kms:GetParametersForImport',
    GetParametersForImportInput,
    (engine: KmsEngine, i) => {
      const { algorithm, spec } = wrappingParameters(i);
      return engine.getParametersForImport(i.KeyId, algorithm, spec);
    },
    (p) => ({
      KeyId: p.keyId,
      ImportToken: b64(p.importToken),
      PublicKey: b64(p.publicKey),
      ParametersValidTo: epochSeconds(p.parametersValidTo),
    }),
  ),

  ImportKeyMaterial: onKey(
    'kms:ImportKeyMaterial',
    ImportKeyMaterialInput,
    async (engine: KmsEngine, i) => {
      refuseSymmetricOnlyMembers(await engine.describeKey(i.KeyId), i);
      return engine.importKeyMaterial(i.KeyId, {
        importToken: i.ImportToken,
        encryptedKeyMaterial: i.EncryptedKeyMaterial,
        expirationModel: i.ExpirationModel,
        validTo: i.ValidTo === undefined ? undefined : i.ValidTo * 1000,
        importType: i.ImportType,
        keyMaterialDescription: i.KeyMaterialDescription,
        keyMaterialId: i.KeyMaterialId,
      });
    },
    (r, engine) => ({ KeyId: engine.arnOf(r.key.keyId), KeyMaterialId: r.keyMaterialId }),
  ),

  DeleteImportedKeyMaterial: onKey(
    'kms:DeleteImportedKeyMaterial',
    DeleteImportedKeyMaterialInput,
    (engine: KmsEngine, i) => engine.deleteImportedKeyMaterial(i.KeyId, i.KeyMaterialId),
    (r, engine) => ({
      KeyId: engine.arnOf(r.key.keyId),
      ...(r.keyMaterialId !== undefined && { KeyMaterialId: r.keyMaterialId }),
    }),
  ),
};

/**
 * The key material entry ListKeyRotations adds for an EXTERNAL symmetric key with
 * IncludeKeyMaterial ALL_KEY_MATERIAL: Keysafe keeps one imported material per key, the current one.
 */
export function importedMaterialEntries(engine: KmsEngine, k: KeyRecord): object[] {
  if (k.origin !== 'EXTERNAL' || !k.imported || SPEC_INFO[k.keySpec].kind !== 'symmetric') return [];
  const m = k.imported;
  return [
    {
      KeyId: engine.arnOf(k.keyId),
      KeyMaterialId: m.keyMaterialId,
      ...(m.description !== undefined && { KeyMaterialDescription: m.description }),
      ImportState: m.present ? 'IMPORTED' : 'PENDING_IMPORT',
      KeyMaterialState: 'CURRENT',
      ExpirationModel: m.expirationModel,
      ...(m.validTo !== undefined && { ValidTo: epochSeconds(m.validTo) }),
    },
  ];
}
