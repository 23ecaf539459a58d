// Imported key material (BYOK): GetParametersForImport's wrapping keys and stateless import tokens,
// ImportKeyMaterial, DeleteImportedKeyMaterial, and the expiry of material the scheduler enforces.
import { DAY_MS } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import {
  DecryptionError,
  generateWrappingKeyPair,
  keyMaterialId,
  purposeAad,
  unwrapImportedMaterialInsecure,
  WRAPPING_ALGORITHMS,
  type WrappingAlgorithm,
  type WrappingKeySpec,
} from '../../crypto/index.js';
import { isAsymmetricSpec, type KeySpec, SPEC_INFO } from '../key-specs.js';
import { loadMaterialInsecure } from '../material.js';
import type { ExpirationModel, ImportedMaterial, KeyRecord } from '../store.js';
import type { KmsContext } from './context.js';
import { refuseInternal } from './guards.js';
import { wrapVersion, writeKey } from './key-writes.js';

/** How long a public key and import token may be used (AWS: 24 hours). */
export const IMPORT_PARAMETERS_VALID_MS = DAY_MS;
/** The latest ValidTo ImportKeyMaterial accepts, from the request (AWS: 365 days). */
export const MAX_VALID_TO_MS = 365 * DAY_MS;
/** Keysafe keeps one material per EXTERNAL key, as version 1: ciphertexts name it. */
const MATERIAL_VERSION = 1;
const TOKEN_FORMAT = 1;

// Lengths AWS accepts for imported HMAC material, in bytes.
const HMAC_MATERIAL_BYTES: Partial<Record<KeySpec, [number, number]>> = {
  HMAC_224: [28, 64],
  HMAC_256: [32, 64],
  HMAC_384: [48, 128],
  HMAC_512: [64, 128],
};

export interface ImportParameters {
  keyId: string;
  importToken: Buffer;
  publicKey: Buffer;
  parametersValidTo: number;
}

export interface ImportMaterialInput {
  importToken: Uint8Array;
  encryptedKeyMaterial: Uint8Array;
  expirationModel?: ExpirationModel | undefined;
  /** ms */
  validTo?: number | undefined;
  importType?: 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL' | undefined;
  keyMaterialDescription?: string | undefined;
  keyMaterialId?: string | undefined;
}

const tokenAad = (keyId: string) => purposeAad('keysafe:import-token:v1', keyId);

/**
 * The import token: `format ‖ len ‖ root key id ‖ sealed(algorithm ‖ valid-to ‖ PKCS#8 wrapping key)`,
 * sealed under the root key with the KMS key id as associated data. Nothing is stored: a token
 * opens only for the key it was made for, and only while its root key is in the keyring.
 */
function sealToken(ctx: KmsContext, keyId: string, algorithm: WrappingAlgorithm, validTo: number, der: Buffer): Buffer {
  const root = ctx.rootKeys.current;
  const payload = Buffer.alloc(9 + der.length);
  payload.writeUInt8(WRAPPING_ALGORITHMS.indexOf(algorithm), 0);
  payload.writeDoubleBE(validTo, 1);
  der.copy(payload, 9);
  const rootId = Buffer.from(root.id, 'utf8');
  try {
    return Buffer.concat([Buffer.of(TOKEN_FORMAT, rootId.length), rootId, root.sealBlob(payload, tokenAad(keyId))]);
  } finally {
    payload.fill(0);
    der.fill(0);
  }
}

const invalidToken = () =>
  new AppError('InvalidImportTokenException', 'The import token is invalid or was not issued for this KMS key.');

/** The token's wrapping key and algorithm; refused when it is another key's, altered, or expired. */
function openToken(ctx: KmsContext, keyId: string, token: Uint8Array) {
  const buf = Buffer.from(token);
  if (buf.length < 2 || buf[0] !== TOKEN_FORMAT || buf.length < 2 + buf[1]!) throw invalidToken();
  const root = ctx.rootKeys.get(buf.subarray(2, 2 + buf[1]!).toString('utf8'));
  if (!root) throw invalidToken();
  let payload: Buffer;
  try {
    payload = root.openBlob(buf.subarray(2 + buf[1]!), tokenAad(keyId));
  } catch {
    throw invalidToken();
  }
  const algorithm = WRAPPING_ALGORITHMS[payload.readUInt8(0)];
  const validTo = payload.readDoubleBE(1);
  if (algorithm === undefined) throw invalidToken();
  if (ctx.clock.now() > validTo) {
    payload.fill(0);
    throw new AppError(
      'ExpiredImportTokenException',
      'The import token has expired. Use GetParametersForImport to get a new one.',
    );
  }
  return { algorithm, privateKeyDer: payload.subarray(9), payload };
}

