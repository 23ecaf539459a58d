// Known-answer tests: the primitives src/crypto wraps, called through Keysafe's wrappers, against
// published vectors (NIST/McGrew-Viega GCM, RFC 4231, FIPS 180-2, RFC 6979, RFC 8032, the AWS SigV4
// suite) plus Wycheproof-style invalid cases derived from them, and Keysafe's own v1 formats.
// The vectors live in test/fixtures/vectors/*.json, each with its source.
import { createDecipheriv, createHash, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verifySigV4 } from '../../src/auth/sigv4.js';
import {
  AeadKey,
  AsymmetricKey,
  type AsymmetricKeySpec,
  DecryptionError,
  encodeEncryptionContext,
  hmacSha256,
  hmacSha256Hex,
  type MacAlgorithm,
  MacKey,
  openCiphertext,
  openEnvelope,
  parseCiphertextHeader,
  RootKey,
  type SigningAlgorithm,
  sealEnvelope,
  sha256Hex,
} from '../../src/crypto/index.js';
import { secretValueAad } from '../../src/secrets/envelope.js';
import { stateAad } from '../../src/terraform/state-backend.js';

function load<T>(name: string): T & { source: string } {
  const data = JSON.parse(readFileSync(new URL(`../fixtures/vectors/${name}`, import.meta.url), 'utf8'));
  return data;
}
const hex = (h: string): Buffer => Buffer.from(h, 'hex');

function flip(bytes: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[bit >> 3] = copy[bit >> 3]! ^ (1 << (bit & 7));
  return copy;
}

it('every vector file names its source', () => {
  for (const f of ['aes-256-gcm', 'hmac', 'sha256', 'ecdsa', 'ed25519', 'keysafe-formats']) {
    expect(load<object>(`${f}.json`).source.length).toBeGreaterThan(40);
  }
});

// --- AES-256-GCM ---------------------------------------------------------------------------------

interface GcmCase {
  tcId: number;
  comment: string;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid';
}
const gcm = load<{ tests: GcmCase[] }>('aes-256-gcm.json');

describe('AES-256-GCM (AeadKey.open)', () => {
  it('has both kinds of case', () => {
    expect(gcm.tests.filter((t) => t.result === 'valid').length).toBeGreaterThanOrEqual(4);
    expect(gcm.tests.filter((t) => t.result === 'invalid').length).toBeGreaterThanOrEqual(10);
  });

  it.each(gcm.tests.map((t) => [t.tcId, t.comment, t] as const))('tcId %i: %s', (_id, _comment, t) => {
    const key = AeadKey.fromBytesInsecure(hex(t.key));
    const sealed = Buffer.concat([hex(t.iv), hex(t.ct), hex(t.tag)]);
    if (t.result === 'valid') {
      expect(key.open(sealed, hex(t.aad)).toString('hex')).toBe(t.msg);
      // The same message behind a header prefix, as the ciphertext frame uses it: the prefix is authenticated
      const prefix = Buffer.from('hdr');
      expect(() => key.open(Buffer.concat([prefix, sealed]), hex(t.aad), prefix.length)).toThrow(DecryptionError);
    } else {
      expect(() => key.open(sealed, hex(t.aad))).toThrow(DecryptionError);
    }
  });

  it('seal output opens with the same key and AAD, and is iv || ct || tag sized', () => {
    const t = gcm.tests.find((c) => c.tcId === 4)!;
    const key = AeadKey.fromBytesInsecure(hex(t.key));
    const sealed = key.seal(hex(t.msg), hex(t.aad));
    expect(sealed).toHaveLength(12 + hex(t.msg).length + 16);
    expect(key.open(sealed, hex(t.aad)).toString('hex')).toBe(t.msg);
  });
});

// --- HMAC ----------------------------------------------------------------------------------------

interface HmacCase {
  tcId: number;
  comment: string;
  key: string;
  msg: string;
  truncatedTo?: number;
  macs: Partial<Record<MacAlgorithm, string>>;
}
const hmac = load<{ tests: HmacCase[] }>('hmac.json');
const hmacCases = hmac.tests.flatMap((t) =>
  Object.entries(t.macs).map(([alg, mac]) => [t.tcId, alg as MacAlgorithm, t, mac] as const),
);

