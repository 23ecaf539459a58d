// Drives a running server through every KMS operation with the real AWS SDK for JavaScript v3.
import { constants, createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateMacCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetPublicKeyCommand,
  type KMSClient,
  ListAliasesCommand,
  ListKeyPoliciesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let kms: KMSClient;
const text = (s: string) => new TextEncoder().encode(s);

const errorType = async (res: Response) => ((await res.json()) as { __type: string }).__type;

async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}) {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand(input));
  return KeyMetadata!;
}

beforeAll(async () => {
  server = await startTestServer();
  kms = server.kmsClient();
});
afterAll(async () => {
  kms.destroy();
  await server.stop();
});

describe('key lifecycle', () => {
  it('creates a symmetric key with AWS metadata and finds it by id, ARN and in ListKeys', async () => {
    const key = await newKey({ Description: 'orders', Tags: [{ TagKey: 'team', TagValue: 'shop' }] });
    expect(key.KeyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(key.Arn).toBe(`arn:aws:kms:us-east-1:000000000000:key/${key.KeyId}`);
    expect(key).toMatchObject({
      Enabled: true,
      KeyState: 'Enabled',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      Origin: 'AWS_KMS',
      Description: 'orders',
    });
    expect(key.CreationDate).toBeInstanceOf(Date);
    const byArn = await kms.send(new DescribeKeyCommand({ KeyId: key.Arn }));
    expect(byArn.KeyMetadata?.KeyId).toBe(key.KeyId);
    const ids: string[] = [];
    let marker: string | undefined;
    do {
      const page = await kms.send(new ListKeysCommand({ Limit: 1, Marker: marker }));
      ids.push(...(page.Keys ?? []).map((k) => k.KeyId!));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    expect(ids).toContain(key.KeyId);
  });

  it('updates the description', async () => {
    const key = await newKey();
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: 'new words' }));
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
    expect(KeyMetadata?.Description).toBe('new words');
  });

  it('refuses Encrypt and Decrypt on a disabled key and allows them again once enabled', async () => {
    const key = await newKey();
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x') }));
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    const enc = await failure(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x') })));
    expect(enc).toMatchObject({ name: 'DisabledException', status: 400 });
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob })))).toMatchObject({
      name: 'DisabledException',
    });
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext!).toString()).toBe('x');
  });

  it('schedules deletion within 7–30 days, refuses use while pending, and cancels to Disabled', async () => {
    const key = await newKey();
    const tooShort = await failure(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 6 })),
    );
    expect(tooShort.name).toBe('ValidationException');
    expect(tooShort.message).toContain("Value '6' at 'pendingWindowInDays'");
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId }));
    expect(scheduled).toMatchObject({ KeyId: key.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 30 });
    const days = (scheduled.DeletionDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    const use = await failure(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x') })));
    expect(use).toMatchObject({ name: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });
    expect((await failure(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId })))).name).toBe(
      'KMSInvalidStateException',
    );
    await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
    expect(KeyMetadata).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    expect(KeyMetadata?.DeletionDate).toBeUndefined();
    expect((await failure(kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId })))).name).toBe(
      'KMSInvalidStateException',
    );
  });

  it('answers NotFoundException for unknown and malformed key ids', async () => {
    const unknown = await failure(kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })));
    expect(unknown).toMatchObject({
      name: 'NotFoundException',
      status: 400,
      message: "Key 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-000000000000' does not exist",
    });
    const malformed = await failure(kms.send(new DescribeKeyCommand({ KeyId: 'fake-key-id' })));
    expect(malformed).toMatchObject({ name: 'NotFoundException', message: "Invalid keyId 'fake-key-id'" });
  });

  it('requires a KeyUsage for HMAC keys and rejects usages a spec does not have', async () => {
    expect((await failure(kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256' })))).message).toBe(
      'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.',
    );
    const bad = await failure(
      kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' })),
    );
    expect(bad.name).toBe('ValidationException');
    const enumBad = await failure(kms.send(new CreateKeyCommand({ KeySpec: 'AES_999' as never })));
    expect(enumBad.name).toBe('ValidationException');
    expect(enumBad.message).toContain("Value 'AES_999' at 'keySpec' failed to satisfy constraint");
  });

  it('answers UnsupportedOperationException for custom key store origins and replicating a single-Region key', async () => {
    expect((await failure(kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM' })))).name).toBe(
      'UnsupportedOperationException',
    );
    const key = await newKey();
    expect(
      (await failure(kms.send(new ReplicateKeyCommand({ KeyId: key.KeyId, ReplicaRegion: 'eu-west-1' })))).name,
    ).toBe('UnsupportedOperationException');
  });
});

describe('aliases', () => {
  it('creates, resolves, lists, repoints and deletes an alias', async () => {
    const a = await newKey();
    const b = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/orders', TargetKeyId: a.KeyId }));
    const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/orders', Plaintext: text('by alias') }));
    expect(enc.KeyId).toBe(a.Arn);
    const byAliasArn = await kms.send(
      new DescribeKeyCommand({ KeyId: 'arn:aws:kms:us-east-1:000000000000:alias/orders' }),
    );
    expect(byAliasArn.KeyMetadata?.KeyId).toBe(a.KeyId);
    const listed = await kms.send(new ListAliasesCommand({ KeyId: a.KeyId }));
    expect(listed.Aliases).toEqual([
      expect.objectContaining({
        AliasName: 'alias/orders',
        AliasArn: 'arn:aws:kms:us-east-1:000000000000:alias/orders',
        TargetKeyId: a.KeyId,
      }),
    ]);
    const dup = await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/orders', TargetKeyId: b.KeyId })));
    expect(dup.name).toBe('AlreadyExistsException');
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/orders', TargetKeyId: b.KeyId }));
    const after = await kms.send(new EncryptCommand({ KeyId: 'alias/orders', Plaintext: text('x') }));
    expect(after.KeyId).toBe(b.Arn);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/orders' }));
    const gone = await failure(kms.send(new DescribeKeyCommand({ KeyId: 'alias/orders' })));
    expect(gone).toMatchObject({
      name: 'NotFoundException',
      message: 'Alias arn:aws:kms:us-east-1:000000000000:alias/orders is not found.',
    });
  });

  it('rejects reserved and malformed alias names, and aliases of a different key usage', async () => {
    const key = await newKey();
    // AWS's words for each: test/integration/kms-fidelity.test.ts.
    const noPrefix = await failure(kms.send(new CreateAliasCommand({ AliasName: 'orders', TargetKeyId: key.KeyId })));
    expect(noPrefix.name).toBe('ValidationException');
    // A name breaking the model's pattern is refused before anything else, naming the pattern.
    const space = await failure(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/sp ace', TargetKeyId: key.KeyId })),
    );
    expect(space).toMatchObject({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value 'alias/sp ace' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
    });
    const empty = await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/', TargetKeyId: key.KeyId })));
    expect(empty.name).toBe('InvalidAliasNameException');
    // Reserved namespaces: AWS answers NotAuthorizedException for alias/aws/, and alias/keysafe/ is Keysafe's.
    for (const name of ['alias/aws/mine', 'alias/keysafe/mine']) {
      const e = await failure(kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: key.KeyId })));
      expect(e.name).toBe('NotAuthorizedException');
    }
    const signing = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/usage-check', TargetKeyId: key.KeyId }));
    const e = await failure(
      kms.send(new UpdateAliasCommand({ AliasName: 'alias/usage-check', TargetKeyId: signing.KeyId })),
    );
    expect(e.name).toBe('ValidationException');
  });
});