function requireExternal(ctx: KmsContext, key: KeyRecord): void {
  if (key.origin !== 'EXTERNAL') {
    throw new AppError(
      'UnsupportedOperationException',
      `${ctx.arnOf(key.keyId)} origin is AWS_KMS which is not valid for this operation.`,
    );
  }
}

function requireState(ctx: KmsContext, key: KeyRecord, allowed: readonly string[]): void {
  if (!allowed.includes(key.state)) {
    const what =
      key.state === 'PendingDeletion' ? 'pending deletion' : key.state === 'Disabled' ? 'disabled' : 'pending import';
    throw new AppError('KMSInvalidStateException', `${ctx.arnOf(key.keyId)} is ${what}.`);
  }
}

/** ValidTo and ExpirationModel as AWS pairs them: EXPIRES (the default) needs a ValidTo within 365 days. */
function expiryOf(ctx: KmsContext, input: ImportMaterialInput): Pick<ImportedMaterial, 'expirationModel' | 'validTo'> {
  const model = input.expirationModel ?? 'KEY_MATERIAL_EXPIRES';
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
    if (input.validTo !== undefined) {
      throw new AppError(
        'ValidationException',
        'A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE',
      );
    }
    return { expirationModel: model };
  }
  if (input.validTo === undefined) {
    throw new AppError(
      'ValidationException',
      'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES',
    );
  }
  const now = ctx.clock.now();
  if (input.validTo <= now) throw new AppError('ValidationException', 'The validTo date must be in the future.');
  if (input.validTo > now + MAX_VALID_TO_MS) {
    throw new AppError('ValidationException', 'The validTo date must be no more than 365 days from now.');
  }
  return { expirationModel: model, validTo: input.validTo };
}

/** Refuses material that cannot be this key's: wrong length, or not a private key of its spec. */
function checkMaterial(spec: KeySpec, material: Buffer): void {
  const wrong = () =>
    new AppError('IncorrectKeyMaterialException', `The key material is not valid for key spec ${spec}.`);
  const kind = SPEC_INFO[spec].kind;
  if (kind === 'symmetric' && material.length !== 32) throw wrong();
  const range = HMAC_MATERIAL_BYTES[spec];
  if (kind === 'hmac' && (!range || material.length < range[0] || material.length > range[1])) throw wrong();
  if (isAsymmetricSpec(spec)) {
    try {
      loadMaterialInsecure(spec, Buffer.from(material));
    } catch {
      throw wrong();
    }
  }
}

/** The checks a re-import makes: the same material, and no second material (Keysafe keeps one per key). */
function checkReimport(ctx: KmsContext, key: KeyRecord, id: string, input: ImportMaterialInput): void {
  if (input.keyMaterialId !== undefined && input.importType === 'NEW_KEY_MATERIAL') {
    throw new AppError('ValidationException', 'KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL.');
  }
  if (key.imported === undefined) {
    if (input.importType === 'EXISTING_KEY_MATERIAL' || input.keyMaterialId !== undefined) {
      throw new AppError('IncorrectKeyMaterialException', `${ctx.arnOf(key.keyId)} has no key material to re-import.`);
    }
    return;
  }
  if (input.importType === 'NEW_KEY_MATERIAL') {
    throw new AppError(
      'UnsupportedOperationException',
      'Keysafe does not import new key material into a key that has key material (on-demand rotation of imported material).',
    );
  }
  if (id !== key.imported.keyMaterialId || (input.keyMaterialId !== undefined && input.keyMaterialId !== id)) {
    throw new AppError(
      'IncorrectKeyMaterialException',
      'The key material is not the same key material that was previously imported into this KMS key.',
    );
  }
}

/** Unwraps what the caller sent with the token's private key; the material is the caller's to zero. */
function unwrapMaterial(ctx: KmsContext, key: KeyRecord, input: ImportMaterialInput): Buffer {
  const token = openToken(ctx, key.keyId, input.importToken);
  try {
    return unwrapImportedMaterialInsecure(token.privateKeyDer, token.algorithm, input.encryptedKeyMaterial);
  } catch (e) {
    if (!(e instanceof DecryptionError)) throw e;
    throw new AppError(
      'InvalidCiphertextException',
      'The encrypted key material could not be unwrapped with the import parameters.',
    );
  } finally {
    token.payload.fill(0);
  }
}

/** Records the material gone (deleted or expired): the key awaits a re-import unless it is being deleted. */
const withoutMaterial = (current: KeyRecord): KeyRecord => ({
  ...current,
  state: current.state === 'PendingDeletion' ? 'PendingDeletion' : 'PendingImport',
  imported: { ...current.imported!, present: false },
});