describe('HMAC (MacKey, as GenerateMac and VerifyMac use it)', () => {
  it('covers all four algorithms', () => {
    expect(new Set(hmacCases.map(([, alg]) => alg)).size).toBe(4);
  });

  it.each(hmacCases)('RFC 4231 case %i, %s', (_id, alg, t, mac) => {
    const key = MacKey.fromBytesInsecure(hex(t.key));
    const out = key.generate(alg, hex(t.msg));
    if (t.truncatedTo === undefined) {
      expect(out.toString('hex')).toBe(mac);
      expect(key.verify(alg, hex(t.msg), hex(mac))).toBe(true);
      expect(key.verify(alg, hex(t.msg), flip(hex(mac), hex(mac).length * 8 - 1))).toBe(false);
      expect(key.verify(alg, flip(hex(t.msg), 0), hex(mac))).toBe(false);
    } else {
      expect(out.subarray(0, t.truncatedTo).toString('hex')).toBe(mac);
      // A truncated MAC is not a MAC for VerifyMac
      expect(key.verify(alg, hex(t.msg), hex(mac))).toBe(false);
      expect(key.verify(alg, hex(t.msg), out)).toBe(true);
    }
  });

  it('HMAC-SHA-256 through the SigV4 helpers (which take text messages) matches too', () => {
    // Cases 1, 2 and 6 have printable ASCII messages and full-length SHA-256 values
    const textual = hmacCases.filter(
      ([, alg, t]) =>
        alg === 'HMAC_SHA_256' && t.truncatedTo === undefined && /^[\x20-\x7e]*$/.test(hex(t.msg).toString('latin1')),
    );
    expect(textual.map(([id]) => id)).toEqual([1, 2, 6]);
    for (const [, , t, mac] of textual) {
      const text = hex(t.msg).toString('latin1');
      expect(hmacSha256(hex(t.key), text).toString('hex')).toBe(mac);
      expect(hmacSha256Hex(hex(t.key), text)).toBe(mac);
    }
  });
});

// --- SHA-256 and SigV4 ---------------------------------------------------------------------------

interface ShaFile {
  sha256: { comment: string; msg?: string; msgRepeat?: { text: string; times: number }; digest: string }[];
  sigv4: {
    signingKey: Record<string, string>;
    requests: {
      comment: string;
      accessKeyId: string;
      secretAccessKey: string;
      method: string;
      path: string;
      query: string;
      body: string;
      headers: Record<string, string>;
      credentialScope: string;
      signedHeaders: string;
      signature: string;
    }[];
  };
}
const sha = load<ShaFile>('sha256.json');

describe('SHA-256 and AWS Signature Version 4', () => {
  it.each(sha.sha256.map((t) => [t.comment, t] as const))('sha256Hex: %s', (_c, t) => {
    const msg = t.msgRepeat ? Buffer.from(t.msgRepeat.text.repeat(t.msgRepeat.times)) : hex(t.msg!);
    expect(sha256Hex(msg)).toBe(t.digest);
  });

  it('derives the documented SigV4 signing key with hmacSha256', () => {
    const k = sha.sigv4.signingKey;
    const kDate = hmacSha256(`AWS4${k.secretAccessKey}`, k.date!);
    const kRegion = hmacSha256(kDate, k.region!);
    const kService = hmacSha256(kRegion, k.service!);
    const kSigning = hmacSha256(kService, 'aws4_request');
    expect([kDate, kRegion, kService, kSigning].map((b) => b.toString('hex'))).toEqual([
      k.kDate,
      k.kRegion,
      k.kService,
      k.kSigning,
    ]);
  });

  it.each(sha.sigv4.requests.map((r) => [r.comment, r] as const))(
    'verifySigV4 accepts %s and refuses it with any signature nibble changed',
    (_c, r) => {
      const request = (signature: string) => {
        const headers = new Headers({
          ...r.headers,
          authorization: `AWS4-HMAC-SHA256 Credential=${r.accessKeyId}/${r.credentialScope}, SignedHeaders=${r.signedHeaders}, Signature=${signature}`,
        });
        return { method: r.method, path: r.path, query: r.query, headers, body: Buffer.from(r.body) };
      };
      const opts = {
        now: Date.UTC(2015, 7, 30, 12, 36, 0),
        lookupSecret: (id: string) => (id === r.accessKeyId ? r.secretAccessKey : undefined),
        services: ['service'],
      };
      expect(verifySigV4(request(r.signature), opts)).toMatchObject({
        accessKeyId: r.accessKeyId,
        region: 'us-east-1',
        service: 'service',
      });
      for (let i = 0; i < r.signature.length; i += 7) {
        const changed = r.signature.slice(0, i) + (r.signature[i] === '0' ? '1' : '0') + r.signature.slice(i + 1);
        expect(() => verifySigV4(request(changed), opts)).toThrow(
          expect.objectContaining({ code: 'InvalidSignatureException' }),
        );
      }
      // The other method's signature does not carry over
      const other = sha.sigv4.requests.find((o) => o !== r)!;
      expect(() => verifySigV4(request(other.signature), opts)).toThrow(
        expect.objectContaining({ code: 'InvalidSignatureException' }),
      );
    },
  );
});

// --- ECDSA ---------------------------------------------------------------------------------------

