// Every KMS operation over real HTTP with random and mutated inputs: never a 5xx, always a documented
// `__type`, no state change from a refused call, no stored plaintext in any error body, log or audit record.
import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { kmsOperations } from '../../src/kms/api.js';
import { KEY_SPECS, SIGNING_ALGORITHMS } from '../../src/kms/key-specs.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  type Answer,
  awsJson,
  expectWellFormed,
  fieldNamesIn,
  fuzzTimeout,
  httpRuns,
  type Json,
  KMS_CODES,
  type MutationSpace,
  mutatedInput,
} from './support.js';

let server: TestServer;
/** Plaintexts stored under fixture keys (and their base64): must never appear in an error, log or audit record. */
const canaries: string[] = [];

interface Key {
  keyId: string;
  arn: string;
}
const keys = {} as Record<
  'sym' | 'victim' | 'rsaEnc' | 'rsaSign' | 'ecc' | 'ed' | 'hmac' | 'agree' | 'ext' | 'mrk',
  Key
>;
const blobs = {} as Record<
  'ciphertext' | 'rsaCiphertext' | 'signature' | 'edSignature' | 'mac' | 'importToken' | 'keyMaterial',
  string
>;
/** A grant token to retire and a grant id to revoke (each valid until a run succeeds). */
const grants = {} as Record<'retire' | 'revoke', string>;
let defaultPolicy = '';
let account = '';
const ALIASES = { 'alias/fuzz-sym': 'sym', 'alias/fuzz-victim': 'victim' } as const;

const MESSAGE = Buffer.from('fuzz message').toString('base64');
/** A peer's P-256 public key (DER SPKI, base64) for DeriveSharedSecret. */
const PEER_PUBLIC_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .publicKey.export({ type: 'spki', format: 'der' })
  .toString('base64');

const call = (op: string, input: unknown) => awsJson(server, `TrentService.${op}`, input);
async function ok(op: string, input: unknown): Promise<Record<string, unknown>> {
  const a = await call(op, input);
  expect(a.status, `${op}: ${a.text}`).toBe(200);
  return a.json!;
}

async function createKey(KeySpec: string, KeyUsage: string): Promise<Key> {
  const meta = (await ok('CreateKey', { KeySpec, KeyUsage, Description: `fuzz ${KeySpec}` })).KeyMetadata as {
    KeyId: string;
    Arn: string;
  };
  return { keyId: meta.KeyId, arn: meta.Arn };
}

