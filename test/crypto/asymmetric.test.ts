// Asymmetric keys: every spec and algorithm signs and verifies, DIGEST interoperates with node, RSA-OAEP round trips.
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
} from 'node:crypto';
import { inspect } from 'node:util';
import { p256 } from '@noble/curves/nist.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AsymmetricKey,
  type AsymmetricKeySpec,
  generateKeyPairInsecure,
  maxRsaPlaintext,
  type RsaEncryptionAlgorithm,
} from '../../src/crypto/asymmetric.js';
import { DecryptionError } from '../../src/crypto/errors.js';
import { digestLength, type SigningAlgorithm } from '../../src/crypto/signing-algorithms.js';

const RSA_ALGS: SigningAlgorithm[] = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
];
const SPEC_ALGS: [AsymmetricKeySpec, SigningAlgorithm[]][] = [
  ['RSA_2048', RSA_ALGS],
  ['RSA_3072', RSA_ALGS],
  ['RSA_4096', RSA_ALGS],
  ['ECC_NIST_P256', ['ECDSA_SHA_256']],
  ['ECC_NIST_P384', ['ECDSA_SHA_384']],
  ['ECC_NIST_P521', ['ECDSA_SHA_512']],
  ['ECC_SECG_P256K1', ['ECDSA_SHA_256']],
  ['ECC_NIST_EDWARDS25519', ['ED25519_SHA_512']],
];
const CASES = SPEC_ALGS.flatMap(([spec, algs]) => algs.map((alg) => [spec, alg] as const));
const DIGEST_CASES = CASES.filter(([, alg]) => alg !== 'ED25519_SHA_512');
const RSA_SPECS: AsymmetricKeySpec[] = ['RSA_2048', 'RSA_3072', 'RSA_4096'];
const OAEP_ALGS: RsaEncryptionAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];

const MESSAGE = Buffer.from('the quick brown fox jumps over the lazy dog');

type Generated = { privateKeyDer: Buffer; publicKeyDer: Buffer; key: AsymmetricKey };
const keys = new Map<AsymmetricKeySpec, Generated>();
const get = (spec: AsymmetricKeySpec): Generated => keys.get(spec)!;

beforeAll(() => {
  // Each spec once: RSA_4096 generation alone takes around a second
  for (const [spec] of SPEC_ALGS) {
    const pair = generateKeyPairInsecure(spec);
    keys.set(spec, { ...pair, key: AsymmetricKey.fromPkcs8Insecure(spec, pair.privateKeyDer) });
  }
});

function hashOf(alg: SigningAlgorithm): string {
  return `sha${alg.slice(-3)}`;
}

function flipBit(bytes: Uint8Array, index = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}

/** Node's verify/sign options that express the same scheme, salt length = digest length for PSS. */
function nodeOptions(alg: SigningAlgorithm, key: ReturnType<typeof createPublicKey>) {
  if (alg.startsWith('RSASSA_PSS')) {
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: digestLength(alg)! };
  }
  return { key, padding: alg.startsWith('RSASSA_PKCS1') ? constants.RSA_PKCS1_PADDING : undefined };
}

describe('generateKeyPairInsecure', () => {
  it.each(SPEC_ALGS.map(([spec]) => spec))('%s public key DER imports as SPKI with the right type and size', (spec) => {
    const { publicKeyDer, key } = get(spec);
    const pub = createPublicKey({ key: publicKeyDer, format: 'der', type: 'spki' });
    const expected: Record<AsymmetricKeySpec, [string, object]> = {
      RSA_2048: ['rsa', { modulusLength: 2048, publicExponent: 65537n }],
      RSA_3072: ['rsa', { modulusLength: 3072, publicExponent: 65537n }],
      RSA_4096: ['rsa', { modulusLength: 4096, publicExponent: 65537n }],
      ECC_NIST_P256: ['ec', { namedCurve: 'prime256v1' }],
      ECC_NIST_P384: ['ec', { namedCurve: 'secp384r1' }],
      ECC_NIST_P521: ['ec', { namedCurve: 'secp521r1' }],
      ECC_SECG_P256K1: ['ec', { namedCurve: 'secp256k1' }],
      ECC_NIST_EDWARDS25519: ['ed25519', {}],
    };
    const [type, details] = expected[spec];
    expect(pub.asymmetricKeyType).toBe(type);
    expect(pub.asymmetricKeyDetails).toEqual(details);
    expect(key.publicKeyDer().equals(publicKeyDer)).toBe(true);
    expect(createPrivateKey({ key: get(spec).privateKeyDer, format: 'der', type: 'pkcs8' }).type).toBe('private');
  });

  it('refuses key material that does not match the spec', () => {
    expect(() => AsymmetricKey.fromPkcs8Insecure('RSA_3072', get('RSA_2048').privateKeyDer)).toThrow(TypeError);
    expect(() => AsymmetricKey.fromPkcs8Insecure('ECC_NIST_P384', get('ECC_NIST_P256').privateKeyDer)).toThrow(
      TypeError,
    );
    expect(() => AsymmetricKey.fromPkcs8Insecure('ECC_NIST_EDWARDS25519', get('ECC_NIST_P256').privateKeyDer)).toThrow(
      TypeError,
    );
  });
});