describe('symmetric encryption', () => {
  it('round-trips with an encryption context that must match exactly', async () => {
    const key = await newKey();
    const ctx = { tenant: 'acme', purpose: 'orders' };
    const enc = await kms.send(
      new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('secret 1'), EncryptionContext: ctx }),
    );
    expect(enc).toMatchObject({ KeyId: key.Arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const reordered = { purpose: 'orders', tenant: 'acme' };
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: reordered }),
    );
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('secret 1');
    expect(dec.KeyId).toBe(key.Arn);
    const wrongs: Record<string, string>[] = [
      {},
      { tenant: 'acme' },
      { tenant: 'ACME', purpose: 'orders' },
      { ...ctx, extra: '' },
    ];
    for (const wrong of wrongs) {
      const e = await failure(
        kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: wrong })),
      );
      expect(e).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    }
  });

  it('keeps {"ab":"c"} and {"a":"bc"} apart', async () => {
    const key = await newKey();
    const enc = await kms.send(
      new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x'), EncryptionContext: { ab: 'c' } }),
    );
    const e = await failure(
      kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: 'bc' } })),
    );
    expect(e.name).toBe('InvalidCiphertextException');
  });

  it('accepts 4096-byte plaintexts, rejects 4097, and keeps the overhead far below 2048 bytes', async () => {
    const key = await newKey();
    const big = new Uint8Array(4096).fill(7);
    const enc = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: big }));
    expect(enc.CiphertextBlob!.length - 4096).toBe(50);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext!).equals(Buffer.from(big))).toBe(true);
    const e = await failure(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: new Uint8Array(4097) })));
    expect(e.name).toBe('ValidationException');
    expect(e.message).toContain('Member must have length less than or equal to 4096');
  });

  it('answers IncorrectKeyException when Decrypt names another key', async () => {
    const a = await newKey();
    const b = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: a.KeyId, Plaintext: text('x') }));
    const e = await failure(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: b.KeyId })));
    expect(e.name).toBe('IncorrectKeyException');
    const ok = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: a.Arn }));
    expect(ok.KeyId).toBe(a.Arn);
  });

  it('re-encrypts under another key and context', async () => {
    const a = await newKey();
    const b = await newKey();
    const enc = await kms.send(
      new EncryptCommand({ KeyId: a.KeyId, Plaintext: text('move me'), EncryptionContext: { v: '1' } }),
    );
    const re = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: enc.CiphertextBlob,
        SourceEncryptionContext: { v: '1' },
        DestinationKeyId: b.KeyId,
        DestinationEncryptionContext: { v: '2' },
      }),
    );
    expect(re).toMatchObject({ SourceKeyId: a.Arn, KeyId: b.Arn, DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { v: '2' } }),
    );
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('move me');
  });

  it('generates data keys with and without plaintext', async () => {
    const key = await newKey();
    const dk = await kms.send(
      new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256', EncryptionContext: { a: 'b' } }),
    );
    expect(dk.Plaintext).toHaveLength(32);
    expect(dk.KeyId).toBe(key.Arn);
    const back = await kms.send(
      new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { a: 'b' } }),
    );
    expect(Buffer.from(back.Plaintext!).equals(Buffer.from(dk.Plaintext!))).toBe(true);
    const dk16 = await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, NumberOfBytes: 16 }));
    expect(dk16.Plaintext).toHaveLength(16);
    const wo = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: key.KeyId, KeySpec: 'AES_128' }));
    expect('Plaintext' in wo).toBe(false);
    expect((await kms.send(new DecryptCommand({ CiphertextBlob: wo.CiphertextBlob }))).Plaintext).toHaveLength(16);
    const both = await failure(
      kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256', NumberOfBytes: 32 })),
    );
    expect(both.name).toBe('ValidationException');
    const tooMany = await failure(kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, NumberOfBytes: 1025 })));
    expect(tooMany.message).toBe(
      "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    );
  });

  it('generates data key pairs whose private key is encrypted under the KMS key', async () => {
    const key = await newKey();
    const pair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: key.KeyId, KeyPairSpec: 'ECC_NIST_P256' }));
    const pub = createPublicKey({ key: Buffer.from(pair.PublicKey!), format: 'der', type: 'spki' });
    expect(pub.asymmetricKeyType).toBe('ec');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob }));
    expect(Buffer.from(dec.Plaintext!).equals(Buffer.from(pair.PrivateKeyPlaintext!))).toBe(true);
    const wo = await kms.send(
      new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: key.KeyId, KeyPairSpec: 'RSA_2048' }),
    );
    expect('PrivateKeyPlaintext' in wo).toBe(false);
    expect(wo.KeyPairSpec).toBe('RSA_2048');
  });

  it('generates random bytes between 1 and 1024', async () => {
    const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    expect(r.Plaintext).toHaveLength(64);
    expect((await failure(kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })))).name).toBe('ValidationException');
    expect((await failure(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })))).name).toBe(
      'ValidationException',
    );
  });

  it('refuses symmetric operations on signing keys with InvalidKeyUsageException', async () => {
    const signing = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const e = await failure(kms.send(new EncryptCommand({ KeyId: signing.KeyId, Plaintext: text('x') })));
    expect(e).toMatchObject({
      name: 'InvalidKeyUsageException',
      message: `${signing.Arn} key usage is SIGN_VERIFY which is not valid for Encrypt.`,
    });
  });
});