/** A valid input per operation; every operation in src/kms/api.ts must have one (checked below). */
const VALID: Record<string, () => Record<string, Json>> = {
  CreateKey: () => ({
    Description: 'fuzz',
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    Tags: [{ TagKey: 'k', TagValue: 'v' }],
  }),
  DescribeKey: () => ({ KeyId: keys.sym.keyId }),
  ListKeys: () => ({ Limit: 5 }),
  UpdateKeyDescription: () => ({ KeyId: keys.victim.keyId, Description: 'changed' }),
  EnableKey: () => ({ KeyId: keys.victim.keyId }),
  DisableKey: () => ({ KeyId: keys.victim.keyId }),
  ScheduleKeyDeletion: () => ({ KeyId: keys.victim.keyId, PendingWindowInDays: 7 }),
  CancelKeyDeletion: () => ({ KeyId: keys.victim.keyId }),
  CreateAlias: () => ({ AliasName: `alias/fuzz-${randomUUID()}`, TargetKeyId: keys.sym.keyId }),
  UpdateAlias: () => ({ AliasName: 'alias/fuzz-victim', TargetKeyId: keys.sym.keyId }),
  DeleteAlias: () => ({ AliasName: 'alias/fuzz-victim' }),
  ListAliases: () => ({ KeyId: keys.sym.keyId, Limit: 10 }),
  Encrypt: () => ({ KeyId: 'alias/fuzz-sym', Plaintext: MESSAGE, EncryptionContext: { purpose: 'fuzz' } }),
  Decrypt: () => ({ CiphertextBlob: blobs.ciphertext, EncryptionContext: { purpose: 'fuzz' } }),
  ReEncrypt: () => ({
    CiphertextBlob: blobs.ciphertext,
    SourceEncryptionContext: { purpose: 'fuzz' },
    DestinationKeyId: keys.victim.keyId,
  }),
  GenerateDataKey: () => ({ KeyId: keys.sym.keyId, KeySpec: 'AES_256', EncryptionContext: { a: 'b' } }),
  GenerateDataKeyWithoutPlaintext: () => ({ KeyId: keys.sym.keyId, NumberOfBytes: 16 }),
  GenerateDataKeyPair: () => ({ KeyId: keys.sym.keyId, KeyPairSpec: 'ECC_NIST_P256' }),
  GenerateDataKeyPairWithoutPlaintext: () => ({ KeyId: keys.sym.keyId, KeyPairSpec: 'ECC_NIST_EDWARDS25519' }),
  GenerateRandom: () => ({ NumberOfBytes: 16 }),
  Sign: () => ({ KeyId: keys.ecc.keyId, Message: MESSAGE, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }),
  Verify: () => ({
    KeyId: keys.ecc.keyId,
    Message: MESSAGE,
    Signature: blobs.signature,
    SigningAlgorithm: 'ECDSA_SHA_256',
  }),
  GetPublicKey: () => ({ KeyId: keys.rsaSign.keyId }),
  GenerateMac: () => ({ KeyId: keys.hmac.keyId, Message: MESSAGE, MacAlgorithm: 'HMAC_SHA_256' }),
  VerifyMac: () => ({ KeyId: keys.hmac.keyId, Message: MESSAGE, MacAlgorithm: 'HMAC_SHA_256', Mac: blobs.mac }),
  EnableKeyRotation: () => ({ KeyId: keys.victim.keyId, RotationPeriodInDays: 365 }),
  DisableKeyRotation: () => ({ KeyId: keys.victim.keyId }),
  GetKeyRotationStatus: () => ({ KeyId: keys.victim.keyId }),
  RotateKeyOnDemand: () => ({ KeyId: keys.victim.keyId }),
  ListKeyRotations: () => ({ KeyId: keys.victim.keyId, Limit: 5 }),
  TagResource: () => ({ KeyId: keys.victim.keyId, Tags: [{ TagKey: 'team', TagValue: 'fuzz' }] }),
  UntagResource: () => ({ KeyId: keys.victim.keyId, TagKeys: ['team'] }),
  ListResourceTags: () => ({ KeyId: keys.victim.keyId, Limit: 5 }),
  GetKeyPolicy: () => ({ KeyId: keys.victim.keyId, PolicyName: 'default' }),
  PutKeyPolicy: () => ({ KeyId: keys.victim.keyId, PolicyName: 'default', Policy: defaultPolicy }),
  ListKeyPolicies: () => ({ KeyId: keys.victim.keyId }),
  GetParametersForImport: () => ({
    KeyId: keys.ext.keyId,
    WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
    WrappingKeySpec: 'RSA_2048',
  }),
  ImportKeyMaterial: () => importExt(),
  DeleteImportedKeyMaterial: () => ({ KeyId: keys.ext.keyId }),
  ReplicateKey: () => ({ KeyId: keys.mrk.keyId, ReplicaRegion: 'eu-west-1', Description: 'fuzz replica' }),
  UpdatePrimaryRegion: () => ({ KeyId: keys.mrk.keyId, PrimaryRegion: 'us-east-1' }),
  // Refused as unsupported whatever the input; fuzzed all the same.
  CreateCustomKeyStore: () => ({ CustomKeyStoreName: 'x' }),
  ConnectCustomKeyStore: () => ({ CustomKeyStoreId: 'cks-1234567890abcdef0' }),
  DisconnectCustomKeyStore: () => ({ CustomKeyStoreId: 'cks-1234567890abcdef0' }),
  DeleteCustomKeyStore: () => ({ CustomKeyStoreId: 'cks-1234567890abcdef0' }),
  DescribeCustomKeyStores: () => ({}),
  UpdateCustomKeyStore: () => ({ CustomKeyStoreId: 'cks-1234567890abcdef0' }),
  CreateGrant: () => ({
    KeyId: keys.sym.keyId,
    GranteePrincipal: `arn:aws:iam::${account}:role/fuzz`,
    RetiringPrincipal: `arn:aws:iam::${account}:role/ops`,
    Operations: ['Decrypt', 'Encrypt', 'GenerateDataKey'],
    Constraints: { EncryptionContextSubset: { purpose: 'fuzz' } },
    Name: 'fuzz-grant',
  }),
  ListGrants: () => ({ KeyId: keys.sym.arn, Limit: 2, GranteePrincipal: `arn:aws:iam::${account}:role/fuzz` }),
  ListRetirableGrants: () => ({ RetiringPrincipal: `arn:aws:iam::${account}:role/ops`, Limit: 2 }),
  RetireGrant: () => ({ GrantToken: grants.retire }),
  RevokeGrant: () => ({ KeyId: keys.sym.arn, GrantId: grants.revoke }),
  DeriveSharedSecret: () => ({ KeyId: keys.agree.keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: PEER_PUBLIC_KEY }),
  GetKeyLastUsage: () => ({ KeyId: keys.sym.keyId }),
};

