// The KMS engine: key lifecycle, versions, rotation, aliases and every cryptographic operation.
import { aliasArn, keyArn, type Partition, parseKeyRef } from '../core/arn.js';
import { type Clock, DAY_MS } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { keyedLock, retryConflicts } from '../core/keyed-lock.js';
import type { RootKeyring } from '../crypto/index.js';
import {
  type AeadKey,
  type AsymmetricKey,
  type AsymmetricKeySpec,
  DecryptionError,
  digestLength,
  type EncryptionContext,
  encodeEncryptionContext,
  generateKeyPairInsecure,
  type MacAlgorithm,
  type MacKey,
  type MessageType,
  maxRsaPlaintext,
  newUuid,
  openCiphertext,
  parseCiphertextHeader,
  type RsaEncryptionAlgorithm,
  randomKeyBytesInsecure,
  type SigningAlgorithm,
  sealCiphertext,
} from '../crypto/index.js';
import type { Logger } from '../observability/logger.js';
import type { Page } from '../storage/index.js';
import { createKeyCache } from './key-cache.js';
import { type KeySpec, type KeyUsage, SPEC_INFO } from './key-specs.js';
import { generateMaterialInsecure } from './material.js';
import type { AliasRecord, InternalKeyRecord, KeyRecord, KeyVersionRecord, KmsStore, Tag } from './store.js';

export interface KmsEngineDeps {
  store: KmsStore;
  rootKeys: RootKeyring;
  clock: Clock;
  partition: Partition;
  /** How long a cached key record or alias may be served before it is read again (ms). */
  cacheTtlMs?: number;
  /** Where decisions about Keysafe's own keys are reported. */
  logger?: Logger;
}

export const SYMMETRIC_DEFAULT = 'SYMMETRIC_DEFAULT';
export const MAX_ON_DEMAND_ROTATIONS = 25;
export const DEFAULT_ROTATION_DAYS = 365;
const MAX_TAGS = 50;
/**
 * Alias namespaces no caller may create, re-point or delete: AWS's, and Keysafe's own (whose
 * aliases name the keys Keysafe uses for itself, for display only).
 */
export function isReservedAlias(name: string): boolean {
  return (
    name === 'alias/aws' ||
    name.startsWith('alias/aws/') ||
    name === 'alias/keysafe' ||
    name.startsWith('alias/keysafe/')
  );
}

/** Refuses a reserved alias name, for every caller: checked before any authorization, as AWS does. */
export function refuseReservedAlias(name: string): void {
  if (isReservedAlias(name)) {
    throw new AppError(
      'NotAuthorizedException',
      `Alias names that begin with alias/aws/ or alias/keysafe/ are reserved; ${name.slice(0, 256)} cannot be created, updated or deleted.`,
    );
  }
}

/** One message for every decryption failure, so failures reveal nothing about why. */
const INVALID_CIPHERTEXT = 'The ciphertext is invalid, or does not match its key or encryption context.';

export interface CreateKeyInput {
  description?: string;
  keyUsage?: KeyUsage;
  keySpec?: KeySpec;
  policy?: string;
  tags?: Tag[];
}

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

export interface DataKeyPair {
  keyId: string;
  publicKey: Buffer;
  privateKeyCiphertext: Buffer;
  privateKeyPlaintext: Buffer;
}

export interface RotationStatus {
  enabled: boolean;
  periodInDays?: number;
  nextRotationAt?: number;
}

export type KmsEngine = ReturnType<typeof createKmsEngine>;