describe('sign and verify', () => {
  it.each(CASES)('%s %s RAW verifies, and rejects a flipped bit in signature or message', (spec, alg) => {
    const { key } = get(spec);
    const signature = key.sign(alg, MESSAGE, 'RAW');
    expect(key.verify(alg, MESSAGE, 'RAW', signature)).toBe(true);
    expect(key.verify(alg, MESSAGE, 'RAW', flipBit(signature, signature.length - 1))).toBe(false);
    expect(key.verify(alg, MESSAGE, 'RAW', flipBit(signature, 10))).toBe(false);
    expect(key.verify(alg, flipBit(MESSAGE), 'RAW', signature)).toBe(false);
  });

  it.each(DIGEST_CASES)('%s %s DIGEST verifies, and rejects a flipped bit in signature or digest', (spec, alg) => {
    const { key } = get(spec);
    const digest = createHash(hashOf(alg)).update(MESSAGE).digest();
    const signature = key.sign(alg, digest, 'DIGEST');
    expect(key.verify(alg, digest, 'DIGEST', signature)).toBe(true);
    expect(key.verify(alg, digest, 'DIGEST', flipBit(signature, signature.length - 1))).toBe(false);
    expect(key.verify(alg, digest, 'DIGEST', flipBit(signature, 10))).toBe(false);
    expect(key.verify(alg, flipBit(digest, digest.length - 1), 'DIGEST', signature)).toBe(false);
  });

  it.each(DIGEST_CASES)('%s %s DIGEST signature verifies with node on the RAW message', (spec, alg) => {
    const { key, publicKeyDer } = get(spec);
    const pub = createPublicKey({ key: publicKeyDer, format: 'der', type: 'spki' });
    const digest = createHash(hashOf(alg)).update(MESSAGE).digest();
    const signature = key.sign(alg, digest, 'DIGEST');
    expect(nodeVerify(hashOf(alg), MESSAGE, nodeOptions(alg, pub), signature)).toBe(true);
    // and RAW and DIGEST signatures are interchangeable on our side too
    expect(key.verify(alg, MESSAGE, 'RAW', signature)).toBe(true);
  });

  it.each(DIGEST_CASES)('%s %s node RAW signature verifies on the DIGEST path', (spec, alg) => {
    const { key, privateKeyDer } = get(spec);
    const priv = createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
    const signature = nodeSign(hashOf(alg), MESSAGE, nodeOptions(alg, priv));
    const digest = createHash(hashOf(alg)).update(MESSAGE).digest();
    expect(key.verify(alg, digest, 'DIGEST', signature)).toBe(true);
    expect(key.verify(alg, flipBit(digest), 'DIGEST', signature)).toBe(false);
  });

  it.each(['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_512'] as const)(
    '%s rejects a signature whose salt length is not the digest length',
    (alg) => {
      const { key, privateKeyDer } = get('RSA_2048');
      const priv = createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
      const digest = createHash(hashOf(alg)).update(MESSAGE).digest();
      for (const saltLength of [0, 20, digestLength(alg)! + 1]) {
        const signature = nodeSign(hashOf(alg), MESSAGE, {
          key: priv,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength,
        });
        expect(key.verify(alg, MESSAGE, 'RAW', signature)).toBe(false);
        expect(key.verify(alg, digest, 'DIGEST', signature)).toBe(false);
      }
    },
  );

  it('RSASSA_PSS DIGEST verify rejects a corrupt padding string or separator even when the salted hash matches', () => {
    const alg = 'RSASSA_PSS_SHA_256';
    const { key, privateKeyDer } = get('RSA_2048');
    const priv = createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
    const digest = createHash('sha256').update(MESSAGE).digest();
    const em = publicDecrypt(
      { key: createPublicKey(priv), padding: constants.RSA_NO_PADDING },
      key.sign(alg, digest, 'DIGEST'),
    );
    // EM = maskedDB ‖ H ‖ 0xbc with DB = PS ‖ 0x01 ‖ salt; masking is XOR, so flipping a maskedDB bit flips that DB bit
    const resign = (dbIndex: number, xor: number) => {
      const forged = Buffer.from(em);
      forged[dbIndex] = forged[dbIndex]! ^ xor;
      return privateEncrypt({ key: priv, padding: constants.RSA_NO_PADDING }, forged);
    };
    const separator = em.length - 1 - 32 - 32 - 1;
    // Unchanged re-signing still verifies, so only the edited byte can make the others fail
    expect(key.verify(alg, digest, 'DIGEST', resign(0, 0))).toBe(true);
    expect(key.verify(alg, digest, 'DIGEST', resign(separator, 0x03))).toBe(false);
    expect(key.verify(alg, digest, 'DIGEST', resign(separator - 1, 0x01))).toBe(false);
    expect(key.verify(alg, digest, 'DIGEST', resign(0, 0x40))).toBe(false);
    expect(key.verify(alg, digest, 'DIGEST', resign(em.length - 1, 0x01))).toBe(false);
  });

  it('ECDSA verify accepts high-S signatures, which OpenSSL and AWS KMS produce', () => {
    const { key } = get('ECC_NIST_P256');
    const digest = createHash('sha256').update(MESSAGE).digest();
    const sig = p256.Signature.fromBytes(key.sign('ECDSA_SHA_256', digest, 'DIGEST'), 'der');
    const n = p256.Point.Fn.ORDER;
    const flipped = new p256.Signature(sig.r, n - sig.s).toBytes('der');
    expect(key.verify('ECDSA_SHA_256', digest, 'DIGEST', flipped)).toBe(true);
    expect(key.verify('ECDSA_SHA_256', MESSAGE, 'RAW', flipped)).toBe(true);
  });

  it('RSA PKCS#1 v1.5 DIGEST signatures are deterministic and equal to node RAW ones', () => {
    const { key, privateKeyDer } = get('RSA_2048');
    const digest = createHash('sha384').update(MESSAGE).digest();
    const ours = key.sign('RSASSA_PKCS1_V1_5_SHA_384', digest, 'DIGEST');
    const node = nodeSign('sha384', MESSAGE, createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' }));
    expect(ours.equals(node)).toBe(true);
  });

  it.each(CASES)('%s %s verify returns false for malformed signatures instead of throwing', (spec, alg) => {
    const { key } = get(spec);
    const digest = createHash(hashOf(alg)).update(MESSAGE).digest();
    const good = key.sign(alg, MESSAGE, 'RAW');
    const malformed = [
      Buffer.alloc(0),
      Buffer.alloc(1),
      good.subarray(1),
      Buffer.concat([good, Buffer.of(0)]),
      Buffer.alloc(good.length, 0xff),
      Buffer.alloc(good.length),
    ];
    for (const signature of malformed) {
      expect(key.verify(alg, MESSAGE, 'RAW', signature)).toBe(false);
      if (alg !== 'ED25519_SHA_512') expect(key.verify(alg, digest, 'DIGEST', signature)).toBe(false);
    }
  });

  it('throws TypeError for an algorithm the key type does not offer', () => {
    expect(() => get('ECC_NIST_P256').key.sign('ECDSA_SHA_384', MESSAGE, 'RAW')).toThrow(TypeError);
    expect(() => get('ECC_SECG_P256K1').key.sign('RSASSA_PSS_SHA_256', MESSAGE, 'RAW')).toThrow(TypeError);
    expect(() => get('RSA_2048').key.sign('ECDSA_SHA_256', MESSAGE, 'RAW')).toThrow(TypeError);
    expect(() => get('RSA_2048').key.verify('ED25519_SHA_512', MESSAGE, 'RAW', Buffer.alloc(64))).toThrow(TypeError);
    expect(() => get('ECC_NIST_EDWARDS25519').key.sign('ECDSA_SHA_512', MESSAGE, 'RAW')).toThrow(TypeError);
  });

  it('throws TypeError for a DIGEST of the wrong length, and for Ed25519 DIGEST', () => {
    expect(() => get('RSA_2048').key.sign('RSASSA_PSS_SHA_384', Buffer.alloc(32), 'DIGEST')).toThrow(TypeError);
    expect(() => get('ECC_NIST_P521').key.sign('ECDSA_SHA_512', Buffer.alloc(48), 'DIGEST')).toThrow(TypeError);
    expect(() => get('ECC_NIST_EDWARDS25519').key.sign('ED25519_SHA_512', Buffer.alloc(64), 'DIGEST')).toThrow(
      TypeError,
    );
  });

  it('digestLength follows the algorithm hash, and is undefined for Ed25519', () => {
    expect(digestLength('RSASSA_PSS_SHA_256')).toBe(32);
    expect(digestLength('RSASSA_PKCS1_V1_5_SHA_384')).toBe(48);
    expect(digestLength('ECDSA_SHA_512')).toBe(64);
    expect(digestLength('ED25519_SHA_512')).toBeUndefined();
  });
});

describe('RSA-OAEP', () => {
  it('maxRsaPlaintext matches AWS KMS limits', () => {
    expect(RSA_SPECS.map((spec) => OAEP_ALGS.map((alg) => maxRsaPlaintext(spec, alg)))).toEqual([
      [214, 190],
      [342, 318],
      [470, 446],
    ]);
    expect(() => maxRsaPlaintext('ECC_NIST_P256', 'RSAES_OAEP_SHA_256')).toThrow(TypeError);
  });

  const oaepCases = RSA_SPECS.flatMap((spec) => OAEP_ALGS.map((alg) => [spec, alg] as const));

  it.each(oaepCases)('%s %s round trips the maximum plaintext, which node can decrypt too', (spec, alg) => {
    const { key, privateKeyDer } = get(spec);
    const plaintext = Buffer.alloc(maxRsaPlaintext(spec, alg), 0xa5);
    const ciphertext = key.encrypt(alg, plaintext);
    expect(key.decrypt(alg, ciphertext).equals(plaintext)).toBe(true);
    const oaepHash = alg === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256';
    const priv = createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
    expect(privateDecrypt({ key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, ciphertext)).toEqual(
      plaintext,
    );
    expect(() => key.encrypt(alg, Buffer.alloc(plaintext.length + 1))).toThrow(TypeError);
  });

  it.each(oaepCases)('%s %s decrypt of a tampered ciphertext throws DecryptionError', (spec, alg) => {
    const { key } = get(spec);
    const ciphertext = key.encrypt(alg, Buffer.from('secret'));
    const other: RsaEncryptionAlgorithm = alg === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
    const bad = [
      flipBit(ciphertext, ciphertext.length - 1),
      flipBit(ciphertext, 5),
      ciphertext.subarray(1),
      Buffer.concat([Buffer.of(0), ciphertext]),
      Buffer.alloc(ciphertext.length, 0xff),
      Buffer.alloc(0),
    ];
    for (const c of bad) expect(() => key.decrypt(alg, c)).toThrow(DecryptionError);
    expect(() => key.decrypt(other, ciphertext)).toThrow(DecryptionError);
  });

  it('decrypt with a non-RSA key throws DecryptionError, encrypt throws TypeError', () => {
    const { key } = get('ECC_NIST_P256');
    expect(() => key.decrypt('RSAES_OAEP_SHA_256', Buffer.alloc(256))).toThrow(DecryptionError);
    expect(() => key.encrypt('RSAES_OAEP_SHA_256', Buffer.from('x'))).toThrow(TypeError);
  });
});

describe('redaction', () => {
  it.each(['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_EDWARDS25519'] as const)(
    '%s inspect, toString and JSON never show key bytes',
    (spec) => {
      const { key, privateKeyDer } = get(spec);
      const priv = createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
      const pem = priv.export({ type: 'pkcs8', format: 'pem' }).toString();
      const secret = priv.export({ format: 'jwk' }).d!;
      const outputs = [
        inspect(key, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
        inspect({ nested: key }),
        String(key),
        `${key}`,
        JSON.stringify({ key }),
      ];
      for (const out of outputs) {
        expect(out).toContain('[AsymmetricKey REDACTED]');
        expect(out).not.toContain('PRIVATE KEY');
        expect(out).not.toContain(pem.split('\n')[2]);
        expect(out).not.toContain(privateKeyDer.toString('hex').slice(-64));
        expect(out).not.toContain(privateKeyDer.toString('base64').slice(-40));
        expect(out).not.toContain(secret.slice(0, 20));
      }
    },
  );
});