interface EcdsaGroup {
  curve: 'P-256' | 'P-384' | 'P-521';
  keySpec: AsymmetricKeySpec;
  signingAlgorithm: SigningAlgorithm;
  hash: 'sha256' | 'sha384' | 'sha512';
  key: { d: string; x: string; y: string };
  tests: { tcId: number; comment: string; msg: string; sig: string; result: 'valid' | 'invalid'; flags: string[] }[];
}
const ecdsa = load<{ testGroups: EcdsaGroup[] }>('ecdsa.json');

/** The RFC 6979 key as PKCS#8, the form Keysafe stores (built with node: no wrapper imports JWK). */
function ecKey(g: EcdsaGroup): AsymmetricKey {
  const b64 = (h: string) => hex(h).toString('base64url');
  const pkcs8 = createPrivateKey({
    key: { kty: 'EC', crv: g.curve, d: b64(g.key.d), x: b64(g.key.x), y: b64(g.key.y) },
    format: 'jwk',
  }).export({ type: 'pkcs8', format: 'der' });
  return AsymmetricKey.fromPkcs8Insecure(g.keySpec, pkcs8);
}

describe('ECDSA (AsymmetricKey.verify: RAW through OpenSSL, DIGEST through noble)', () => {
  const cases = ecdsa.testGroups.flatMap((g) => g.tests.map((t) => [g.curve, t.tcId, t.comment, g, t] as const));

  it('the RFC 6979 keys load, and their public keys are the published points', () => {
    for (const g of ecdsa.testGroups) {
      expect(
        ecKey(g)
          .publicKeyDer()
          .subarray(-1 - g.key.x.length)
          .toString('hex'),
      ).toBe(`04${g.key.x}${g.key.y}`);
    }
  });

  it.each(cases)('%s tcId %i: %s', (_curve, _id, _comment, g, t) => {
    const key = ecKey(g);
    const valid = t.result === 'valid';
    const message = hex(t.msg);
    expect(key.verify(g.signingAlgorithm, message, 'RAW', hex(t.sig))).toBe(valid);
    const digest = createHash(g.hash).update(message).digest();
    expect(key.verify(g.signingAlgorithm, digest, 'DIGEST', hex(t.sig))).toBe(valid);
  });

  it('signatures the wrapper makes with the RFC 6979 keys verify, RAW and DIGEST alike', () => {
    for (const g of ecdsa.testGroups) {
      const key = ecKey(g);
      const message = Buffer.from('sample');
      const digest = createHash(g.hash).update(message).digest();
      const raw = key.sign(g.signingAlgorithm, message, 'RAW');
      const pre = key.sign(g.signingAlgorithm, digest, 'DIGEST');
      for (const sig of [raw, pre]) {
        expect(key.verify(g.signingAlgorithm, message, 'RAW', sig)).toBe(true);
        expect(key.verify(g.signingAlgorithm, digest, 'DIGEST', sig)).toBe(true);
      }
    }
  });
});

// --- Ed25519 -------------------------------------------------------------------------------------

interface EdCase {
  tcId: number;
  comment: string;
  secretKey: string;
  publicKey: string;
  msg: string;
  sig: string;
  result: 'valid' | 'invalid';
}
const ed = load<{ tests: EdCase[] }>('ed25519.json');
const ED25519_PKCS8_PREFIX = hex('302e020100300506032b657004220420');

describe('Ed25519 (AsymmetricKey, ED25519_SHA_512)', () => {
  it.each(ed.tests.map((t) => [t.tcId, t.comment, t] as const))('tcId %i: %s', (_id, _comment, t) => {
    const key = AsymmetricKey.fromPkcs8Insecure(
      'ECC_NIST_EDWARDS25519',
      Buffer.concat([ED25519_PKCS8_PREFIX, hex(t.secretKey)]),
    );
    expect(key.publicKeyDer().subarray(-32).toString('hex')).toBe(t.publicKey);
    expect(key.verify('ED25519_SHA_512', hex(t.msg), 'RAW', hex(t.sig))).toBe(t.result === 'valid');
    // Deterministic: signing reproduces the RFC's signature byte for byte
    if (t.result === 'valid') expect(key.sign('ED25519_SHA_512', hex(t.msg), 'RAW').toString('hex')).toBe(t.sig);
  });
});

// --- Keysafe's persisted formats -----------------------------------------------------------------

interface Formats {
  encryptionContexts: { comment: string; context?: Record<string, string>; contextJson?: string; encoded: string }[];
  ciphertextFrame: {
    key: string;
    keyId: string;
    keyVersion: number;
    context: Record<string, string>;
    plaintext: string;
    blob: string;
  };
  rootKeyWrap: {
    rootKey: string;
    rootKeyId: string;
    keyId: string;
    version: number;
    material: string;
    wrapped: string;
  };
  secretValueEnvelope: EnvelopeCase & { secretArn: string; versionId: string };
  terraformStateEnvelope: EnvelopeCase & { name: string; serial: number; lineage: string };
}
interface EnvelopeCase {
  dataKey: string;
  nonce: string;
  aad: string;
  plaintextUtf8: string;
  sealed: string;
}
const formats = load<Formats>('keysafe-formats.json');

