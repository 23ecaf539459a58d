// Crypto properties through the real KMS engine on a SQLite store: every key spec and algorithm
// round-trips, and no single flipped bit in a ciphertext, signature, MAC, message or encryption
// context is ever accepted. Failures are the documented AWS error codes, never a crash, never a
// key or plaintext in the message. FUZZ_RUNS scales every property (npm run fuzz uses 5000).
import { createCipheriv, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { AppError, type ErrorCode } from '../../src/core/errors.js';
import type { SecretValue } from '../../src/core/secret-value.js';
import {
  AeadKey,
  AsymmetricKey,
  encodeEncryptionContext,
  MacKey,
  RootKey,
  RootKeyring,
} from '../../src/crypto/index.js';
import { createKmsEngine, type KeySpec, type KeyUsage, type KmsEngine } from '../../src/kms/index.js';
import { generateMaterialInsecure, loadMaterialInsecure } from '../../src/kms/material.js';
import { createSecretEnvelope } from '../../src/secrets/envelope.js';
import type { SecretRecord, SecretVersionRecord } from '../../src/secrets/index.js';
import { SecretReadCache } from '../../src/secrets/read-cache.js';
import { openStore, type Store } from '../../src/storage/index.js';
import { type TestServer, tempDir } from '../support/server.js';
import { bearerCall } from '../support/session.js';
import {
  APP_SECRETS_READER,
  policyOf,
  startWorkloadServer,
  type WorkloadServer,
  webRole,
} from '../support/workload.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 50);
/** RSA private-key operations cost milliseconds each (4096-bit: ~10 ms): a fifth of the runs. */
const SLOW_RUNS = Math.max(1, Math.ceil(RUNS / 5));
/** Sampled bit positions per run where exhausting every position would be too slow. */
const SAMPLED_FLIPS = 8;

let dir: string;
let store: Store;
let kms: KmsEngine;
const keys = new Map<string, string>();

async function key(name: string, keySpec: KeySpec, keyUsage: KeyUsage): Promise<void> {
  keys.set(name, (await kms.createKey({ keySpec, keyUsage })).keyId);
}
const keyOf = (name: string): string => keys.get(name)!;

const RSA_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
const RSA_ENCRYPTION = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;
const RSA_SIGNING = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
] as const;
const ECC: [KeySpec, string][] = [
  ['ECC_NIST_P256', 'ECDSA_SHA_256'],
  ['ECC_NIST_P384', 'ECDSA_SHA_384'],
  ['ECC_NIST_P521', 'ECDSA_SHA_512'],
  ['ECC_SECG_P256K1', 'ECDSA_SHA_256'],
  ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512'],
];
const SIGNING: [KeySpec, string][] = [
  ...RSA_SPECS.flatMap((s) => RSA_SIGNING.map((a): [KeySpec, string] => [s, a])),
  ...ECC,
];
const HMAC: [KeySpec, string, number][] = [
  ['HMAC_224', 'HMAC_SHA_224', 28],
  ['HMAC_256', 'HMAC_SHA_256', 32],
  ['HMAC_384', 'HMAC_SHA_384', 48],
  ['HMAC_512', 'HMAC_SHA_512', 64],
];
const DIGEST_BYTES: Record<string, number | undefined> = { '256': 32, '384': 48, '512': 64 };