/** Operations that change state: a refused one must leave the snapshot exactly as it was. */
const MUTATING = new Set([
  'CreateKey',
  'UpdateKeyDescription',
  'EnableKey',
  'DisableKey',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'CreateAlias',
  'UpdateAlias',
  'DeleteAlias',
  'EnableKeyRotation',
  'DisableKeyRotation',
  'RotateKeyOnDemand',
  'TagResource',
  'UntagResource',
  'PutKeyPolicy',
  'CreateGrant',
  'RetireGrant',
  'RevokeGrant',
  'ImportKeyMaterial',
  'DeleteImportedKeyMaterial',
]);

/** What a refused call could have touched: the key list, the aliases, and the named key's every facet. */
async function snapshot(input: Json): Promise<unknown> {
  const bodyOf = (a: Answer) => ({ status: a.status, json: a.json });
  const o = input && typeof input === 'object' && !Array.isArray(input) ? input : {};
  const ref = [o.KeyId, o.TargetKeyId, o.DestinationKeyId].find((v) => typeof v === 'string') as string | undefined;
  const state: Record<string, unknown> = {
    keys: bodyOf(await call('ListKeys', { Limit: 1000 })),
    aliases: bodyOf(await call('ListAliases', { Limit: 1000 })),
  };
  if (ref) {
    for (const op of [
      'DescribeKey',
      'ListResourceTags',
      'GetKeyPolicy',
      'GetKeyRotationStatus',
      'ListKeyRotations',
      'ListGrants',
    ]) {
      state[op] = bodyOf(await call(op, { KeyId: ref }));
    }
  }
  return state;
}

/**
 * A ciphertext opens with exactly the context it was sealed with: with none (or a different one) it is
 * InvalidCiphertextException whenever the encryption context had any member.
 */
async function expectContextBound(input: Record<string, Json>, out: Record<string, unknown>): Promise<void> {
  if (input.EncryptionAlgorithm !== undefined && input.EncryptionAlgorithm !== 'SYMMETRIC_DEFAULT') return;
  const context = input.EncryptionContext as Record<string, string> | undefined;
  const same = await call('Decrypt', { CiphertextBlob: out.CiphertextBlob, EncryptionContext: context });
  // Bytes, not text: base64 with non-zero padding bits ("AB==") decodes to what "AA==" does.
  const bytes = (b: unknown) => Buffer.from(String(b), 'base64').toString('hex');
  expect({ status: same.status, plaintext: bytes(same.json?.Plaintext) }, 'Decrypt with the same context').toEqual({
    status: 200,
    plaintext: bytes(input.Plaintext),
  });
  if (context && Object.keys(context).length > 0) {
    const none = await call('Decrypt', { CiphertextBlob: out.CiphertextBlob });
    expect(none.json?.__type, 'Decrypt without the context').toBe('InvalidCiphertextException');
  }
}