describe("Keysafe's v1 formats (what is already stored must keep opening)", () => {
  it.each(formats.encryptionContexts.map((c) => [c.comment, c] as const))('encryption context: %s', (_c, c) => {
    const context = c.context ?? (JSON.parse(c.contextJson!) as Record<string, string>);
    expect(Buffer.from(encodeEncryptionContext(context)).toString('hex')).toBe(c.encoded);
  });

  it('a ciphertext frame built from the documented layout parses and opens', () => {
    const f = formats.ciphertextFrame;
    const blob = hex(f.blob);
    expect(parseCiphertextHeader(blob)).toEqual({ keyId: f.keyId, keyVersion: f.keyVersion });
    const key = AeadKey.fromBytesInsecure(hex(f.key));
    expect(openCiphertext(key, blob, encodeEncryptionContext(f.context)).toString('hex')).toBe(f.plaintext);
    for (let bit = 0; bit < blob.length * 8; bit++) {
      expect(() => openCiphertext(key, flip(blob, bit), encodeEncryptionContext(f.context))).toThrow(DecryptionError);
    }
    expect(() => openCiphertext(key, blob, encodeEncryptionContext({}))).toThrow(DecryptionError);
  });

  it('key material wrapped under a root key unwraps, and only for its key id and version', () => {
    const w = formats.rootKeyWrap;
    const root = RootKey.fromBytesInsecure(hex(w.rootKey));
    expect(root.id).toBe(w.rootKeyId);
    expect(root.unwrap(w.keyId, w.version, hex(w.wrapped)).toString('hex')).toBe(w.material);
    expect(() => root.unwrap(w.keyId, w.version + 1, hex(w.wrapped))).toThrow(DecryptionError);
    expect(() => root.unwrap(w.keyId.replace(/^1/, '2'), w.version, hex(w.wrapped))).toThrow(DecryptionError);
    for (let bit = 0; bit < hex(w.wrapped).length * 8; bit++) {
      expect(() => root.unwrap(w.keyId, w.version, flip(hex(w.wrapped), bit))).toThrow(DecryptionError);
    }
  });
});

describe('envelope-encrypted items as stored before src/crypto/envelope.ts (secret values, Terraform states)', () => {
  const s = formats.secretValueEnvelope;
  const t = formats.terraformStateEnvelope;
  const cases = [
    ['secret value', s, secretValueAad(s.secretArn, s.versionId)],
    ['Terraform state', t, stateAad(t.name, t.serial, t.lineage)],
  ] as const;

  it.each(cases)('%s: its caller builds the documented AAD, and the stored bytes open', (_name, c, aad) => {
    expect(aad.toString('hex')).toBe(c.aad);
    const dataKey = hex(c.dataKey);
    expect(openEnvelope(dataKey, hex(c.sealed), aad).toString('utf8')).toBe(c.plaintextUtf8);
    expect(dataKey.equals(Buffer.alloc(32))).toBe(true); // zeroed after use
    for (let bit = 0; bit < hex(c.sealed).length * 8; bit += 7) {
      expect(() => openEnvelope(hex(c.dataKey), flip(hex(c.sealed), bit), aad)).toThrow(DecryptionError);
    }
    expect(() => openEnvelope(hex(c.dataKey), hex(c.sealed), flip(aad, aad.length * 8 - 1))).toThrow(DecryptionError);
    // A wrong-sized key is the same opaque failure, not a TypeError that names key sizes
    expect(() => openEnvelope(hex(c.dataKey).subarray(1), hex(c.sealed), aad)).toThrow(DecryptionError);
  });

  it.each(cases)('%s: what is sealed now opens with node:crypto by the documented layout', (_name, c, aad) => {
    const dataKey = hex(c.dataKey);
    const sealed = sealEnvelope(dataKey, Buffer.from(c.plaintextUtf8, 'utf8'), aad);
    expect(dataKey.equals(Buffer.alloc(32))).toBe(true); // zeroed after use
    expect(sealed).toHaveLength(hex(c.sealed).length);
    const decipher = createDecipheriv('aes-256-gcm', hex(c.dataKey), sealed.subarray(0, 12), { authTagLength: 16 });
    decipher.setAAD(hex(c.aad));
    decipher.setAuthTag(sealed.subarray(-16));
    const body = Buffer.concat([decipher.update(sealed.subarray(12, -16)), decipher.final()]);
    expect(body.toString('utf8')).toBe(c.plaintextUtf8);
  });
});
