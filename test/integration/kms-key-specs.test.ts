// The key specs and operations added for AWS fidelity, through the real server with the AWS SDK v3: Ed25519ph,
// ML-DSA, KEY_AGREEMENT keys with DeriveSharedSecret, GetKeyLastUsage, SM2 refused; signatures checked outside Keysafe.
import { createHash, createPublicKey, diffieHellman, generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import {
  CreateKeyCommand,
  DeriveSharedSecretCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetKeyLastUsageCommand,
  GetPublicKeyCommand,
  type KMSClient,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../support/sdk.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let kms: KMSClient;
const text = (s: string) => new TextEncoder().encode(s);

async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}) {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand(input));
  return KeyMetadata!;
}
const publicKeyOf = async (KeyId: string) => kms.send(new GetPublicKeyCommand({ KeyId }));

beforeAll(async () => {
  server = await startTestServer();
  kms = server.kmsClient();
});
afterAll(async () => {
  kms.destroy();
  await server.stop();
});

describe('ECC_NIST_EDWARDS25519', () => {
  it('signs RAW with ED25519_SHA_512 and DIGEST with ED25519_PH_SHA_512, both verified outside Keysafe', async () => {
    const key = await newKey({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' });
    expect(key.SigningAlgorithms).toEqual(['ED25519_SHA_512', 'ED25519_PH_SHA_512']);
    const pub = await publicKeyOf(key.KeyId!);
    const spki = Buffer.from(pub.PublicKey!);
    const message = text('edwards');
    const pure = await kms.send(
      new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ED25519_SHA_512' }),
    );
    const nodeKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(nodeVerify(null, message, nodeKey, Buffer.from(pure.Signature!))).toBe(true);

    const digest = createHash('sha512').update(message).digest();
    const ph = await kms.send(
      new SignCommand({
        KeyId: key.KeyId,
        Message: digest,
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ED25519_PH_SHA_512',
      }),
    );
    // AWS hashes the digest once more (RFC 8032 prehash): Ed25519ph of the 64 bytes given
    expect(ed25519ph.verify(ph.Signature!, digest, spki.subarray(-32))).toBe(true);
    const verified = await kms.send(
      new VerifyCommand({
        KeyId: key.KeyId,
        Message: digest,
        MessageType: 'DIGEST',
        Signature: ph.Signature,
        SigningAlgorithm: 'ED25519_PH_SHA_512',
      }),
    );
    expect(verified.SignatureValid).toBe(true);

    const raw = await failure(
      kms.send(
        new SignCommand({
          KeyId: key.KeyId,
          Message: digest,
          MessageType: 'RAW',
          SigningAlgorithm: 'ED25519_PH_SHA_512',
        }),
      ),
    );
    expect(raw).toMatchObject({
      name: 'ValidationException',
      message: 'ED25519_PH_SHA_512 requires MessageType DIGEST.',
    });
    const short = await failure(
      kms.send(
        new SignCommand({
          KeyId: key.KeyId,
          Message: digest.subarray(1),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ED25519_PH_SHA_512',
        }),
      ),
    );
    expect(short.name).toBe('ValidationException');
  });
});

describe('ML-DSA', () => {
  it.each([
    ['ML_DSA_44', ml_dsa44],
    ['ML_DSA_65', ml_dsa65],
    ['ML_DSA_87', ml_dsa87],
  ] as const)(
    '%s signs with ML_DSA_SHAKE_256; the library verifies with the key from GetPublicKey',
    async (spec, dsa) => {
      const key = await newKey({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' });
      expect(key).toMatchObject({ KeySpec: spec, SigningAlgorithms: ['ML_DSA_SHAKE_256'] });
      const pub = await publicKeyOf(key.KeyId!);
      expect(pub).toMatchObject({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ML_DSA_SHAKE_256'] });
      const rawPublic = pub.PublicKey!.subarray(-dsa.lengths.publicKey!);
      const message = text('quantum-safe');
      const sig = await kms.send(
        new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ML_DSA_SHAKE_256' }),
      );
      expect(sig.Signature!.length).toBe(dsa.lengths.signature);
      expect(dsa.verify(sig.Signature!, message, rawPublic)).toBe(true);
      const ok = await kms.send(
        new VerifyCommand({
          KeyId: key.KeyId,
          Message: message,
          Signature: sig.Signature,
          SigningAlgorithm: 'ML_DSA_SHAKE_256',
        }),
      );
      expect(ok.SignatureValid).toBe(true);
      const digest = await failure(
        kms.send(
          new SignCommand({
            KeyId: key.KeyId,
            Message: new Uint8Array(64),
            MessageType: 'DIGEST',
            SigningAlgorithm: 'ML_DSA_SHAKE_256',
          }),
        ),
      );
      expect(digest).toMatchObject({
        name: 'ValidationException',
        message: 'ML_DSA_SHAKE_256 requires MessageType RAW or EXTERNAL_MU.',
      });
    },
  );

  it('takes a 64-byte EXTERNAL_MU and refuses one of another length', async () => {
    const key = await newKey({ KeySpec: 'ML_DSA_44', KeyUsage: 'SIGN_VERIFY' });
    const mu = new Uint8Array(64).fill(7);
    const sig = await kms.send(
      new SignCommand({
        KeyId: key.KeyId,
        Message: mu,
        MessageType: 'EXTERNAL_MU',
        SigningAlgorithm: 'ML_DSA_SHAKE_256',
      }),
    );
    const rawPublic = (await publicKeyOf(key.KeyId!)).PublicKey!.subarray(-ml_dsa44.lengths.publicKey!);
    expect(ml_dsa44.internal.verify(sig.Signature!, mu, rawPublic, { externalMu: true })).toBe(true);
    const short = await failure(
      kms.send(
        new SignCommand({
          KeyId: key.KeyId,
          Message: mu.subarray(1),
          MessageType: 'EXTERNAL_MU',
          SigningAlgorithm: 'ML_DSA_SHAKE_256',
        }),
      ),
    );
    expect(short.name).toBe('ValidationException');
    const ecdsa = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const notMl = await failure(
      kms.send(
        new SignCommand({
          KeyId: ecdsa.KeyId,
          Message: mu,
          MessageType: 'EXTERNAL_MU',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ),
    );
    expect(notMl.name).toBe('ValidationException');
  });
});

describe('KEY_AGREEMENT and DeriveSharedSecret', () => {
  it.each([
    ['ECC_NIST_P256', 'prime256v1'],
    ['ECC_NIST_P384', 'secp384r1'],
    ['ECC_NIST_P521', 'secp521r1'],
  ] as const)('%s derives the secret the peer computes with its own private key', async (spec, curve) => {
    const key = await newKey({ KeySpec: spec, KeyUsage: 'KEY_AGREEMENT' });
    expect(key).toMatchObject({ KeyUsage: 'KEY_AGREEMENT', KeyAgreementAlgorithms: ['ECDH'] });
    expect(key.SigningAlgorithms).toBeUndefined();
    const pub = await publicKeyOf(key.KeyId!);
    expect(pub).toMatchObject({ KeyUsage: 'KEY_AGREEMENT', KeyAgreementAlgorithms: ['ECDH'] });
    const peer = generateKeyPairSync('ec', { namedCurve: curve });
    const r = await kms.send(
      new DeriveSharedSecretCommand({
        KeyId: key.KeyId,
        KeyAgreementAlgorithm: 'ECDH',
        PublicKey: peer.publicKey.export({ type: 'spki', format: 'der' }),
      }),
    );
    const theirs = diffieHellman({
      privateKey: peer.privateKey,
      publicKey: createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' }),
    });
    expect(Buffer.from(r.SharedSecret!)).toEqual(theirs);
    expect(r).toMatchObject({ KeyId: key.Arn, KeyAgreementAlgorithm: 'ECDH', KeyOrigin: 'AWS_KMS' });
  });

  it("answers AWS's errors: wrong curve, wrong key usage, P256K1 agreement, Recipient, DryRun", async () => {
    const key = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({
      type: 'spki',
      format: 'der',
    });
    const derive = (input: Partial<ConstructorParameters<typeof DeriveSharedSecretCommand>[0]>) =>
      failure(
        kms.send(
          new DeriveSharedSecretCommand({ KeyId: key.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: p384, ...input }),
        ),
      );
    expect((await derive({})).name).toBe('ValidationException');
    const signer = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect((await derive({ KeyId: signer.KeyId })).name).toBe('InvalidKeyUsageException');
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
      type: 'spki',
      format: 'der',
    });
    expect((await derive({ PublicKey: p256, DryRun: true })).name).toBe('DryRunOperationException');
    expect((await derive({ PublicKey: p256, Recipient: { AttestationDocument: new Uint8Array(8) } })).name).toBe(
      'UnsupportedOperationException',
    );
    const k1 = await failure(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'KEY_AGREEMENT' })));
    expect(k1.name).toBe('ValidationException');
  });
});

describe('SM2', () => {
  it('is refused as AWS refuses it outside China Regions', async () => {
    const e = await failure(kms.send(new CreateKeyCommand({ KeySpec: 'SM2', KeyUsage: 'SIGN_VERIFY' })));
    expect(e).toMatchObject({
      name: 'UnsupportedOperationException',
      message: 'SM2 key spec is only available in China Regions.',
    });
  });
});

describe('GetKeyLastUsage', () => {
  it('is empty before any use, then names the last successful operation; a DryRun is no use', async () => {
    const key = await newKey({});
    const before = await kms.send(new GetKeyLastUsageCommand({ KeyId: key.KeyId }));
    expect(before.KeyId).toBe(key.KeyId);
    expect(before.KeyLastUsage ?? {}).toEqual({});
    expect(before.KeyCreationDate).toEqual(key.CreationDate);
    expect(before.TrackingStartDate!.getTime()).toBeGreaterThanOrEqual(key.CreationDate!.getTime());

    await failure(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x'), DryRun: true })));
    expect((await kms.send(new GetKeyLastUsageCommand({ KeyId: key.Arn }))).KeyLastUsage ?? {}).toEqual({});

    const started = Date.now();
    await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x') }));
    const after = await kms.send(new GetKeyLastUsageCommand({ KeyId: key.Arn }));
    expect(after.KeyLastUsage?.Operation).toBe('Encrypt');
    expect(after.KeyLastUsage!.Timestamp!.getTime()).toBeGreaterThanOrEqual(started - 1000);

    const signer = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    await kms.send(new SignCommand({ KeyId: signer.KeyId, Message: text('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect((await kms.send(new GetKeyLastUsageCommand({ KeyId: signer.KeyId }))).KeyLastUsage?.Operation).toBe('Sign');
    const described = await kms.send(new DescribeKeyCommand({ KeyId: signer.KeyId }));
    expect(described.KeyMetadata?.KeyId).toBe(signer.KeyId);
  });

  it('refuses alias names, as AWS does', async () => {
    const e = await failure(kms.send(new GetKeyLastUsageCommand({ KeyId: 'alias/anything' })));
    expect(e.name).toBe('NotFoundException');
  });
});
