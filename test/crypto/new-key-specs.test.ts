// Ed25519ph, ML-DSA and ECDH in src/crypto: known answers, and agreement with independent implementations.
import { createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { shake256 } from '@noble/hashes/sha3.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import {
  AsymmetricKey,
  type AsymmetricKeySpec,
  generateKeyPairInsecure,
  generatePrivateKeyInsecure,
  loadPrivateKeyInsecure,
} from '../../src/crypto/asymmetric.js';
import { PeerKeyError } from '../../src/crypto/errors.js';
import { MlDsaKey, type MlDsaSpec } from '../../src/crypto/ml-dsa.js';
import { messageRule } from '../../src/crypto/signing-algorithms.js';

const hex = (s: string) => Buffer.from(s, 'hex');
// PKCS#8 of an Ed25519 key: this fixed header, then the 32-byte seed (RFC 8410 §7)
const ED25519_PKCS8_PREFIX = hex('302e020100300506032b657004220420');

// RFC 8032 §7.3, the one Ed25519ph test vector ("abc")
const RFC8032_PH = {
  secret: hex('833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42'),
  publicKey: hex('ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf'),
  message: hex('616263'),
  signature: hex(
    '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41' +
      '31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406',
  ),
};

describe('Ed25519ph (ED25519_PH_SHA_512)', () => {
  it('the library reproduces the RFC 8032 Ed25519ph vector', () => {
    expect(Buffer.from(ed25519ph.sign(RFC8032_PH.message, RFC8032_PH.secret))).toEqual(RFC8032_PH.signature);
    expect(ed25519ph.verify(RFC8032_PH.signature, RFC8032_PH.message, RFC8032_PH.publicKey)).toBe(true);
  });

  it('a key from the RFC seed signs a DIGEST as Ed25519ph of those 64 bytes (hashed again, as AWS does)', () => {
    const key = AsymmetricKey.fromPkcs8Insecure(
      'ECC_NIST_EDWARDS25519',
      Buffer.concat([ED25519_PKCS8_PREFIX, RFC8032_PH.secret]),
    );
    expect(key.publicKeyDer().subarray(-32)).toEqual(RFC8032_PH.publicKey);
    const digest = hex('ab'.repeat(64));
    const sig = key.sign('ED25519_PH_SHA_512', digest, 'DIGEST');
    // Deterministic: exactly the library's Ed25519ph signature over the 64 bytes
    expect(sig).toEqual(Buffer.from(ed25519ph.sign(digest, RFC8032_PH.secret)));
    expect(ed25519ph.verify(sig, digest, RFC8032_PH.publicKey)).toBe(true);
    expect(key.verify('ED25519_PH_SHA_512', digest, 'DIGEST', sig)).toBe(true);
    sig[0]! ^= 1;
    expect(key.verify('ED25519_PH_SHA_512', digest, 'DIGEST', sig)).toBe(false);
  });

  it('ED25519_PH_SHA_512 takes DIGEST only, ED25519_SHA_512 RAW only', () => {
    const key = AsymmetricKey.fromPkcs8Insecure(
      'ECC_NIST_EDWARDS25519',
      generateKeyPairInsecure('ECC_NIST_EDWARDS25519').privateKeyDer,
    );
    expect(() => key.sign('ED25519_PH_SHA_512', Buffer.alloc(64), 'RAW')).toThrow(TypeError);
    expect(() => key.sign('ED25519_PH_SHA_512', Buffer.alloc(32), 'DIGEST')).toThrow(TypeError);
    expect(() => key.sign('ED25519_SHA_512', Buffer.alloc(64), 'DIGEST')).toThrow(TypeError);
    expect(messageRule('ED25519_PH_SHA_512', 'DIGEST')).toBe(64);
    expect(messageRule('ED25519_PH_SHA_512', 'RAW')).toBe('refused');
  });
});

const ML_DSA: [MlDsaSpec, typeof ml_dsa44, string][] = [
  ['ML_DSA_44', ml_dsa44, '11'],
  ['ML_DSA_65', ml_dsa65, '12'],
  ['ML_DSA_87', ml_dsa87, '13'],
];