/** The scheduler's half: deletes material whose ValidTo passed, if the revision still matches (else another replica did). */
export async function expireMaterial(ctx: KmsContext, key: KeyRecord): Promise<boolean> {
  const saved = await ctx.store.deleteKeyMaterial(withoutMaterial(key), MATERIAL_VERSION);
  if (!saved) return false;
  ctx.keys.remember(saved);
  ctx.keys.forgetMaterial(key.keyId);
  return true;
}

/** GetParametersForImport: a fresh wrapping key pair, its private half sealed into the import token. */
async function getParametersForImport(
  ctx: KmsContext,
  ref: string,
  algorithm: WrappingAlgorithm,
  spec: WrappingKeySpec,
): Promise<ImportParameters> {
  const key = await ctx.keys.getKey(ref, true);
  refuseInternal(ctx, key);
  requireExternal(ctx, key);
  requireState(ctx, key, ['Enabled', 'Disabled', 'PendingImport']);
  const pair = await generateWrappingKeyPair(spec);
  const parametersValidTo = ctx.clock.now() + IMPORT_PARAMETERS_VALID_MS;
  return {
    keyId: ctx.arnOf(key.keyId),
    importToken: sealToken(ctx, key.keyId, algorithm, parametersValidTo, pair.privateKeyDer),
    publicKey: pair.publicKeyDer,
    parametersValidTo,
  };
}

/** One attempt of writeKey: re-checks the latest record, then stores the material and the key Enabled. */
function storeMaterial(
  ctx: KmsContext,
  current: KeyRecord,
  id: string,
  input: ImportMaterialInput,
  expiry: Pick<ImportedMaterial, 'expirationModel' | 'validTo'>,
  material: Buffer,
): Promise<KeyRecord | undefined> {
  requireState(ctx, current, ['Enabled', 'PendingImport']);
  checkReimport(ctx, current, id, input);
  const description = input.keyMaterialDescription ?? current.imported?.description;
  const imported: ImportedMaterial = {
    keyMaterialId: id,
    present: true,
    ...expiry,
    importedAt: ctx.clock.now(),
  };
  if (description !== undefined) imported.description = description;
  const next: KeyRecord = { ...current, state: 'Enabled', imported };
  // wrapVersion zeroes what it wraps: each attempt wraps its own copy.
  const row = wrapVersion(ctx, current.keyId, MATERIAL_VERSION, Buffer.from(material));
  return ctx.store.putKeyMaterial(next, row);
}

async function importKeyMaterial(
  ctx: KmsContext,
  ref: string,
  input: ImportMaterialInput,
): Promise<{ key: KeyRecord; keyMaterialId: string }> {
  const key = await ctx.keys.getKey(ref, true);
  refuseInternal(ctx, key);
  requireExternal(ctx, key);
  requireState(ctx, key, ['Enabled', 'PendingImport']);
  const expiry = expiryOf(ctx, input);
  const material = unwrapMaterial(ctx, key, input);
  try {
    checkMaterial(key.keySpec, material);
    const id = keyMaterialId(key.keyId, material);
    checkReimport(ctx, key, id, input);
    const saved = await writeKey(ctx, key.keyId, (current) => storeMaterial(ctx, current, id, input, expiry, material));
    return { key: saved, keyMaterialId: id };
  } finally {
    material.fill(0);
  }
}

async function deleteImportedKeyMaterial(
  ctx: KmsContext,
  ref: string,
  materialId: string | undefined,
): Promise<{ key: KeyRecord; keyMaterialId?: string }> {
  const saved = await writeKey(ctx, ref, async (current) => {
    refuseInternal(ctx, current);
    requireExternal(ctx, current);
    if (materialId !== undefined && materialId !== current.imported?.keyMaterialId) {
      throw new AppError(
        'NotFoundException',
        `Key material ${materialId} is not associated with ${ctx.arnOf(current.keyId)}.`,
      );
    }
    // Nothing to delete: the answer is the same as after a deletion.
    if (!current.imported?.present) return current;
    return ctx.store.deleteKeyMaterial(withoutMaterial(current), MATERIAL_VERSION);
  });
  ctx.keys.forgetMaterial(saved.keyId);
  return saved.imported ? { key: saved, keyMaterialId: saved.imported.keyMaterialId } : { key: saved };
}

export function importOperations(ctx: KmsContext) {
  return {
    getParametersForImport: (
      ref: string,
      algorithm: WrappingAlgorithm,
      spec: WrappingKeySpec,
    ): Promise<ImportParameters> => getParametersForImport(ctx, ref, algorithm, spec),

    importKeyMaterial: (ref: string, input: ImportMaterialInput): Promise<{ key: KeyRecord; keyMaterialId: string }> =>
      importKeyMaterial(ctx, ref, input),

    deleteImportedKeyMaterial: (
      ref: string,
      materialId?: string,
    ): Promise<{ key: KeyRecord; keyMaterialId?: string }> => deleteImportedKeyMaterial(ctx, ref, materialId),
  };
}