beforeAll(async () => {
  dir = tempDir();
  store = await openStore(`sqlite:${join(dir, 'keysafe.db')}`);
  kms = createKmsEngine({
    store: store.kms,
    rootKeys: new RootKeyring(RootKey.fromBytesInsecure(RootKey.generateBytesInsecure())),
    clock: systemClock,
    partition: { region: 'us-east-1', accountId: '000000000000' },
  });
  await key('sym', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  await key('other-sym', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  // Version 3 (0b011): a flipped version bit lands on versions 1 and 2, which exist
  await key('rotated', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  await kms.rotateKeyOnDemand(keyOf('rotated'));
  await kms.rotateKeyOnDemand(keyOf('rotated'));
  for (const spec of RSA_SPECS) {
    await key(`${spec}/enc`, spec, 'ENCRYPT_DECRYPT');
    await key(`${spec}/sign`, spec, 'SIGN_VERIFY');
  }
  for (const [spec] of ECC) await key(spec, spec, 'SIGN_VERIFY');
  for (const [spec] of HMAC) await key(spec, spec, 'GENERATE_VERIFY_MAC');
}, 120_000);

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// --- helpers -------------------------------------------------------------------------------------

function flip(bytes: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[bit >> 3] = copy[bit >> 3]! ^ (1 << (bit & 7));
  return copy;
}

/** `count` distinct bit positions of a `bits`-bit blob, spread from a run's seed. */
function sampleBits(bits: number, seed: number, count = SAMPLED_FLIPS): number[] {
  const out = new Set<number>();
  for (let i = 0; out.size < Math.min(count, bits); i++) out.add(((seed + i * 0x9e3779b1) % bits) >>> 0);
  return [...out];
}

/**
 * The AppError the operation fails with; fails the test if it succeeds or throws anything else.
 * The message must not carry any of `secrets` (plaintext, data keys) in any common encoding.
 */
async function failure(op: () => Promise<unknown>, code: ErrorCode, secrets: Uint8Array[] = []): Promise<AppError> {
  let error: unknown;
  try {
    await op();
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected ${code}, but the operation succeeded`);
  if (!(error instanceof AppError)) throw error;
  if (error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
  for (const s of secrets) {
    if (s.length < 8) continue;
    const b = Buffer.from(s);
    for (const form of [b.toString('hex'), b.toString('base64'), b.toString('utf8'), b.toString('latin1')]) {
      if (form.length >= 8 && error.message.includes(form)) throw new Error(`${code} message reveals a secret`);
    }
  }
  return error;
}

// Strings as they arrive from JSON: any code point, and sometimes a lone surrogate ("\ud800").
const char = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
);
const text = (minLength: number, maxLength: number) => fc.string({ unit: char, minLength, maxLength });
const context = (minKeys = 0) => fc.dictionary(text(1, 12), text(0, 24), { minKeys, maxKeys: 5 });
const plaintext = (maxLength: number) => fc.uint8Array({ minLength: 1, maxLength });

/** The context with one bit of one UTF-16 code unit of one key or value flipped. */
function flipContext(ctx: Record<string, string>, entry: number, inKey: boolean, bit: number): Record<string, string> {
  const entries = Object.entries(ctx);
  const [k, v] = entries[entry % entries.length]!;
  const target = inKey ? k : v;
  if (target.length === 0) return { ...Object.fromEntries(entries), [k]: String.fromCharCode(1 << (bit % 16)) };
  const at = (bit >> 4) % target.length;
  const flipped =
    target.slice(0, at) + String.fromCharCode(target.charCodeAt(at) ^ (1 << (bit % 16))) + target.slice(at + 1);
  const out = new Map(entries);
  out.delete(k);
  if (inKey) out.set(flipped, v);
  else out.set(k, flipped);
  return Object.fromEntries(out);
}

const sameContext = (a: Record<string, string>, b: Record<string, string>) =>
  Buffer.from(encodeEncryptionContext(a)).equals(Buffer.from(encodeEncryptionContext(b)));

// --- symmetric encryption ------------------------------------------------------------------------

describe('symmetric KMS ciphertexts (SYMMETRIC_DEFAULT)', () => {
  it('round-trip any plaintext under any encryption context, on a fresh key and on a rotated one', async () => {
    await fc.assert(
      fc.asyncProperty(plaintext(4096), context(), fc.constantFrom('sym', 'rotated'), async (pt, ctx, name) => {
        const { ciphertext, keyId } = await kms.encrypt(keyOf(name), pt, ctx);
        expect(ciphertext.length).toBe(pt.length + 50);
        if (pt.length >= 16) expect(ciphertext.includes(Buffer.from(pt))).toBe(false);
        const out = await kms.decrypt(ciphertext, ctx);
        expect(out.keyId).toBe(keyId);
        expect(Buffer.from(out.plaintext).equals(Buffer.from(pt))).toBe(true);
        const named = await kms.decrypt(ciphertext, ctx, keyOf(name));
        expect(Buffer.from(named.plaintext).equals(Buffer.from(pt))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('reject every single-bit flip anywhere in the blob with InvalidCiphertextException', async () => {
    await fc.assert(
      fc.asyncProperty(plaintext(24), context(), fc.constantFrom('sym', 'rotated'), async (pt, ctx, name) => {
        const { ciphertext } = await kms.encrypt(keyOf(name), pt, ctx);
        // Exhaustive: every bit of header, nonce, body and tag
        for (let bit = 0; bit < ciphertext.length * 8; bit++) {
          await failure(() => kms.decrypt(flip(ciphertext, bit), ctx), 'InvalidCiphertextException', [pt]);
        }
      }),
      { numRuns: SLOW_RUNS },
    );
  });

  it('with KeyId given, a flipped key-id bit is IncorrectKeyException and any other flip InvalidCiphertextException', async () => {
    await fc.assert(
      fc.asyncProperty(plaintext(64), context(), fc.nat(), async (pt, ctx, seed) => {
        const { ciphertext } = await kms.encrypt(keyOf('rotated'), pt, ctx);
        for (const bit of sampleBits(ciphertext.length * 8, seed, 16)) {
          // Bytes 2..17 hold the key id
          const code = bit >= 16 && bit < 144 ? 'IncorrectKeyException' : 'InvalidCiphertextException';
          await failure(() => kms.decrypt(flip(ciphertext, bit), ctx, keyOf('rotated')), code, [pt]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('reject a blob whose header is rewritten to name another existing key or key version', async () => {
    const pt = Buffer.from('header substitution');
    const { ciphertext } = await kms.encrypt(keyOf('rotated'), pt, { purpose: 'test' });
    const otherKey = Buffer.from(ciphertext);
    otherKey.write(keyOf('other-sym').replaceAll('-', ''), 2, 16, 'hex');
    await failure(() => kms.decrypt(otherKey, { purpose: 'test' }), 'InvalidCiphertextException', [pt]);
    for (const version of [1, 2]) {
      const older = Buffer.from(ciphertext);
      older.writeUInt32BE(version, 18);
      await failure(() => kms.decrypt(older, { purpose: 'test' }), 'InvalidCiphertextException', [pt]);
    }
    // Truncations and extensions too
    for (const cut of [0, 1, 21, 22, 33, 34, ciphertext.length - 1]) {
      await failure(() => kms.decrypt(ciphertext.subarray(0, cut), { purpose: 'test' }), 'InvalidCiphertextException');
    }
    await failure(
      () => kms.decrypt(Buffer.concat([ciphertext, Buffer.of(0)]), { purpose: 'test' }),
      'InvalidCiphertextException',
    );
  });

  it('reject a context with any one bit of any key or value flipped, or a pair added or removed', async () => {
    await fc.assert(
      fc.asyncProperty(
        plaintext(64),
        context(1),
        fc.nat(),
        fc.boolean(),
        fc.nat(),
        text(1, 8),
        async (pt, ctx, entry, inKey, bit, extra) => {
          const { ciphertext } = await kms.encrypt(keyOf('sym'), pt, ctx);
          const flipped = flipContext(ctx, entry, inKey, bit);
          // A different context (as strings) must be a different encoding, and must not decrypt
          expect(sameContext(flipped, ctx)).toBe(false);
          await failure(() => kms.decrypt(ciphertext, flipped), 'InvalidCiphertextException', [pt]);
          const removed = Object.fromEntries(Object.entries(ctx).slice(1));
          await failure(() => kms.decrypt(ciphertext, removed), 'InvalidCiphertextException', [pt]);
          if (!Object.hasOwn(ctx, extra)) {
            const added = Object.fromEntries([...Object.entries(ctx), [extra, '']]);
            await failure(() => kms.decrypt(ciphertext, added), 'InvalidCiphertextException', [pt]);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('treat contexts that differ only in a lone surrogate as different contexts', async () => {
    // JSON "\ud800", "\udc00" and "\ufffd" are three different strings; UTF-8 would encode all three as EF BF BD
    const { ciphertext } = await kms.encrypt(keyOf('sym'), Buffer.from('x'), { k: '\ud800' });
    expect((await kms.decrypt(ciphertext, { k: '\ud800' })).plaintext.toString()).toBe('x');
    for (const other of ['\udc00', '\ufffd', '\ud800\udc00', '']) {
      await failure(() => kms.decrypt(ciphertext, { k: other }), 'InvalidCiphertextException');
    }
  });

  it('GenerateDataKey: the CiphertextBlob decrypts to the data key, and no flipped bit does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1024 }), context(), fc.nat(), async (bytes, ctx, seed) => {
        const dk = await kms.generateDataKey(keyOf('sym'), bytes, ctx);
        expect(dk.plaintext).toHaveLength(bytes);
        expect((await kms.decrypt(dk.ciphertext, ctx)).plaintext.equals(dk.plaintext)).toBe(true);
        const bits = dk.ciphertext.length * 8;
        const positions = bits <= 64 * 8 * 2 ? Array.from({ length: bits }, (_, i) => i) : sampleBits(bits, seed, 64);
        for (const bit of positions) {
          await failure(() => kms.decrypt(flip(dk.ciphertext, bit), ctx), 'InvalidCiphertextException', [dk.plaintext]);
        }
      }),
      { numRuns: Math.max(1, Math.ceil(RUNS / 2)) },
    );
  });

  it('GenerateDataKeyPair: the private key ciphertext decrypts to the private key, and no flipped bit does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('ECC_NIST_P256', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519') as fc.Arbitrary<
          'ECC_NIST_P256' | 'ECC_SECG_P256K1' | 'ECC_NIST_EDWARDS25519'
        >,
        context(),
        async (spec, ctx) => {
          const pair = await kms.generateDataKeyPair(keyOf('sym'), spec, ctx);
          const blob = pair.privateKeyCiphertext;
          expect((await kms.decrypt(blob, ctx)).plaintext.equals(pair.privateKeyPlaintext)).toBe(true);
          for (let bit = 0; bit < blob.length * 8; bit++) {
            await failure(() => kms.decrypt(flip(blob, bit), ctx), 'InvalidCiphertextException', [
              pair.privateKeyPlaintext,
            ]);
          }
        },
      ),
      { numRuns: SLOW_RUNS },
    );
  });

  it('ReEncrypt refuses a flipped source blob and its output decrypts under the destination key', async () => {
    await fc.assert(
      fc.asyncProperty(plaintext(256), context(), context(), fc.nat(), async (pt, src, dst, seed) => {
        const { ciphertext } = await kms.encrypt(keyOf('sym'), pt, src);
        const { destination } = await kms.reEncrypt({
          blob: ciphertext,
          sourceContext: src,
          destinationKeyRef: keyOf('other-sym'),
          destinationContext: dst,
        });
        expect((await kms.decrypt(destination.ciphertext, dst)).plaintext.equals(Buffer.from(pt))).toBe(true);
        for (const bit of sampleBits(ciphertext.length * 8, seed)) {
          await failure(
            () =>
              kms.reEncrypt({
                blob: flip(ciphertext, bit),
                sourceContext: src,
                destinationKeyRef: keyOf('other-sym'),
                destinationContext: dst,
              }),
            'InvalidCiphertextException',
            [pt],
          );
        }
      }),
      { numRuns: Math.max(1, Math.ceil(RUNS / 2)) },
    );
  });
});

// --- RSA encryption ------------------------------------------------------------------------------

describe('RSA-OAEP KMS ciphertexts', () => {
  const cases = RSA_SPECS.flatMap((spec) => RSA_ENCRYPTION.map((alg) => [spec, alg] as const));
  const MAX: Record<string, number> = { RSAES_OAEP_SHA_1: 42, RSAES_OAEP_SHA_256: 66 };

  it.each(cases)('%s %s round-trips any plaintext up to the limit and refuses every flipped bit', async (spec, alg) => {
    const max = Number(spec.slice(4)) / 8 - MAX[alg]!;
    const ref = keyOf(`${spec}/enc`);
    const other = alg === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
    await fc.assert(
      fc.asyncProperty(plaintext(max), fc.nat(), async (pt, seed) => {
        const { ciphertext } = await kms.encrypt(ref, pt, undefined, alg);
        expect(ciphertext).toHaveLength(Number(spec.slice(4)) / 8);
        expect((await kms.decrypt(ciphertext, undefined, ref, alg)).plaintext.equals(Buffer.from(pt))).toBe(true);
        for (const bit of sampleBits(ciphertext.length * 8, seed)) {
          await failure(() => kms.decrypt(flip(ciphertext, bit), undefined, ref, alg), 'InvalidCiphertextException', [
            pt,
          ]);
        }
        // The other OAEP hash, a truncated and an extended blob
        await failure(() => kms.decrypt(ciphertext, undefined, ref, other), 'InvalidCiphertextException', [pt]);
        await failure(() => kms.decrypt(ciphertext.subarray(1), undefined, ref, alg), 'InvalidCiphertextException', [
          pt,
        ]);
        await failure(
          () => kms.decrypt(Buffer.concat([Buffer.of(0), ciphertext]), undefined, ref, alg),
          'InvalidCiphertextException',
          [pt],
        );
      }),
      { numRuns: SLOW_RUNS },
    );
    // One past the limit is a ValidationException, not a crash
    await failure(() => kms.encrypt(ref, Buffer.alloc(max + 1, 1), undefined, alg), 'ValidationException');
  });
});

// --- signatures ----------------------------------------------------------------------------------

describe('Sign and Verify', () => {
  const messages = (alg: string) => {
    const digest = alg.startsWith('ED25519') ? undefined : DIGEST_BYTES[alg.slice(-3)];
    const raw = fc.record({ type: fc.constant('RAW' as const), message: plaintext(4096) });
    if (digest === undefined) return raw;
    const hashed = fc.record({
      type: fc.constant('DIGEST' as const),
      message: fc.uint8Array({ minLength: digest, maxLength: digest }),
    });
    return fc.oneof(raw, hashed);
  };

  it.each(SIGNING)(
    '%s %s verifies its own signatures and refuses any flipped signature or message bit',
    async (spec, alg) => {
      const ref = spec.startsWith('RSA') ? keyOf(`${spec}/sign`) : keyOf(spec);
      await fc.assert(
        fc.asyncProperty(messages(alg), fc.nat(), async ({ type, message }, seed) => {
          const { signature } = await kms.sign(ref, message, type, alg);
          await kms.verify(ref, message, type, alg, signature);
          for (const bit of sampleBits(signature.length * 8, seed, 4)) {
            await failure(
              () => kms.verify(ref, message, type, alg, flip(signature, bit)),
              'KMSInvalidSignatureException',
            );
          }
          for (const bit of sampleBits(message.length * 8, seed, 2)) {
            await failure(
              () => kms.verify(ref, flip(message, bit), type, alg, signature),
              'KMSInvalidSignatureException',
            );
          }
          await failure(
            () => kms.verify(ref, message, type, alg, signature.subarray(0, signature.length - 1)),
            'KMSInvalidSignatureException',
          );
          await failure(
            () => kms.verify(ref, message, type, alg, Buffer.concat([signature, Buffer.of(0)])),
            'KMSInvalidSignatureException',
          );
        }),
        // RSA private-key operations and noble's ECDSA arithmetic (the DIGEST path) cost milliseconds
        {
          numRuns:
            spec.startsWith('RSA') || spec === 'ECC_NIST_P384' || spec === 'ECC_NIST_P521'
              ? SLOW_RUNS
              : spec.startsWith('ECC_NIST_EDWARDS')
                ? RUNS
                : Math.ceil(RUNS / 2),
        },
      );
    },
  );

  // RAW verification runs in OpenSSL, DIGEST in the wrapper's own code (PSS, PKCS#1 DigestInfo, noble ECDSA): both
  const exhaustive: [KeySpec, string, 'RAW' | 'DIGEST'][] = [
    ['RSA_2048', 'RSASSA_PSS_SHA_256', 'DIGEST'],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', 'DIGEST'],
    ['RSA_2048', 'RSASSA_PSS_SHA_512', 'RAW'],
    ...ECC.map(([spec, alg]): [KeySpec, string, 'RAW' | 'DIGEST'] => [spec, alg, 'RAW']),
    ['ECC_NIST_P256', 'ECDSA_SHA_256', 'DIGEST'],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'DIGEST'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384', 'DIGEST'],
    ['ECC_NIST_P521', 'ECDSA_SHA_512', 'DIGEST'],
  ];
  it.each(exhaustive)('%s %s %s: no single-bit flip of a signature verifies', async (spec, alg, type) => {
    const ref = spec.startsWith('RSA') ? keyOf(`${spec}/sign`) : keyOf(spec);
    const message = type === 'RAW' ? Buffer.from('exhaustive') : Buffer.alloc(DIGEST_BYTES[alg.slice(-3)]!, 0x5a);
    const { signature } = await kms.sign(ref, message, type, alg);
    const bits = signature.length * 8;
    // noble's DIGEST verify (1-10 ms each) and OpenSSL's P-384/P-521 (~1 ms): FUZZ_RUNS positions (all of them
    // with FUZZ_RUNS=5000)
    const slow = (type === 'DIGEST' && spec.startsWith('ECC')) || spec === 'ECC_NIST_P384' || spec === 'ECC_NIST_P521';
    const positions = slow ? sampleBits(bits, RUNS, Math.min(bits, RUNS)) : Array.from({ length: bits }, (_, i) => i);
    for (const bit of positions) {
      await failure(() => kms.verify(ref, message, type, alg, flip(signature, bit)), 'KMSInvalidSignatureException');
    }
  });

  it("refuses another key's signature of the same message", async () => {
    const message = Buffer.from('same message');
    const { signature } = await kms.sign(keyOf('RSA_2048/sign'), message, 'RAW', 'RSASSA_PSS_SHA_256');
    await failure(
      () => kms.verify(keyOf('RSA_3072/sign'), message, 'RAW', 'RSASSA_PSS_SHA_256', signature),
      'KMSInvalidSignatureException',
    );
    const ec = await kms.sign(keyOf('ECC_NIST_P256'), message, 'RAW', 'ECDSA_SHA_256');
    await failure(
      () => kms.verify(keyOf('ECC_SECG_P256K1'), message, 'RAW', 'ECDSA_SHA_256', ec.signature),
      'KMSInvalidSignatureException',
    );
  });
});

// --- MACs ----------------------------------------------------------------------------------------

describe('GenerateMac and VerifyMac', () => {
  it.each(HMAC)(
    '%s %s verifies its own MACs and refuses every flipped MAC bit and any flipped message bit',
    async (spec, alg, length) => {
      const ref = keyOf(spec);
      await fc.assert(
        fc.asyncProperty(plaintext(4096), fc.nat(), async (message, seed) => {
          const { mac } = await kms.generateMac(ref, message, alg);
          expect(mac).toHaveLength(length);
          await kms.verifyMac(ref, message, alg, mac);
          for (let bit = 0; bit < mac.length * 8; bit++) {
            await failure(() => kms.verifyMac(ref, message, alg, flip(mac, bit)), 'KMSInvalidMacException');
          }
          for (const bit of sampleBits(message.length * 8, seed, 4)) {
            await failure(() => kms.verifyMac(ref, flip(message, bit), alg, mac), 'KMSInvalidMacException');
          }
          await failure(() => kms.verifyMac(ref, message, alg, mac.subarray(0, 16)), 'KMSInvalidMacException');
          await failure(
            () => kms.verifyMac(ref, message, alg, Buffer.concat([mac, Buffer.of(0)])),
            'KMSInvalidMacException',
          );
        }),
        { numRuns: RUNS },
      );
    },
  );

  it("refuses another HMAC key's MAC of the same message", async () => {
    const { keyId } = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const { mac } = await kms.generateMac(keyId, Buffer.from('m'), 'HMAC_SHA_256');
    await failure(
      () => kms.verifyMac(keyOf('HMAC_256'), Buffer.from('m'), 'HMAC_SHA_256', mac),
      'KMSInvalidMacException',
    );
  });
});

// --- secret value envelope -----------------------------------------------------------------------

describe('secret value envelope (data key under KMS, value under the data key)', () => {
  const newEnvelope = () => createSecretEnvelope(kms, new SecretReadCache(1000, 100, () => Date.now()));
  const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf';
  const secret = { arn, kmsKeyId: undefined } as unknown as SecretRecord;

  it('round-trips any value and refuses every flipped bit of the wrapped key or the sealed value', async () => {
    await fc.assert(
      fc.asyncProperty(
        // SecretString is UTF-8: a lone surrogate in it is stored as U+FFFD, so values here are well formed
        fc.oneof(
          fc.record({ string: fc.string({ unit: 'binary', minLength: 1, maxLength: 512 }) }),
          fc.record({ binary: plaintext(512).map((b) => Buffer.from(b)) }),
        ) as fc.Arbitrary<SecretValue>,
        fc.uuid(),
        fc.nat(),
        async (value, versionId, seed) => {
          const sealed = await newEnvelope().seal({ ...secret, kmsKeyId: keyOf('sym') }, versionId, value);
          const version: SecretVersionRecord = { secretArn: arn, versionId, createdAt: 0, stages: [], ...sealed };
          expect(await newEnvelope().open(version)).toEqual(value);
          const secretBytes = value.binary ?? Buffer.from(value.string!, 'utf8');
          // Flipped versions never open, so this envelope's read cache never holds the value
          const envelope = newEnvelope();
          for (const field of ['wrappedKey', 'ciphertext'] as const) {
            const bits = sealed[field].length * 8;
            const positions = bits <= 128 * 8 ? Array.from({ length: bits }, (_, i) => i) : sampleBits(bits, seed, 64);
            for (const bit of positions) {
              await failure(
                () => envelope.open({ ...version, [field]: flip(sealed[field], bit) }),
                'DecryptionFailure',
                [secretBytes],
              );
            }
          }
          // The value is bound to its secret and version
          await failure(() => envelope.open({ ...version, secretArn: `${arn}x` }), 'DecryptionFailure', [secretBytes]);
          await failure(
            () => envelope.open({ ...version, versionId: versionId.replace(/^./, (c) => (c === '0' ? '1' : '0')) }),
            'DecryptionFailure',
            [secretBytes],
          );
        },
      ),
      { numRuns: SLOW_RUNS },
    );
  });

  it('opens a version stored in the v1 layout, sealed here with node:crypto rather than the envelope', async () => {
    const versionId = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const value = 'sealed before the refactor \u00e9';
    // The KMS half is the engine's; the local half follows the documented layout byte for byte
    const dataKey = await kms.generateDataKey(keyOf('sym'), 32, { SecretARN: arn, SecretVersionId: versionId });
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey.plaintext, nonce, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(`keysafe:secret-value:v1\0${arn}\0${versionId}`));
    const ciphertext = Buffer.concat([nonce, cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const version: SecretVersionRecord = {
      secretArn: arn,
      versionId,
      createdAt: 0,
      stages: [],
      kmsKeyArn: dataKey.keyId,
      wrappedKey: dataKey.ciphertext,
      ciphertext,
      binary: false,
    };
    expect(await newEnvelope().open(version)).toEqual({ string: value });
  });
});

// --- key material handling -----------------------------------------------------------------------

describe('loading unwrapped key material', () => {
  it.each(['SYMMETRIC_DEFAULT', 'HMAC_256', 'ECC_NIST_P256', 'ECC_NIST_EDWARDS25519'] as const)(
    '%s: zeroes the plaintext bytes once the key object holds them, and the key still works',
    (spec) => {
      const bytes = generateMaterialInsecure(spec);
      const copy = Buffer.from(bytes);
      const key = loadMaterialInsecure(spec, bytes);
      expect(bytes.every((b) => b === 0)).toBe(true);
      const again = loadMaterialInsecure(spec, copy);
      if (key instanceof AeadKey && again instanceof AeadKey) {
        expect(again.open(key.seal(Buffer.from('m'), Buffer.alloc(0)), Buffer.alloc(0)).toString()).toBe('m');
      } else if (key instanceof MacKey && again instanceof MacKey) {
        expect(again.verify('HMAC_SHA_256', Buffer.from('m'), key.generate('HMAC_SHA_256', Buffer.from('m')))).toBe(
          true,
        );
      } else if (key instanceof AsymmetricKey && again instanceof AsymmetricKey) {
        const alg = spec === 'ECC_NIST_P256' ? 'ECDSA_SHA_256' : 'ED25519_SHA_512';
        expect(again.verify(alg, Buffer.from('m'), 'RAW', key.sign(alg, Buffer.from('m'), 'RAW'))).toBe(true);
      } else {
        throw new Error(`unexpected material type for ${spec}`);
      }
    },
  );

  it('zeroes the bytes even when they are not valid material for the spec', () => {
    const bytes = Buffer.alloc(40, 7);
    expect(() => loadMaterialInsecure('ECC_NIST_P256', bytes)).toThrow();
    expect(bytes.every((b) => b === 0)).toBe(true);
  });
});

// --- key separation on the real server: the fixes for three review findings ------------------------

describe('server keys stay out of workload reach (real server, real HTTP)', () => {
  let workload: WorkloadServer;
  let server: TestServer;
  const call = (token: string, target: string, body: object) => bearerCall(server.url, token, target, body);
  const login = (publicKey?: object) => workload.session('web', {}, publicKey);

  beforeAll(async () => {
    workload = await startWorkloadServer({
      roles: [
        // A common broad grant: MACs with any key, and the app's own secrets
        webRole({
          statements: [
            { Effect: 'Allow', Action: ['kms:GenerateMac', 'kms:VerifyMac'], Resource: '*' },
            APP_SECRETS_READER,
          ],
        }),
        {
          name: 'ops',
          subjects: ['system:serviceaccount:ops:admin'],
          policy: policyOf([{ Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' }]),
        },
      ],
    });
    server = workload.server;
    for (const [Name, SecretString] of [
      ['ops/root-db', 'ops-only-value'],
      ['app/db', 'app-value'],
    ]) {
      expect((await call(server.admin.token, 'secretsmanager.CreateSecret', { Name, SecretString })).status).toBe(200);
    }
  }, 60_000);

  afterAll(async () => {
    await workload?.stop();
  });

  // BUG (src/server/services.ts openSessions, src/kms/managed-key.ts): alias/keysafe/sessions is created with the default
  // key policy (the account may use it), so a role allowed kms:GenerateMac on "*" MACs a session token body of
  // its choosing and becomes any role, with any claims. Fix: give the managed keys a key policy that names no
  // principal (the engine uses them directly), and re-apply it to existing ones at start.
  it('a workload cannot mint a session token for another role with GenerateMac on the session key', async () => {
    const token = await login();
    const now = Date.now();
    const payload = { r: 'ops', s: 'forged', n: 'forged', c: {}, v: 'login', iat: now, exp: now + 3_600_000, j: 'x' };
    const body = `ks1.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    const mac = await call(token, 'TrentService.GenerateMac', {
      KeyId: 'alias/keysafe/sessions',
      Message: Buffer.from(body).toString('base64'),
      MacAlgorithm: 'HMAC_SHA_256',
    });
    if (mac.status === 200) {
      const forged = `${body}.${Buffer.from(((await mac.json()) as { Mac: string }).Mac, 'base64').toString('base64url')}`;
      const read = await call(forged, 'secretsmanager.GetSecretValue', { SecretId: 'ops/root-db' });
      expect(await read.text()).not.toContain('ops-only-value');
    }
    expect(mac.status).toBe(400);
  });

  // BUG (src/server/aws-json.ts:187, src/server/terraform-routes.ts:58 via src/auth/sessions.ts verifyBearer): a
  // session that logged in with a publicKey (an agent's) is also accepted as a Bearer token on POST /, which
  // answers GetSecretValue in plaintext. Whoever sees the agent's Authorization header (the TLS-terminating proxy
  // the JWE is meant to defeat) replays it there. Fix: refuse publicKey sessions outside /v1/secrets and /v1/watch.
  it("an agent's session token does not read values in plaintext outside the agent API", async () => {
    const token = await login({ kty: 'EC', crv: 'P-256', ...AGENT_PUBLIC_POINT });
    const res = await call(token, 'secretsmanager.GetSecretValue', { SecretId: 'app/db' });
    expect(await res.text()).not.toContain('app-value');
  });

  // Regression: a token verified once was served from the session cache without the key's state being
  // checked, so disabling the session key ended only the sessions this process had not seen yet.
  it('disabling the session key ends sessions already in use', async () => {
    const token = await login();
    expect((await call(token, 'secretsmanager.GetSecretValue', { SecretId: 'app/db' })).status).toBe(200);
    // DisableKey takes a key id or key ARN only, as AWS's: look the alias up first.
    const described = await call(server.admin.token, 'TrentService.DescribeKey', { KeyId: 'alias/keysafe/sessions' });
    const { KeyId } = ((await described.json()) as { KeyMetadata: { KeyId: string } }).KeyMetadata;
    expect((await call(server.admin.token, 'TrentService.DisableKey', { KeyId })).status).toBe(200);
    try {
      const after = await call(token, 'secretsmanager.GetSecretValue', { SecretId: 'app/db' });
      expect(await after.text()).not.toContain('app-value');
    } finally {
      await call(server.admin.token, 'TrentService.EnableKey', { KeyId });
    }
  });
});

/** A valid P-256 public point (RFC 6979 A.2.5): the agent API only ever encrypts to it. */
const AGENT_PUBLIC_POINT = {
  x: 'YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y',
  y: 'eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk',
};