export function createKmsEngine(deps: KmsEngineDeps) {
  const { store, rootKeys, clock, partition } = deps;
  const arnOf = (keyId: string) => keyArn(partition, keyId);
  const { resolveKeyId, loadKey, getKey, remember, forget, forgetAlias, forgetRecord, clear, material } =
    createKeyCache({
      store,
      rootKeys,
      clock,
      partition,
      ttlMs: deps.cacheTtlMs ?? 1000,
    });

  /**
   * Keysafe's own keys (session signing, default secrets key, Terraform state key) serve the
   * server only: no caller, the admin included, may use them or change them through the API.
   */
  function refuseInternal(key: KeyRecord): void {
    if (key.internalPurpose !== undefined) {
      throw new AppError(
        'NotAuthorizedException',
        `${arnOf(key.keyId)} is a key Keysafe uses for itself; it cannot be used or changed through the API.`,
      );
    }
  }

  /** Crypto operations need an enabled key of the right usage. */
  function requireUsable(key: KeyRecord, usage: KeyUsage, operation: string): void {
    if (key.state === 'Disabled') throw new AppError('DisabledException', `${arnOf(key.keyId)} is disabled.`);
    if (key.state === 'PendingDeletion') {
      throw new AppError('KMSInvalidStateException', `${arnOf(key.keyId)} is pending deletion.`);
    }
    if (key.keyUsage !== usage) {
      throw new AppError(
        'InvalidKeyUsageException',
        `${arnOf(key.keyId)} key usage is ${key.keyUsage} which is not valid for ${operation}.`,
      );
    }
  }

  /** An enabled symmetric encryption key, as the data-key operations need. */
  async function symmetricKey(ref: string, operation: string, asServer: boolean): Promise<KeyRecord> {
    const key = await getKey(ref);
    if (!asServer) refuseInternal(key);
    requireUsable(key, 'ENCRYPT_DECRYPT', operation);
    if (SPEC_INFO[key.keySpec].kind !== 'symmetric') {
      throw new AppError(
        'InvalidKeyUsageException',
        `${arnOf(key.keyId)} key spec is ${key.keySpec} which is not valid for ${operation}.`,
      );
    }
    return key;
  }

  function requireNotPendingDeletion(key: KeyRecord): void {
    if (key.state === 'PendingDeletion') {
      throw new AppError('KMSInvalidStateException', `${arnOf(key.keyId)} is pending deletion.`);
    }
  }

  function requireAlgorithm(key: KeyRecord, algorithm: string): void {
    const allowed = SPEC_INFO[key.keySpec].usages[key.keyUsage] ?? [];
    if (!allowed.includes(algorithm)) {
      throw new AppError(
        'InvalidKeyUsageException',
        `Algorithm ${algorithm} is incompatible with key spec ${key.keySpec}.`,
      );
    }
  }

  /** Key writes from this process queue per key; another process's conflicting write is retried. */
  const withKeyLock = keyedLock();

  /** Read-modify-write with optimistic concurrency: retried when another writer got there first. */
  async function mutate(ref: string, change: (k: KeyRecord) => KeyRecord): Promise<KeyRecord> {
    const keyId = await resolveKeyId(ref);
    const saved = await withKeyLock(keyId, () =>
      retryConflicts(async () => {
        const current = await loadKey(keyId, true);
        return store.updateKey(change({ ...current, tags: [...current.tags] }));
      }),
    );
    if (!saved) throw new AppError('ConflictException', `${arnOf(keyId)} is being changed concurrently; try again.`);
    return remember(saved);
  }

  /** Wraps new material under the root key, then zeroes it: only the wrapped copy lives on. */
  function wrapVersion(keyId: string, version: number, bytes: Buffer, rotationType?: 'AUTOMATIC' | 'ON_DEMAND') {
    const { rootKeyId, wrapped } = rootKeys.current.wrap(keyId, version, bytes);
    bytes.fill(0);
    const row: KeyVersionRecord = { keyId, version, rootKeyId, wrappedMaterial: wrapped, createdAt: clock.now() };
    if (rotationType) row.rotationType = rotationType;
    return row;
  }

  async function addVersion(ref: string, rotationType: 'AUTOMATIC' | 'ON_DEMAND'): Promise<KeyRecord> {
    const keyId = await resolveKeyId(ref);
    const saved = await withKeyLock(keyId, () =>
      retryConflicts(async () => {
        const current = await loadKey(keyId, true);
        const version = current.currentVersion + 1;
        const next: KeyRecord = { ...current, currentVersion: version };
        if (rotationType === 'ON_DEMAND') next.onDemandRotations = current.onDemandRotations + 1;
        if (rotationType === 'AUTOMATIC' && current.rotationEnabled) {
          next.nextRotationAt = clock.now() + (current.rotationPeriodInDays ?? DEFAULT_ROTATION_DAYS) * DAY_MS;
        }
        const bytes = generateMaterialInsecure(current.keySpec);
        return store.addKeyVersion(next, wrapVersion(keyId, version, bytes, rotationType));
      }),
    );
    if (!saved) throw new AppError('ConflictException', `${arnOf(keyId)} is being changed concurrently; try again.`);
    return remember(saved);
  }

  // --- symmetric encryption, shared by Encrypt, ReEncrypt and the data-key operations ---------

  async function sealSymmetric(key: KeyRecord, plaintext: Uint8Array, context?: EncryptionContext): Promise<Buffer> {
    const aead = (await material(key, key.currentVersion)) as AeadKey;
    return sealCiphertext(
      aead,
      { keyId: key.keyId, keyVersion: key.currentVersion },
      plaintext,
      encodeEncryptionContext(context),
    );
  }

  async function encryptWith(
    ref: string,
    plaintext: Uint8Array,
    context: EncryptionContext | undefined,
    algorithm: string | undefined,
    operation: string,
  ): Promise<EncryptResult> {
    const key = await getKey(ref);
    refuseInternal(key);
    requireUsable(key, 'ENCRYPT_DECRYPT', operation);
    if (SPEC_INFO[key.keySpec].kind === 'symmetric') {
      const alg = algorithm ?? SYMMETRIC_DEFAULT;
      requireAlgorithm(key, alg);
      return { keyId: arnOf(key.keyId), ciphertext: await sealSymmetric(key, plaintext, context), algorithm: alg };
    }
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
    const asym = (await material(key, key.currentVersion)) as AsymmetricKey;
    return {
      keyId: arnOf(key.keyId),
      ciphertext: asym.encrypt(algorithm as RsaEncryptionAlgorithm, plaintext),
      algorithm,
    };
  }

  async function decryptWith(
    blob: Uint8Array,
    context?: EncryptionContext,
    ref?: string,
    algorithm?: string,
    asServer = false,
  ): Promise<DecryptResult> {
    if (algorithm !== undefined && algorithm !== SYMMETRIC_DEFAULT) {
      // Asymmetric ciphertexts are bare RSA-OAEP: the caller must name the key.
      if (ref === undefined) {
        throw new AppError('ValidationException', 'KeyId is required to decrypt with an asymmetric algorithm.');
      }
      const key = await getKey(ref);
      if (!asServer) refuseInternal(key);
      requireUsable(key, 'ENCRYPT_DECRYPT', 'Decrypt');
      requireAlgorithm(key, algorithm);
      const asym = (await material(key, key.currentVersion)) as AsymmetricKey;
      try {
        return {
          keyId: arnOf(key.keyId),
          plaintext: asym.decrypt(algorithm as RsaEncryptionAlgorithm, blob),
          algorithm,
        };
      } catch {
        throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
      }
    }
    let header: ReturnType<typeof parseCiphertextHeader>;
    try {
      header = parseCiphertextHeader(blob);
    } catch {
      throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
    }
    if (ref !== undefined) {
      const named = await resolveKeyId(ref);
      if (named !== header.keyId) {
        throw new AppError(
          'IncorrectKeyException',
          'The key ID in the request does not identify a CMK that can perform this operation.',
        );
      }
    }
    let key: KeyRecord;
    try {
      key = await loadKey(header.keyId);
    } catch (e) {
      // A blob naming no key we know is just a bad blob; don't confirm which ids exist.
      if (e instanceof AppError && e.code === 'NotFoundException' && ref === undefined) {
        throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
      }
      throw e;
    }
    if (!asServer) refuseInternal(key);
    requireUsable(key, 'ENCRYPT_DECRYPT', 'Decrypt');
    if (SPEC_INFO[key.keySpec].kind !== 'symmetric' || header.keyVersion > key.currentVersion) {
      throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
    }
    try {
      const aead = (await material(key, header.keyVersion)) as AeadKey;
      return {
        keyId: arnOf(key.keyId),
        plaintext: openCiphertext(aead, blob, encodeEncryptionContext(context)),
        algorithm: SYMMETRIC_DEFAULT,
      };
    } catch (e) {
      if (e instanceof DecryptionError) throw new AppError('InvalidCiphertextException', INVALID_CIPHERTEXT);
      throw e;
    }
  }

  function checkSigning(key: KeyRecord, op: string, algorithm: string, message: Uint8Array, messageType: MessageType) {
    refuseInternal(key);
    requireUsable(key, 'SIGN_VERIFY', op);
    requireAlgorithm(key, algorithm);
    const expected = digestLength(algorithm as SigningAlgorithm);
    if (messageType === 'DIGEST') {
      if (expected === undefined) {
        throw new AppError('ValidationException', `${algorithm} requires MessageType RAW.`);
      }
      if (message.length !== expected) {
        throw new AppError(
          'ValidationException',
          `Digest is invalid length for algorithm ${algorithm}: expected ${expected} bytes.`,
        );
      }
    }
  }

  async function validatedAlias(name: string, targetRef: string): Promise<KeyRecord> {
    if (!/^alias\/[a-zA-Z0-9:/_-]+$/.test(name) || name.length > 256) {
      throw new AppError('InvalidAliasNameException', `Alias name ${name} is not valid.`);
    }
    refuseReservedAlias(name);
    const target = parseKeyRef(partition, targetRef);
    if (target.kind === 'alias') {
      throw new AppError('ValidationException', 'TargetKeyId must be a key id or key ARN, not an alias.');
    }
    const key = await getKey(targetRef, true);
    refuseInternal(key);
    requireNotPendingDeletion(key);
    return key;
  }

  async function macWith(ref: string, message: Uint8Array, algorithm: string, asServer: boolean) {
    const key = await getKey(ref);
    if (!asServer) refuseInternal(key);
    requireUsable(key, 'GENERATE_VERIFY_MAC', 'GenerateMac');
    requireAlgorithm(key, algorithm);
    const mac = (await material(key, key.currentVersion)) as MacKey;
    return { keyId: arnOf(key.keyId), mac: mac.generate(algorithm as MacAlgorithm, message) };
  }

  async function dataKeyWith(
    ref: string,
    numberOfBytes: number,
    context: EncryptionContext | undefined,
    asServer: boolean,
  ) {
    const key = await symmetricKey(ref, 'GenerateDataKey', asServer);
    const plaintext = randomKeyBytesInsecure(numberOfBytes);
    return { keyId: arnOf(key.keyId), plaintext, ciphertext: await sealSymmetric(key, plaintext, context) };
  }

  /** Makes a key; Keysafe's own carry their purpose, which no API call can set or clear. */
  async function insertNewKey(input: CreateKeyInput, internalPurpose?: string): Promise<KeyRecord> {
    const keySpec = input.keySpec ?? 'SYMMETRIC_DEFAULT';
    const info = SPEC_INFO[keySpec];
    if (input.keyUsage === undefined && info.kind === 'hmac') {
      throw new AppError(
        'ValidationException',
        'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.',
      );
    }
    const keyUsage =
      input.keyUsage ??
      (info.kind === 'asymmetric' && !info.usages.ENCRYPT_DECRYPT ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT');
    if (!info.usages[keyUsage]) {
      throw new AppError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}`);
    }
    const tags = mergeTags([], input.tags ?? []);
    const keyId = newUuid();
    const now = clock.now();
    const record: KeyRecord = {
      keyId,
      revision: 1,
      createdAt: now,
      description: input.description ?? '',
      keyUsage,
      keySpec,
      state: 'Enabled',
      currentVersion: 1,
      rotationEnabled: false,
      onDemandRotations: 0,
      policy: input.policy ?? defaultKeyPolicy(partition),
      tags,
    };
    if (internalPurpose !== undefined) record.internalPurpose = internalPurpose;
    await store.insertKey(record, wrapVersion(keyId, 1, generateMaterialInsecure(keySpec)));
    return remember(record);
  }

  /**
   * What only the server itself calls, never the API: Keysafe's own keys and aliases. The API
   * layer reaches the methods outside this object, which refuse them.
   */
  const internal = {
    logger: deps.logger,
    now: () => clock.now(),
    createKey: insertNewKey,
    generateMac: (ref: string, message: Uint8Array, algorithm: string) => macWith(ref, message, algorithm, true),
    generateDataKey: (ref: string, numberOfBytes: number, context?: EncryptionContext) =>
      dataKeyWith(ref, numberOfBytes, context, true),
    /** Decrypts what the server sealed, under its own key or a customer's. */
    decrypt: (blob: Uint8Array, context?: EncryptionContext) => decryptWith(blob, context, undefined, undefined, true),
    getInternalKey: (purpose: string) => store.getInternalKey(purpose),
    recordInternalKey: (record: InternalKeyRecord) => store.recordInternalKey(record),
    getAlias: (name: string) => store.getAlias(name),
    /** Marks a key as Keysafe's own (its purpose) with the given key policy. */
    claimKey: (keyId: string, purpose: string, policy: string) =>
      mutate(keyId, (k) => ({ ...k, internalPurpose: purpose, policy })),
    /** Retires a key made for a purpose another replica recorded first. */
    retireKey: (keyId: string) =>
      mutate(keyId, (k) => {
        const { internalPurpose: _i, ...rest } = k;
        return { ...rest, state: 'PendingDeletion', pendingWindowInDays: 7, deletionAt: clock.now() + 7 * DAY_MS };
      }),
    /** Points one of Keysafe's reserved aliases at its key (creating it), for display. */
    async pointAlias(name: string, keyId: string): Promise<void> {
      const now = clock.now();
      if (!(await store.createAlias({ name, keyId, createdAt: now, updatedAt: now }))) {
        const existing = await store.getAlias(name);
        if (existing?.keyId !== keyId) await store.updateAlias(name, keyId, now);
      }
      forgetAlias(name);
    },
  };

  return {
    partition,
    arnOf,
    internal,

    // --- lifecycle ----------------------------------------------------------------------------

    createKey: (input: CreateKeyInput): Promise<KeyRecord> => insertNewKey(input),

    describeKey: (ref: string) => getKey(ref, true),

    /** The key behind a reference, from the cache: what authorization reads on every request. */
    cachedKey: (ref: string) => getKey(ref),

    /** Drops what this replica cached about a key or alias another process changed. */
    invalidateKey: forgetRecord,
    invalidateAlias: forgetAlias,
    invalidateAll: clear,

    listKeys: (limit: number, after?: string): Promise<Page<KeyRecord>> => store.listKeys(limit, after),

    updateKeyDescription: (ref: string, description: string) =>
      mutate(ref, (k) => {
        refuseInternal(k);
        requireNotPendingDeletion(k);
        return { ...k, description };
      }),

    enableKey: (ref: string) =>
      mutate(ref, (k) => {
        requireNotPendingDeletion(k);
        return { ...k, state: 'Enabled' };
      }),

    disableKey: (ref: string) =>
      mutate(ref, (k) => {
        requireNotPendingDeletion(k);
        return { ...k, state: 'Disabled' };
      }),

    scheduleKeyDeletion: (ref: string, pendingWindowInDays: number) =>
      mutate(ref, (k) => {
        refuseInternal(k);
        requireNotPendingDeletion(k);
        return {
          ...k,
          state: 'PendingDeletion',
          pendingWindowInDays,
          deletionAt: clock.now() + pendingWindowInDays * DAY_MS,
        };
      }),

    cancelKeyDeletion: (ref: string) =>
      mutate(ref, (k) => {
        refuseInternal(k);
        if (k.state !== 'PendingDeletion') {
          throw new AppError('KMSInvalidStateException', `${arnOf(k.keyId)} is not pending deletion.`);
        }
        const { deletionAt: _d, pendingWindowInDays: _p, ...rest } = k;
        return { ...rest, state: 'Disabled' };
      }),

    // --- aliases ------------------------------------------------------------------------------

    async createAlias(name: string, targetRef: string): Promise<void> {
      const key = await validatedAlias(name, targetRef);
      const now = clock.now();
      const created = await store.createAlias({ name, keyId: key.keyId, createdAt: now, updatedAt: now });
      // Either way the alias exists now: a cached "not found" (another replica made it) must go.
      forgetAlias(name);
      if (!created) {
        throw new AppError(
          'AlreadyExistsException',
          `An alias with the name ${aliasArn(partition, name)} already exists`,
        );
      }
    },

    async updateAlias(name: string, targetRef: string): Promise<void> {
      const key = await validatedAlias(name, targetRef);
      const existing = await store.getAlias(name);
      if (!existing) throw new AppError('NotFoundException', `Alias ${aliasArn(partition, name)} is not found.`);
      const current = await store.getKey(existing.keyId);
      if (current && (current.keyUsage !== key.keyUsage || kindOf(current) !== kindOf(key))) {
        throw new AppError(
          'ValidationException',
          'An alias can only point to a key of the same key type and key usage as its current key.',
        );
      }
      if (!(await store.updateAlias(name, key.keyId, clock.now()))) {
        throw new AppError('NotFoundException', `Alias ${aliasArn(partition, name)} is not found.`);
      }
      forgetAlias(name);
    },

    async deleteAlias(name: string): Promise<void> {
      refuseReservedAlias(name);
      if (!(await store.deleteAlias(name))) {
        throw new AppError('NotFoundException', `Alias ${aliasArn(partition, name)} is not found.`);
      }
      forgetAlias(name);
    },

    async listAliases(limit: number, after?: string, keyRef?: string): Promise<Page<AliasRecord>> {
      const keyId = keyRef === undefined ? undefined : (await getKey(keyRef)).keyId;
      return store.listAliases(limit, after, keyId);
    },

    // --- symmetric and asymmetric encryption ----------------------------------------------------

    encrypt: (ref: string, plaintext: Uint8Array, context?: EncryptionContext, algorithm?: string) =>
      encryptWith(ref, plaintext, context, algorithm, 'Encrypt'),

    decrypt: (blob: Uint8Array, context?: EncryptionContext, ref?: string, algorithm?: string) =>
      decryptWith(blob, context, ref, algorithm),

    /** Throws the error Decrypt would for a key that may not decrypt now (disabled, pending deletion, gone). */
    async requireDecryptable(ref: string): Promise<void> {
      requireUsable(await getKey(ref), 'ENCRYPT_DECRYPT', 'Decrypt');
    },

    /** Throws unless the key may compute MACs now: what a cached MAC verification must still honour. */
    async requireMacKey(ref: string): Promise<void> {
      requireUsable(await getKey(ref), 'GENERATE_VERIFY_MAC', 'VerifyMac');
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
      const source = await decryptWith(input.blob, input.sourceContext, input.sourceKeyRef, input.sourceAlgorithm);
      try {
        const destination = await encryptWith(
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

    generateDataKey: (ref: string, numberOfBytes: number, context?: EncryptionContext) =>
      dataKeyWith(ref, numberOfBytes, context, false),

    async generateDataKeyPair(
      ref: string,
      pairSpec: AsymmetricKeySpec,
      context?: EncryptionContext,
    ): Promise<DataKeyPair> {
      const key = await symmetricKey(ref, 'GenerateDataKeyPair', false);
      const pair = generateKeyPairInsecure(pairSpec);
      return {
        keyId: arnOf(key.keyId),
        publicKey: pair.publicKeyDer,
        privateKeyPlaintext: pair.privateKeyDer,
        privateKeyCiphertext: await sealSymmetric(key, pair.privateKeyDer, context),
      };
    },

    // --- signatures and MACs --------------------------------------------------------------------

    async sign(ref: string, message: Uint8Array, messageType: MessageType, algorithm: string) {
      const key = await getKey(ref);
      checkSigning(key, 'Sign', algorithm, message, messageType);
      const asym = (await material(key, key.currentVersion)) as AsymmetricKey;
      return { keyId: arnOf(key.keyId), signature: asym.sign(algorithm as SigningAlgorithm, message, messageType) };
    },

    async verify(ref: string, message: Uint8Array, messageType: MessageType, algorithm: string, signature: Uint8Array) {
      const key = await getKey(ref);
      checkSigning(key, 'Verify', algorithm, message, messageType);
      const asym = (await material(key, key.currentVersion)) as AsymmetricKey;
      if (!asym.verify(algorithm as SigningAlgorithm, message, messageType, signature)) {
        throw new AppError('KMSInvalidSignatureException', 'The signature is not valid for this message and key.');
      }
      return { keyId: arnOf(key.keyId) };
    },

    async getPublicKey(ref: string) {
      const key = await getKey(ref);
      if (key.state === 'Disabled') throw new AppError('DisabledException', `${arnOf(key.keyId)} is disabled.`);
      requireNotPendingDeletion(key);
      if (SPEC_INFO[key.keySpec].kind !== 'asymmetric') {
        throw new AppError('UnsupportedOperationException', `${arnOf(key.keyId)} key type is not asymmetric.`);
      }
      const asym = (await material(key, key.currentVersion)) as AsymmetricKey;
      return { key, publicKey: asym.publicKeyDer() };
    },

    generateMac: (ref: string, message: Uint8Array, algorithm: string) => macWith(ref, message, algorithm, false),

    async verifyMac(ref: string, message: Uint8Array, algorithm: string, tag: Uint8Array) {
      const key = await getKey(ref);
      refuseInternal(key);
      requireUsable(key, 'GENERATE_VERIFY_MAC', 'VerifyMac');
      requireAlgorithm(key, algorithm);
      const mac = (await material(key, key.currentVersion)) as MacKey;
      if (!mac.verify(algorithm as MacAlgorithm, message, tag))
        throw new AppError('KMSInvalidMacException', 'The MAC is not valid for this message and key.');
      return { keyId: arnOf(key.keyId) };
    },

    // --- rotation -----------------------------------------------------------------------------

    enableKeyRotation: (ref: string, periodInDays = DEFAULT_ROTATION_DAYS) =>
      mutate(ref, (k) => {
        refuseInternal(k);
        requireRotatable(k);
        return {
          ...k,
          rotationEnabled: true,
          rotationPeriodInDays: periodInDays,
          nextRotationAt: clock.now() + periodInDays * DAY_MS,
        };
      }),

    disableKeyRotation: (ref: string) =>
      mutate(ref, (k) => {
        refuseInternal(k);
        requireRotatable(k);
        const { nextRotationAt: _n, rotationPeriodInDays: _p, ...rest } = k;
        return { ...rest, rotationEnabled: false };
      }),

    async getKeyRotationStatus(ref: string): Promise<{ key: KeyRecord; status: RotationStatus }> {
      const key = await getKey(ref, true);
      requireNotPendingDeletion(key);
      const status: RotationStatus = { enabled: key.rotationEnabled };
      if (key.rotationEnabled) {
        status.periodInDays = key.rotationPeriodInDays ?? DEFAULT_ROTATION_DAYS;
        if (key.nextRotationAt !== undefined) status.nextRotationAt = key.nextRotationAt;
      }
      return { key, status };
    },

    async rotateKeyOnDemand(ref: string): Promise<KeyRecord> {
      const key = await getKey(ref, true);
      refuseInternal(key);
      requireRotatable(key);
      if (key.onDemandRotations >= MAX_ON_DEMAND_ROTATIONS) {
        throw new AppError(
          'LimitExceededException',
          `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${arnOf(key.keyId)}`,
        );
      }
      return addVersion(key.keyId, 'ON_DEMAND');
    },

    async listKeyRotations(ref: string): Promise<{ key: KeyRecord; rotations: KeyVersionRecord[] }> {
      const key = await getKey(ref, true);
      if (SPEC_INFO[key.keySpec].kind !== 'symmetric') {
        throw new AppError('UnsupportedOperationException', `${arnOf(key.keyId)} does not support rotation.`);
      }
      const rotations = (await store.listKeyVersions(key.keyId)).filter((v) => v.rotationType !== undefined);
      return { key, rotations };
    },

    // --- tags and policies --------------------------------------------------------------------

    tagResource: (ref: string, tags: Tag[]) =>
      mutate(ref, (k) => {
        refuseInternal(k);
        requireNotPendingDeletion(k);
        return { ...k, tags: mergeTags(k.tags, tags) };
      }),

    untagResource: (ref: string, tagKeys: string[]) =>
      mutate(ref, (k) => {
        refuseInternal(k);
        requireNotPendingDeletion(k);
        return { ...k, tags: k.tags.filter((t) => !tagKeys.includes(t.TagKey)) };
      }),

    async listResourceTags(ref: string): Promise<Tag[]> {
      return (await getKey(ref, true)).tags;
    },

    async getKeyPolicy(ref: string): Promise<string> {
      return (await getKey(ref, true)).policy;
    },

    putKeyPolicy: (ref: string, policy: string) =>
      mutate(ref, (k) => {
        refuseInternal(k);
        requireNotPendingDeletion(k);
        return { ...k, policy };
      }),

    // --- schedulers and maintenance -------------------------------------------------------------

    /**
     * Runs the work that is due: automatic rotations and deletions whose window ended. Safe to
     * call from several replicas at once: each change is conditional on the revision read, so
     * exactly one caller performs it and the others see a conflict and skip.
     */
    async runDueJobs(limit = 100): Promise<{ rotated: number; deleted: number }> {
      const now = clock.now();
      let rotated = 0;
      let deleted = 0;
      for (const key of await store.dueKeys(now, limit)) {
        if (key.state === 'PendingDeletion' && key.deletionAt !== undefined && key.deletionAt <= now) {
          if (await store.deleteKey(key.keyId, key.revision)) {
            deleted++;
            forget(key.keyId);
          }
        } else if (key.state === 'Enabled' && key.nextRotationAt !== undefined && key.nextRotationAt <= now) {
          const version = key.currentVersion + 1;
          const next: KeyRecord = {
            ...key,
            currentVersion: version,
            nextRotationAt: now + (key.rotationPeriodInDays ?? DEFAULT_ROTATION_DAYS) * DAY_MS,
          };
          const bytes = generateMaterialInsecure(key.keySpec);
          const saved = await store.addKeyVersion(next, wrapVersion(key.keyId, version, bytes, 'AUTOMATIC'));
          if (saved) {
            rotated++;
            remember(saved);
          }
        }
      }
      return { rotated, deleted };
    },

    /**
     * Re-wraps every key version under the keyring's current root key, in batches. Reads keep
     * working throughout: unwrapped material stays cached and the old root key stays in the
     * keyring until the caller retires it.
     */
    async rewrapUnderCurrentRootKey(batch = 200): Promise<number> {
      const target = rootKeys.current;
      let count = 0;
      for (;;) {
        const rows = await store.versionsNotWrappedBy(target.id, batch);
        if (rows.length === 0) return count;
        let progressed = false;
        for (const row of rows) {
          const from = rootKeys.get(row.rootKeyId);
          if (!from) {
            throw new AppError(
              'KMSInternalException',
              `key material is wrapped under unknown root key ${row.rootKeyId}`,
            );
          }
          const bytes = from.unwrap(row.keyId, row.version, row.wrappedMaterial);
          const next = target.wrap(row.keyId, row.version, bytes);
          bytes.fill(0);
          if (
            await store.rewrapKeyVersion(row.keyId, row.version, row.rootKeyId, {
              rootKeyId: next.rootKeyId,
              wrappedMaterial: next.wrapped,
            })
          ) {
            count++;
            progressed = true;
          }
        }
        if (!progressed) return count;
      }
    },
  };

  function requireRotatable(k: KeyRecord): void {
    if (k.state === 'Disabled') throw new AppError('DisabledException', `${arnOf(k.keyId)} is disabled.`);
    requireNotPendingDeletion(k);
    if (SPEC_INFO[k.keySpec].kind !== 'symmetric') {
      throw new AppError('UnsupportedOperationException', `${arnOf(k.keyId)} does not support automatic rotation.`);
    }
  }
}

function kindOf(k: KeyRecord): string {
  return SPEC_INFO[k.keySpec].kind;
}

function mergeTags(existing: readonly Tag[], added: readonly Tag[]): Tag[] {
  const seen = new Set<string>();
  for (const t of added) {
    if (t.TagKey.startsWith('aws:')) throw new AppError('TagException', 'Tags beginning with aws: are reserved');
    if (seen.has(t.TagKey)) throw new AppError('TagException', 'Duplicate tag keys');
    seen.add(t.TagKey);
  }
  const merged = new Map(existing.map((t) => [t.TagKey, t.TagValue]));
  for (const t of added) merged.set(t.TagKey, t.TagValue);
  if (merged.size > MAX_TAGS) throw new AppError('TagException', 'Too many tags');
  return [...merged].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}

/** AWS's default key policy: the account root may do everything (enforced by the access-control issue). */
export function defaultKeyPolicy(p: Partition): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${p.accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}