/** The EXTERNAL key's material, wrapped for its import token (made once, valid for the whole run). */
const importExt = () => ({
  KeyId: keys.ext.keyId,
  ImportToken: blobs.importToken,
  EncryptedKeyMaterial: blobs.keyMaterial,
  ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
});

/** Puts the fixtures back after a successful destructive call, so later runs still reach them. */
async function heal(): Promise<void> {
  if (blobs.importToken) await call('ImportKeyMaterial', importExt());
  for (const k of Object.values(keys)) {
    await call('CancelKeyDeletion', { KeyId: k.keyId });
    await call('EnableKey', { KeyId: k.keyId });
  }
  for (const [AliasName, name] of Object.entries(ALIASES)) {
    const TargetKeyId = keys[name].keyId;
    const a = await call('CreateAlias', { AliasName, TargetKeyId });
    if (a.status !== 200) await ok('UpdateAlias', { AliasName, TargetKeyId });
  }
}

function space(): MutationSpace {
  const uuid = randomUUID();
  return {
    fields: fieldNamesIn('src/kms/api.ts', 'src/kms/api'),
    blobFields: ['Plaintext', 'CiphertextBlob', 'Message', 'Signature', 'Mac', 'PublicKey'],
    refFields: ['KeyId', 'TargetKeyId', 'DestinationKeyId', 'SourceKeyId', 'AliasName'],
    refs: [
      ...Object.values(keys).flatMap((k) => [k.keyId, k.arn]),
      ...Object.keys(ALIASES),
      `arn:aws:kms:us-east-1:${account}:alias/fuzz-sym`,
      uuid,
      `arn:aws:kms:us-east-1:${account}:key/${uuid}`,
      `arn:aws:kms:eu-west-1:111111111111:key/${keys.sym.keyId}`,
      `arn:aws:kms:us-east-1:${account}:alias/`,
      `mrk-${uuid.replaceAll('-', '')}`,
      keys.sym.keyId.toUpperCase(),
      'alias/aws/kms',
      'alias/missing',
      'alias/keysafe/sessions',
      'alias/keysafe/terraform',
      'alias/',
      'alias',
      'key/',
    ],
    alternatives: {
      KeySpec: [...KEY_SPECS.filter((s) => !/RSA_(3072|4096)/.test(s)), 'AES_128', 'AES_256'],
      CustomerMasterKeySpec: ['SYMMETRIC_DEFAULT', 'HMAC_256', 'ECC_NIST_P256'],
      KeyUsage: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'],
      KeyPairSpec: ['RSA_2048', 'ECC_NIST_P384', 'ECC_SECG_P256K1', 'SM2'],
      SigningAlgorithm: [...SIGNING_ALGORITHMS, 'SM2DSA'],
      MessageType: ['RAW', 'DIGEST', 'EXTERNAL_MU'],
      MacAlgorithm: ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'],
      EncryptionAlgorithm: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'],
      SourceEncryptionAlgorithm: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256'],
      DestinationEncryptionAlgorithm: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1'],
      Origin: ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM'],
      // RSA_2048 only of the wrapping keys: 3072 and 4096 take seconds to generate.
      WrappingKeySpec: ['RSA_2048', 'SM2'],
      WrappingAlgorithm: ['RSAES_OAEP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'RSAES_PKCS1_V1_5', 'SM2PKE'],
      ExpirationModel: ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'],
      ImportType: ['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'],
      ValidTo: [0, Date.now() / 1000 + 86_400, 1e12],
      ImportToken: [MESSAGE],
      EncryptedKeyMaterial: [MESSAGE],
      MultiRegion: [true, false],
      DryRun: [true],
      GrantTokens: [['token'], []],
      Operations: [['Sign'], [], ['Decrypt', 'CreateGrant'], ['GenerateMac'], ['Nope']],
      GranteePrincipal: ['x', 'arn:aws:iam::000000000000:root', '123456789012', 'with space'],
      Constraints: [{}, { EncryptionContextEquals: {} }, { EncryptionContextEquals: JSON.parse('{"__proto__":"x"}') }],
      GrantId: ['0'.repeat(64), 'x'],
      GrantToken: ['x', 'KSGT1.e30', 'KSGT1.!!'],
      Name: ['a b', 'n'],
      Recipient: [{}],
      NumberOfBytes: [1, 32, 1024, 1025, 0],
      PendingWindowInDays: [6, 7, 30, 31],
      RotationPeriodInDays: [89, 90, 2560, 2561],
      Limit: [1, 1000, 1001],
      Marker: ['MQ', 'MTA', 'eA', 'LTE', 'MWUz', 'NaN'],
      PolicyName: ['default', 'other'],
      Description: ['', 'x'.repeat(8192)],
      CiphertextBlob: [blobs.ciphertext, blobs.rsaCiphertext, MESSAGE],
      Signature: [blobs.signature, blobs.edSignature, blobs.mac],
      Mac: [blobs.mac, blobs.signature],
      // Hashes of the right and wrong lengths for MessageType DIGEST.
      Message: [32, 48, 64, 31, 4096].map((n) => Buffer.alloc(n, 7).toString('base64')),
      EncryptionContext: [{}, { purpose: 'fuzz' }, { purpose: 'other' }, JSON.parse('{"__proto__":"x"}')],
      SourceEncryptionContext: [{}, { purpose: 'other' }],
      Tags: [
        [],
        [{ TagKey: 'aws:x', TagValue: 'v' }],
        Array.from({ length: 60 }, (_, i) => ({ TagKey: `k${i}`, TagValue: '' })),
      ],
      Policy: [
        '{}',
        '{"Version":"2012-10-17","Statement":[]}',
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}',
        '{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["kms:*"],"Resource":["*"],"Condition":{"StringEquals":{"kms:EncryptionContext:a":"b"}}}]}',
        '{"Statement":[{"Effect":"Maybe","Action":{"a":1},"Resource":[null]}]}',
        '{"Statement":[{"Effect":"Allow","Principal":{"AWS":1},"Action":"kms:*","Resource":"*","Condition":{"Bogus":{"x":[[]]}}}]}',
        '{"Statement":null}',
        '{"Statement":[null,1,"x",[]]}',
        'null',
        '[]',
        '"x"',
        JSON.stringify({
          Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*', Principal: { AWS: 'x'.repeat(100_000) } }],
        }),
      ],
    },
  };
}