describe('rotation', () => {
  it('rotates on demand: new ciphertexts use the new version and old ones still decrypt', async () => {
    const key = await newKey();
    const before = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('old') }));
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    const after = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('new') }));
    // Bytes 18..21 of the blob carry the key version.
    expect(Buffer.from(before.CiphertextBlob!).readUInt32BE(18)).toBe(1);
    expect(Buffer.from(after.CiphertextBlob!).readUInt32BE(18)).toBe(2);
    for (const [blob, want] of [
      [before.CiphertextBlob, 'old'],
      [after.CiphertextBlob, 'new'],
    ] as const) {
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
      expect(Buffer.from(dec.Plaintext!).toString()).toBe(want);
    }
    const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }));
    expect(rotations.Rotations).toEqual([expect.objectContaining({ KeyId: key.Arn, RotationType: 'ON_DEMAND' })]);
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    expect(status.KeyRotationEnabled).toBe(false);
    expect(status.OnDemandRotationStartDate).toBeInstanceOf(Date);
  });

  it('enables automatic rotation with a period of 90–2560 days and disables it', async () => {
    const key = await newKey();
    const e = await failure(kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 89 })));
    expect(e.name).toBe('ValidationException');
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    const on = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    expect(on).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90, KeyId: key.Arn });
    const days = (on.NextRotationDate!.getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(90);
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).RotationPeriodInDays).toBe(365);
    await kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId }));
    const off = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    expect(off.KeyRotationEnabled).toBe(false);
    expect(off.NextRotationDate).toBeUndefined();
  });

  it('refuses rotation of asymmetric keys', async () => {
    const signing = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    for (const cmd of [
      new EnableKeyRotationCommand({ KeyId: signing.KeyId }),
      new RotateKeyOnDemandCommand({ KeyId: signing.KeyId }),
    ]) {
      expect((await failure(kms.send(cmd as never))).name).toBe('UnsupportedOperationException');
    }
  });

  it('limits on-demand rotations to 25 per key', async () => {
    const key = await newKey();
    for (let i = 0; i < 25; i++) await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    const e = await failure(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId })));
    expect(e.name).toBe('LimitExceededException');
    const page1 = await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId, Limit: 20 }));
    expect(page1.Rotations).toHaveLength(20);
    expect(page1.Truncated).toBe(true);
    const page2 = await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId, Marker: page1.NextMarker }));
    expect(page2.Rotations).toHaveLength(5);
    expect(page2.Truncated).toBe(false);
  });
});

