// The ciphertext frame, the encryption-context encoding and the root key wrapping.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AeadKey,
  CIPHERTEXT_OVERHEAD,
  DecryptionError,
  encodeEncryptionContext,
  openCiphertext,
  parseCiphertextHeader,
  RootKey,
  RootKeyring,
  randomKeyBytesInsecure,
  sealCiphertext,
} from '../../src/crypto/index.js';

const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
const aead = AeadKey.fromBytesInsecure(randomKeyBytesInsecure(32));

describe('encryption context encoding', () => {
  it('is independent of key order and distinguishes shifted boundaries', () => {
    const a = encodeEncryptionContext({ x: '1', y: '2' });
    expect(Buffer.from(a).equals(Buffer.from(encodeEncryptionContext({ y: '2', x: '1' })))).toBe(true);
    const ab = encodeEncryptionContext({ ab: 'c' });
    const bc = encodeEncryptionContext({ a: 'bc' });
    expect(Buffer.from(ab).equals(Buffer.from(bc))).toBe(false);
    expect(encodeEncryptionContext({})).toHaveLength(0);
    expect(encodeEncryptionContext(undefined)).toHaveLength(0);
  });

  it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
    // In UTF-16 U+1F600 (a surrogate pair) sorts before U+FF5E; in UTF-8 it sorts after. Any insertion order must give one encoding.
    const one = encodeEncryptionContext({ '\u{1F600}': 'a', '\uFF5E': 'b' });
    const two = encodeEncryptionContext({ '\uFF5E': 'b', '\u{1F600}': 'a' });
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(true);
  });
});

describe('ciphertext frame', () => {
  it('round-trips and names its key and version in the header', () => {
    const blob = sealCiphertext(
      aead,
      { keyId, keyVersion: 7 },
      Buffer.from('hello'),
      encodeEncryptionContext({ a: 'b' }),
    );
    expect(blob).toHaveLength(5 + CIPHERTEXT_OVERHEAD);
    expect(CIPHERTEXT_OVERHEAD).toBe(50);
    expect(parseCiphertextHeader(blob)).toEqual({ keyId, keyVersion: 7 });
    expect(openCiphertext(aead, blob, encodeEncryptionContext({ a: 'b' })).toString()).toBe('hello');
  });

  it('uses a fresh nonce every time', () => {
    const a = sealCiphertext(aead, { keyId, keyVersion: 1 }, Buffer.from('same'), new Uint8Array(0));
    const b = sealCiphertext(aead, { keyId, keyVersion: 1 }, Buffer.from('same'), new Uint8Array(0));
    expect(a.subarray(22, 34).equals(b.subarray(22, 34))).toBe(false);
  });

  it('rejects a wrong magic, format version or version 0 before decrypting', () => {
    const blob = sealCiphertext(aead, { keyId, keyVersion: 1 }, Buffer.from('x'), new Uint8Array(0));
    for (const [offset, value] of [
      [0, 0x4c],
      [1, 0x03],
    ] as const) {
      const bad = Buffer.from(blob);
      bad[offset] = value;
      expect(() => parseCiphertextHeader(bad)).toThrow(DecryptionError);
    }
    const zero = Buffer.from(blob);
    zero.writeUInt32BE(0, 18);
    expect(() => parseCiphertextHeader(zero)).toThrow(DecryptionError);
    expect(() => parseCiphertextHeader(blob.subarray(0, CIPHERTEXT_OVERHEAD - 1))).toThrow(DecryptionError);
  });

  it('fails to open when any header byte, the context or the key differ', () => {
    const ctx = encodeEncryptionContext({ a: 'b' });
    const blob = sealCiphertext(aead, { keyId, keyVersion: 1 }, Buffer.from('x'), ctx);
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 0x80;
      expect(() => openCiphertext(aead, bad, ctx)).toThrow(DecryptionError);
    }
    expect(() => openCiphertext(aead, blob, encodeEncryptionContext({ a: 'c' }))).toThrow(DecryptionError);
    const other = AeadKey.fromBytesInsecure(randomKeyBytesInsecure(32));
    expect(() => openCiphertext(other, blob, ctx)).toThrow(DecryptionError);
  });

  it('never shows key bytes when printed', () => {
    const bytes = randomKeyBytesInsecure(32);
    const key = AeadKey.fromBytesInsecure(bytes);
    const shown = `${key} ${JSON.stringify({ key })} ${inspect(key)}`;
    expect(shown).not.toContain(bytes.toString('base64'));
    expect(shown).not.toContain(bytes.toString('hex'));
    expect(shown).toContain('REDACTED');
  });
});

describe('root key wrapping', () => {
  it('binds wrapped material to its key id and version', () => {
    const root = RootKey.fromBytesInsecure(RootKey.generateBytesInsecure());
    const material = randomKeyBytesInsecure(32);
    const { wrapped, rootKeyId } = root.wrap(keyId, 3, material);
    expect(rootKeyId).toBe(root.id);
    expect(root.unwrap(keyId, 3, wrapped).equals(material)).toBe(true);
    expect(() => root.unwrap(keyId, 4, wrapped)).toThrow(DecryptionError);
    expect(() => root.unwrap('1234abcd-12ab-34cd-56ef-1234567890ac', 3, wrapped)).toThrow(DecryptionError);
  });

  it('keeps old root keys readable after promotion until they are retired', () => {
    const old = RootKey.fromBytesInsecure(RootKey.generateBytesInsecure());
    const next = RootKey.fromBytesInsecure(RootKey.generateBytesInsecure());
    const ring = new RootKeyring(old);
    ring.promote(next);
    expect(ring.current).toBe(next);
    expect(ring.get(old.id)).toBe(old);
    ring.retireOthers();
    expect(ring.get(old.id)).toBeUndefined();
    expect(ring.get(next.id)).toBe(next);
  });
});