describe('KMS operations under fuzzing (real HTTP)', { timeout: fuzzTimeout() }, () => {
  beforeAll(async () => {
    server = await startTestServer({ clock: new ManualClock(Date.now()) });
    keys.sym = await createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    keys.victim = await createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    keys.rsaEnc = await createKey('RSA_2048', 'ENCRYPT_DECRYPT');
    keys.rsaSign = await createKey('RSA_2048', 'SIGN_VERIFY');
    keys.ecc = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    keys.ed = await createKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY');
    keys.hmac = await createKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    keys.agree = await createKey('ECC_NIST_P256', 'KEY_AGREEMENT');
    const ext = (await ok('CreateKey', { Origin: 'EXTERNAL', Description: 'fuzz EXTERNAL' })).KeyMetadata as {
      KeyId: string;
      Arn: string;
    };
    keys.ext = { keyId: ext.KeyId, arn: ext.Arn };
    const mrk = (await ok('CreateKey', { MultiRegion: true })).KeyMetadata as { KeyId: string; Arn: string };
    keys.mrk = { keyId: mrk.KeyId, arn: mrk.Arn };
    const params = await ok('GetParametersForImport', {
      KeyId: keys.ext.keyId,
      WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      WrappingKeySpec: 'RSA_2048',
    });
    blobs.importToken = params.ImportToken as string;
    const material = randomBytes(32);
    blobs.keyMaterial = publicEncrypt(
      {
        key: createPublicKey({ key: Buffer.from(params.PublicKey as string, 'base64'), format: 'der', type: 'spki' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      },
      material,
    ).toString('base64');
    // The imported material is as secret as a plaintext: no error body, log line or audit record may carry it.
    canaries.push(material.toString('base64'), material.toString('hex'));
    account = keys.sym.arn.split(':')[4]!;
    await heal();

    const canary = `CANARY-kms-${randomUUID()}`;
    const plaintext = Buffer.from(canary).toString('base64');
    canaries.push(canary, plaintext);
    blobs.ciphertext = (
      await ok('Encrypt', { KeyId: keys.sym.keyId, Plaintext: plaintext, EncryptionContext: { purpose: 'fuzz' } })
    ).CiphertextBlob as string;
    blobs.rsaCiphertext = (
      await ok('Encrypt', { KeyId: keys.rsaEnc.keyId, Plaintext: plaintext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })
    ).CiphertextBlob as string;
    blobs.signature = (await ok('Sign', { KeyId: keys.ecc.keyId, Message: MESSAGE, SigningAlgorithm: 'ECDSA_SHA_256' }))
      .Signature as string;
    blobs.edSignature = (
      await ok('Sign', { KeyId: keys.ed.keyId, Message: MESSAGE, SigningAlgorithm: 'ED25519_SHA_512' })
    ).Signature as string;
    blobs.mac = (await ok('GenerateMac', { KeyId: keys.hmac.keyId, Message: MESSAGE, MacAlgorithm: 'HMAC_SHA_256' }))
      .Mac as string;
    defaultPolicy = (await ok('GetKeyPolicy', { KeyId: keys.victim.keyId })).Policy as string;
    const grant = (Operations: string[]) =>
      ok('CreateGrant', { KeyId: keys.sym.keyId, GranteePrincipal: `arn:aws:iam::${account}:role/fuzz`, Operations });
    grants.retire = (await grant(['Decrypt'])).GrantToken as string;
    grants.revoke = (await grant(['Encrypt'])).GrantId as string;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('has a fuzz input for every operation src/kms/api.ts defines', () => {
    expect(Object.keys(VALID).sort()).toEqual(Object.keys(kmsOperations).sort());
  });

  it.each(Object.keys(kmsOperations))(
    '%s answers mutated input with a documented error, never 5xx, a canary or a partial write',
    async (op) => {
      const mutating = MUTATING.has(op);
      await fc.assert(
        fc.asyncProperty(mutatedInput(VALID[op]!(), space()), async (input) => {
          const before = mutating ? await snapshot(input) : undefined;
          const a = await call(op, input);
          expectWellFormed(a, KMS_CODES, op);
          if (a.status === 200) {
            if (op === 'Encrypt') await expectContextBound(input as Record<string, Json>, a.json!);
            if (mutating) await heal();
            return;
          }
          for (const c of canaries) expect(a.text, `${op} error body`).not.toContain(c);
          if (mutating) expect(await snapshot(input), `${op} refused but changed state`).toEqual(before);
        }),
        { numRuns: httpRuns(8) },
      );
    },
  );

  it('no log line or audit record carries a stored plaintext', () => {
    expect(canaries.length).toBeGreaterThan(0);
    for (const line of server.logs) for (const c of canaries) expect(line).not.toContain(c);
    for (const f of readdirSync(server.auditDir)) {
      const path = join(server.auditDir, f);
      if (!statSync(path).isFile()) continue;
      const text = readFileSync(path, 'utf8');
      for (const c of canaries) expect(text, f).not.toContain(c);
    }
  });
});