describe('asymmetric keys', () => {
  const signingCases = [
    ['RSA_2048', 'RSASSA_PSS_SHA_256', 'sha256'],
    ['RSA_3072', 'RSASSA_PKCS1_V1_5_SHA_384', 'sha384'],
    ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384'],
    ['ECC_NIST_P521', 'ECDSA_SHA_512', 'sha512'],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'sha256'],
  ] as const;

  for (const [spec, alg, hash] of signingCases) {
    it(`signs with ${spec}/${alg} (RAW and DIGEST) verifiably by node:crypto and by Verify`, async () => {
      const key = await newKey({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' });
      const pub = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
      expect(pub).toMatchObject({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY', KeyId: key.Arn });
      expect(pub.SigningAlgorithms).toContain(alg);
      const publicKey = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
      const message = text(`message for ${spec}`);
      const digest = createHash(hash).update(message).digest();
      for (const [input, type] of [
        [message, 'RAW'],
        [digest, 'DIGEST'],
      ] as const) {
        const sig = await kms.send(
          new SignCommand({ KeyId: key.KeyId, Message: input, MessageType: type, SigningAlgorithm: alg }),
        );
        const padding = alg.startsWith('RSASSA_PSS') ? constants.RSA_PKCS1_PSS_PADDING : undefined;
        const saltLength = padding ? digest.length : undefined;
        expect(nodeVerify(hash, message, { key: publicKey, padding, saltLength }, Buffer.from(sig.Signature!))).toBe(
          true,
        );
        const ok = await kms.send(
          new VerifyCommand({
            KeyId: key.KeyId,
            Message: input,
            MessageType: type,
            Signature: sig.Signature,
            SigningAlgorithm: alg,
          }),
        );
        expect(ok.SignatureValid).toBe(true);
      }
      const sig = await kms.send(new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: alg }));
      const bad = await failure(
        kms.send(
          new VerifyCommand({
            KeyId: key.KeyId,
            Message: text('other'),
            Signature: sig.Signature,
            SigningAlgorithm: alg,
          }),
        ),
      );
      expect(bad.name).toBe('KMSInvalidSignatureException');
      const wrongLength = await failure(
        kms.send(
          new SignCommand({
            KeyId: key.KeyId,
            Message: new Uint8Array(5),
            MessageType: 'DIGEST',
            SigningAlgorithm: alg,
          }),
        ),
      );
      expect(wrongLength.name).toBe('ValidationException');
    });
  }

  it('signs with Ed25519 (RAW only)', async () => {
    const key = await newKey({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' });
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
    const message = text('edwards');
    const sig = await kms.send(
      new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ED25519_SHA_512' }),
    );
    const publicKey = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
    expect(nodeVerify(null, message, publicKey, Buffer.from(sig.Signature!))).toBe(true);
    const digest = await failure(
      kms.send(
        new SignCommand({
          KeyId: key.KeyId,
          Message: new Uint8Array(64),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ED25519_SHA_512',
        }),
      ),
    );
    expect(digest.name).toBe('ValidationException');
  });

  it('refuses an algorithm the key spec does not have', async () => {
    const key = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const e = await failure(
      kms.send(new SignCommand({ KeyId: key.KeyId, Message: text('x'), SigningAlgorithm: 'ECDSA_SHA_384' })),
    );
    expect(e).toMatchObject({
      name: 'InvalidKeyUsageException',
      message: 'Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.',
    });
  });

  it('encrypts with RSA-OAEP and decrypts only with KeyId and the same algorithm', async () => {
    const key = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const enc = await kms.send(
      new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('rsa'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    expect(enc.CiphertextBlob).toHaveLength(256);
    const dec = await kms.send(
      new DecryptCommand({
        KeyId: key.KeyId,
        CiphertextBlob: enc.CiphertextBlob,
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('rsa');
    const wrongAlg = await failure(
      kms.send(
        new DecryptCommand({
          KeyId: key.KeyId,
          CiphertextBlob: enc.CiphertextBlob,
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
        }),
      ),
    );
    expect(wrongAlg.name).toBe('InvalidCiphertextException');
    const tooLong = await failure(
      kms.send(
        new EncryptCommand({
          KeyId: key.KeyId,
          Plaintext: new Uint8Array(191),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      ),
    );
    expect(tooLong.name).toBe('ValidationException');
    const noAlg = await failure(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x') })));
    expect(noAlg.name).toBe('InvalidKeyUsageException');
  });

  it('refuses GetPublicKey on symmetric keys', async () => {
    const key = await newKey();
    expect((await failure(kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId })))).name).toBe(
      'UnsupportedOperationException',
    );
  });
});

describe('MACs', () => {
  for (const [spec, alg] of [
    ['HMAC_224', 'HMAC_SHA_224'],
    ['HMAC_256', 'HMAC_SHA_256'],
    ['HMAC_384', 'HMAC_SHA_384'],
    ['HMAC_512', 'HMAC_SHA_512'],
  ] as const) {
    it(`generates and verifies ${alg} MACs with a ${spec} key`, async () => {
      const key = await newKey({ KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' });
      expect(key.MacAlgorithms).toEqual([alg]);
      const mac = await kms.send(new GenerateMacCommand({ KeyId: key.KeyId, Message: text('m'), MacAlgorithm: alg }));
      const ok = await kms.send(
        new VerifyMacCommand({ KeyId: key.KeyId, Message: text('m'), Mac: mac.Mac, MacAlgorithm: alg }),
      );
      expect(ok.MacValid).toBe(true);
      const tampered = Buffer.from(mac.Mac!);
      tampered[0]! ^= 1;
      const bad = await failure(
        kms.send(new VerifyMacCommand({ KeyId: key.KeyId, Message: text('m'), Mac: tampered, MacAlgorithm: alg })),
      );
      expect(bad.name).toBe('KMSInvalidMacException');
    });
  }

  it('refuses a MAC algorithm that does not match the key spec', async () => {
    const key = await newKey({ KeySpec: 'HMAC_224', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const e = await failure(
      kms.send(new GenerateMacCommand({ KeyId: key.KeyId, Message: text('m'), MacAlgorithm: 'HMAC_SHA_256' })),
    );
    expect(e).toMatchObject({
      name: 'InvalidKeyUsageException',
      message: 'Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.',
    });
  });
});

describe('tags and policies', () => {
  it('tags, lists and untags a key with AWS tag rules', async () => {
    const key = await newKey();
    await kms.send(
      new TagResourceCommand({
        KeyId: key.KeyId,
        Tags: [
          { TagKey: 'env', TagValue: 'prod' },
          { TagKey: 'team', TagValue: 'a' },
        ],
      }),
    );
    await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'team', TagValue: 'b' }] }));
    const tags = await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }));
    expect(tags.Tags).toEqual([
      { TagKey: 'env', TagValue: 'prod' },
      { TagKey: 'team', TagValue: 'b' },
    ]);
    await kms.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: ['env'] }));
    expect((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags).toEqual([
      { TagKey: 'team', TagValue: 'b' },
    ]);
    const reserved = await failure(
      kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'aws:x', TagValue: '' }] })),
    );
    expect(reserved.name).toBe('TagException');
  });

  it('stores and returns the key policy, with AWS default policy first', async () => {
    const key = await newKey();
    const initial = await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }));
    expect(JSON.parse(initial.Policy!).Statement[0].Principal.AWS).toBe('arn:aws:iam::000000000000:root');
    expect(initial.PolicyName).toBe('default');
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' },
      ],
    });
    await kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default', Policy: policy }));
    // A key policy names who it applies to, as in AWS.
    const noPrincipal = await failure(
      kms.send(
        new PutKeyPolicyCommand({
          KeyId: key.KeyId,
          Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }),
        }),
      ),
    );
    expect(noPrincipal.name).toBe('MalformedPolicyDocumentException');
    expect(noPrincipal.message).toContain('Principal is missing');
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }))).Policy).toBe(policy);
    expect((await kms.send(new ListKeyPoliciesCommand({ KeyId: key.KeyId }))).PolicyNames).toEqual(['default']);
    const malformed = await failure(kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, Policy: '{not json' })));
    expect(malformed.name).toBe('MalformedPolicyDocumentException');
  });
});

