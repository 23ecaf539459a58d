// The ciphertext blob parsers as pure functions under fuzzing: any byte string, at any offset in a
// larger buffer, is either a well-formed header or the one opaque DecryptionError; opening garbage,
// truncations and extensions of a real blob is always DecryptionError; verify answers false on any
// malformed signature and RSA decrypt throws only DecryptionError. Never a TypeError or RangeError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AeadKey,
  AsymmetricKey,
  CIPHERTEXT_OVERHEAD,
  DecryptionError,
  encodeEncryptionContext,
  generateKeyPairInsecure,
  openCiphertext,
  parseCiphertextHeader,
  randomKeyBytesInsecure,
  sealCiphertext,
} from '../../src/crypto/index.js';
import { expectTypedError, fuzzRuns, fuzzTimeout, outcomeOf } from './support.js';

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const key = AeadKey.fromBytesInsecure(randomKeyBytesInsecure(32));
const PLAINTEXT = Buffer.from('CANARY-ciphertext-plaintext');
const CONTEXT = encodeEncryptionContext({ purpose: 'fuzz' });
const sealed = sealCiphertext(key, { keyId: KEY_ID, keyVersion: 3 }, PLAINTEXT, CONTEXT);

/** The bytes placed at a random offset inside a larger buffer: parsers must honour byteOffset. */
const view = (bytes: Uint8Array, pad: number): Uint8Array => {
  const big = new Uint8Array(pad + bytes.length + 7).fill(0x4b);
  big.set(bytes, pad);
  return big.subarray(pad, pad + bytes.length);
};

/** Byte strings: random, random after a valid magic and version, and the real blob mangled. */
const blobBytes = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  fc.uint8Array({ minLength: 0, maxLength: 80 }).map((b) => Uint8Array.of(0x4b, 0x01, ...b)),
  fc.nat({ max: sealed.length }).map((n) => Uint8Array.from(sealed.subarray(0, n))),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Uint8Array.from(Buffer.concat([sealed, b]))),
  fc.tuple(fc.nat({ max: sealed.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
    const b = Uint8Array.from(sealed);
    b[i]! ^= x;
    return b;
  }),
);