describe('ML-DSA (ML_DSA_SHAKE_256, FIPS 204)', () => {
  it.each(ML_DSA)(
    '%s: SPKI with its NIST OID, RAW signatures the library verifies with the exported key',
    (spec, dsa, oid) => {
      const key = loadPrivateKeyInsecure(spec, generatePrivateKeyInsecure(spec));
      expect(key).toBeInstanceOf(MlDsaKey);
      const spki = key.publicKeyDer();
      const publicKey = spki.subarray(spki.length - dsa.lengths.publicKey!);
      // SEQUENCE { SEQUENCE { id-ml-dsa-NN } BIT STRING (0 unused bits) pk }
      expect(spki.subarray(4, 17)).toEqual(hex(`300b06096086480165030403${oid}`));
      expect(spki.subarray(17, 22)).toEqual(
        Buffer.from([0x03, 0x82, (publicKey.length + 1) >> 8, (publicKey.length + 1) & 0xff, 0]),
      );
      const message = Buffer.from('post-quantum');
      const sig = key.sign('ML_DSA_SHAKE_256', message, 'RAW');
      expect(sig.length).toBe(dsa.lengths.signature);
      expect(dsa.verify(sig, message, publicKey)).toBe(true);
      expect(key.verify('ML_DSA_SHAKE_256', message, 'RAW', sig)).toBe(true);
      expect(key.verify('ML_DSA_SHAKE_256', Buffer.from('other'), 'RAW', sig)).toBe(false);
      // Another key pair's signature does not verify
      const other = dsa.keygen(new Uint8Array(32)).secretKey;
      expect(key.verify('ML_DSA_SHAKE_256', message, 'RAW', Buffer.from(dsa.sign(message, other)))).toBe(false);
    },
  );

  it('EXTERNAL_MU signs µ = SHAKE256(SHAKE256(pk) ‖ 0 ‖ 0 ‖ M), verifiable as a pure signature of M', () => {
    const key = loadPrivateKeyInsecure('ML_DSA_44', generatePrivateKeyInsecure('ML_DSA_44'));
    const publicKey = key.publicKeyDer().subarray(-ml_dsa44.lengths.publicKey!);
    const message = Buffer.from('signed elsewhere, hashed here');
    const tr = shake256(publicKey, { dkLen: 64 });
    const mu = shake256.create({ dkLen: 64 }).update(tr).update(Uint8Array.of(0, 0)).update(message).digest();
    const sig = key.sign('ML_DSA_SHAKE_256', mu, 'EXTERNAL_MU');
    expect(ml_dsa44.verify(sig, message, publicKey)).toBe(true);
    expect(key.verify('ML_DSA_SHAKE_256', mu, 'EXTERNAL_MU', sig)).toBe(true);
    expect(key.verify('ML_DSA_SHAKE_256', message, 'RAW', sig)).toBe(true);
    expect(() => key.sign('ML_DSA_SHAKE_256', mu.subarray(1), 'EXTERNAL_MU')).toThrow(TypeError);
    expect(() => key.sign('ML_DSA_SHAKE_256', mu, 'DIGEST')).toThrow(TypeError);
    expect(() => key.sign('ECDSA_SHA_256', message, 'RAW')).toThrow(TypeError);
  });

  it('refuses material of another parameter set or shape, and never shows key bytes', () => {
    const der = generatePrivateKeyInsecure('ML_DSA_65');
    expect(() => MlDsaKey.fromPkcs8Insecure('ML_DSA_44', der)).toThrow(TypeError);
    expect(() => MlDsaKey.fromPkcs8Insecure('ML_DSA_65', der.subarray(1))).toThrow(TypeError);
    const key = MlDsaKey.fromPkcs8Insecure('ML_DSA_65', der);
    expect(JSON.stringify({ key })).toBe('{"key":"[MlDsaKey REDACTED]"}');
  });
});

const ECDH_CURVES: [AsymmetricKeySpec, string][] = [
  ['ECC_NIST_P256', 'prime256v1'],
  ['ECC_NIST_P384', 'secp384r1'],
  ['ECC_NIST_P521', 'secp521r1'],
];

describe('ECDH (deriveSharedSecret)', () => {
  it.each(ECDH_CURVES)('%s: equals the secret node:crypto computes with the peer private key', (spec, curve) => {
    const pair = generateKeyPairInsecure(spec);
    const key = AsymmetricKey.fromPkcs8Insecure(spec, pair.privateKeyDer);
    const peer = generateKeyPairSync('ec', { namedCurve: curve });
    const secret = key.deriveSharedSecret(peer.publicKey.export({ type: 'spki', format: 'der' }));
    const theirs = diffieHellman({
      privateKey: peer.privateKey,
      publicKey: createPublicKey({ key: key.publicKeyDer(), format: 'der', type: 'spki' }),
    });
    expect(secret).toEqual(theirs);
    expect(secret.length).toBe(Math.ceil(Number(curve.match(/\d+/)![0]) / 8));
  });

  it('refuses a peer key on another curve, a non-EC key and malformed bytes', () => {
    const key = AsymmetricKey.fromPkcs8Insecure(
      'ECC_NIST_P256',
      generateKeyPairInsecure('ECC_NIST_P256').privateKeyDer,
    );
    const reason = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof PeerKeyError ? e.reason : 'other';
      }
      return 'none';
    };
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({
      type: 'spki',
      format: 'der',
    });
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
    expect(reason(() => key.deriveSharedSecret(p384))).toBe('wrong-curve');
    expect(reason(() => key.deriveSharedSecret(ed))).toBe('wrong-curve');
    expect(reason(() => key.deriveSharedSecret(Buffer.from('not a key')))).toBe('malformed');
    const signer = AsymmetricKey.fromPkcs8Insecure('RSA_2048', generateKeyPairInsecure('RSA_2048').privateKeyDer);
    expect(() => signer.deriveSharedSecret(p384)).toThrow(TypeError);
  });
});