describe('wire protocol', () => {
  it('answers every response with Date and x-amzn-RequestId, and JSON errors for bad input', async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${server.url}/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.admin.token}`, ...headers },
        body,
      });
    const ok = await post(
      { 'x-amz-target': 'TrentService.ListKeys', 'content-type': 'application/x-amz-json-1.1' },
      '{}',
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(Date.parse(ok.headers.get('date')!) - Date.now())).toBeLessThan(5000);
    const cases: [Record<string, string>, string, string][] = [
      [{ 'x-amz-target': 'TrentService.Nope' }, '{}', 'UnknownOperationException'],
      [{ 'x-amz-target': 'TrentService.constructor' }, '{}', 'UnknownOperationException'],
      [{ 'x-amz-target': 'TrentService.ListKeys' }, '{"Limit":', 'SerializationException'],
      [{ 'x-amz-target': 'TrentService.ListKeys' }, '[]', 'SerializationException'],
      [
        { 'x-amz-target': 'TrentService.Encrypt' },
        '{"KeyId":"alias/x","Plaintext":"not base64!"}',
        'SerializationException',
      ],
      [{ 'x-amz-target': 'TrentService.Encrypt' }, '{"KeyId":7,"Plaintext":"AA=="}', 'SerializationException'],
      [{ 'x-amz-target': 'TrentService.Encrypt' }, '{"Plaintext":"AA=="}', 'ValidationException'],
    ];
    for (const [headers, body, code] of cases) {
      const res = await post(headers, body);
      expect(res.status, body).toBe(400);
      expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
      expect(await errorType(res), body).toBe(code);
    }
  });

  it('rejects requests without credentials or with a wrong bearer token', async () => {
    const none = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'TrentService.ListKeys' },
      body: '{}',
    });
    expect(none.status).toBe(400);
    expect(await errorType(none)).toBe('MissingAuthenticationTokenException');
    const wrong = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'TrentService.ListKeys', authorization: 'Bearer nope' },
      body: '{}',
    });
    expect(await errorType(wrong)).toBe('UnrecognizedClientException');
  });

  it('refuses bodies over the limit with 413', async () => {
    const res = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'TrentService.ListKeys', authorization: `Bearer ${server.admin.token}` },
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
    expect(await errorType(res)).toBe('RequestEntityTooLargeException');
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/keysafe_requests_total\{operation="TrentService.CreateKey",code="ok"\} \d+/);
  });
});