describe('ciphertext parsers under fuzzing', { timeout: fuzzTimeout() }, () => {
  it('reads a header or throws DecryptionError, for any bytes at any buffer offset', () => {
    fc.assert(
      fc.property(blobBytes, fc.nat({ max: 64 }), (bytes, pad) => {
        const r = outcomeOf(() => parseCiphertextHeader(view(bytes, pad)));
        const copy = outcomeOf(() => parseCiphertextHeader(Uint8Array.from(bytes)));
        expect(r.ok).toBe(copy.ok);
        if (!r.ok) {
          expectTypedError(r.error, [DecryptionError]);
          expect((r.error as Error).message).toBe('decryption failed');
          return;
        }
        expect(r.value).toEqual((copy as { value: unknown }).value);
        expect(bytes.length).toBeGreaterThanOrEqual(CIPHERTEXT_OVERHEAD);
        expect([bytes[0], bytes[1]]).toEqual([0x4b, 0x01]);
        expect(r.value.keyId).toMatch(UUID);
        expect(r.value.keyVersion).toBeGreaterThanOrEqual(1);
        expect(r.value.keyVersion).toBeLessThanOrEqual(0xffffffff);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });

  it('opens only the untouched blob: garbage, truncated, extended or flipped blobs are DecryptionError', () => {
    expect(openCiphertext(key, sealed, CONTEXT)).toEqual(PLAINTEXT);
    fc.assert(
      fc.property(blobBytes, fc.nat({ max: 64 }), fc.boolean(), (bytes, pad, withContext) => {
        const blob = view(bytes, pad);
        const context = withContext ? CONTEXT : new Uint8Array(0);
        const r = outcomeOf(() => openCiphertext(key, blob, context));
        if (r.ok) {
          // Only the genuine blob (found by chance, e.g. a zero-length extension never happens) opens.
          expect(Buffer.from(blob).equals(sealed) && withContext).toBe(true);
          return;
        }
        expectTypedError(r.error, [DecryptionError]);
        expect(String((r.error as Error).message)).not.toContain(PLAINTEXT.toString());
      }),
      { numRuns: fuzzRuns(500) },
    );
  });

  describe('asymmetric blobs', () => {
    const specs = ['RSA_2048', 'ECC_NIST_P256', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519'] as const;
    const keys = Object.fromEntries(
      specs.map((s) => [s, AsymmetricKey.fromPkcs8Insecure(s, generateKeyPairInsecure(s).privateKeyDer)]),
    ) as Record<(typeof specs)[number], AsymmetricKey>;
    const algorithms = {
      RSA_2048: ['RSASSA_PSS_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PSS_SHA_512'],
      ECC_NIST_P256: ['ECDSA_SHA_256'],
      ECC_SECG_P256K1: ['ECDSA_SHA_256'],
      ECC_NIST_EDWARDS25519: ['ED25519_SHA_512'],
    } as const;
    const message = Buffer.from('fuzz message');

    it('verify answers false (never throws) for any malformed signature', () => {
      const signatures = Object.fromEntries(
        specs.flatMap((s) => algorithms[s].map((a) => [`${s}/${a}`, keys[s].sign(a, message, 'RAW')])),
      );
      fc.assert(
        fc.property(
          fc.constantFrom(...specs).chain((s) => fc.tuple(fc.constant(s), fc.constantFrom(...algorithms[s]))),
          fc.oneof(
            fc.uint8Array({ maxLength: 600 }),
            fc.constant(null),
            fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })),
            fc.nat({ max: 600 }),
          ),
          ([spec, alg], mangle) => {
            const good = signatures[`${spec}/${alg}`]!;
            let sig: Uint8Array;
            if (mangle === null) sig = good;
            else if (typeof mangle === 'number') sig = good.subarray(0, mangle % (good.length + 1));
            else if (Array.isArray(mangle)) {
              sig = Uint8Array.from(good);
              sig[mangle[0] % sig.length]! ^= mangle[1];
            } else sig = mangle;
            const r = outcomeOf(() => keys[spec].verify(alg, message, 'RAW', sig));
            expect(r.ok, r.ok ? '' : String(r.error)).toBe(true);
            const valid = (r as { value: boolean }).value;
            if (mangle === null) expect(valid).toBe(true);
            // A changed signature may still verify only for ECDSA's malleable encodings: never for these.
            else if (Buffer.from(sig).equals(good) === false) expect(valid).toBe(false);
          },
        ),
        { numRuns: fuzzRuns(200) },
      );
    });

    it('RSA decrypt of any bytes with any algorithm name is DecryptionError, never another error', () => {
      const rsa = keys.RSA_2048;
      const ciphertext = rsa.encrypt('RSAES_OAEP_SHA_256', PLAINTEXT);
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            fc.uint8Array({ minLength: 256, maxLength: 256 }),
            fc.tuple(fc.nat({ max: 255 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
              const b = Uint8Array.from(ciphertext);
              b[i]! ^= x;
              return b;
            }),
          ),
          fc.constantFrom('RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SYMMETRIC_DEFAULT', '__proto__', 'toString'),
          fc.constantFrom(...specs),
          (bytes, alg, spec) => {
            const r = outcomeOf(() => keys[spec].decrypt(alg as 'RSAES_OAEP_SHA_1', bytes));
            if (r.ok) {
              expect(spec).toBe('RSA_2048');
              expect(Buffer.from(bytes).equals(ciphertext) && alg === 'RSAES_OAEP_SHA_256').toBe(true);
            } else {
              expectTypedError(r.error, [DecryptionError]);
            }
          },
        ),
        { numRuns: fuzzRuns(100) },
      );
    });
  });
});
