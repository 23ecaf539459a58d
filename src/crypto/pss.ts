// EMSA-PSS (RFC 8017 §9.1) over a precomputed digest, which node's crypto.sign cannot take directly.
import { createHash, timingSafeEqual } from 'node:crypto';
import { fillRandom } from './random.js';

export type PssHash = 'sha256' | 'sha384' | 'sha512';

const EIGHT_ZEROS = Buffer.alloc(8);

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: PssHash, seed: Uint8Array, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  const counter = Buffer.allocUnsafe(4);
  for (let i = 0, offset = 0; offset < length; i++) {
    counter.writeUInt32BE(i);
    offset += createHash(hash).update(seed).update(counter).digest().copy(out, offset);
  }
  return out;
}

/** H = Hash(0x00 × 8 ‖ mHash ‖ salt). */
function saltedHash(hash: PssHash, mHash: Uint8Array, salt: Uint8Array): Buffer {
  return createHash(hash).update(EIGHT_ZEROS).update(mHash).update(salt).digest();
}

/** Sizes for a modulus: emBits = modBits - 1 keeps EM numerically below the modulus. */
function layout(modulusBits: number, hLen: number) {
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  return {
    blockLen: Math.ceil(modulusBits / 8),
    emLen,
    dbLen: emLen - hLen - 1,
    // EM's leftmost 8·emLen − emBits bits must be zero; this masks them off the first byte
    topMask: 0xff >>> (8 * emLen - emBits),
  };
}

/**
 * EMSA-PSS-ENCODE with salt length = digest length (what AWS KMS uses), left-padded to the
 * modulus length so it can go straight into RSA with no padding.
 */
export function pssEncode(hash: PssHash, mHash: Uint8Array, modulusBits: number): Buffer {
  const hLen = mHash.length;
  const { blockLen, emLen, dbLen, topMask } = layout(modulusBits, hLen);
  if (emLen < 2 * hLen + 2) throw new TypeError('RSA modulus too small for PSS with this hash');
  const salt = Buffer.allocUnsafe(hLen);
  fillRandom(salt);
  const h = saltedHash(hash, mHash, salt);

  const block = Buffer.alloc(blockLen);
  const em = block.subarray(blockLen - emLen);
  // DB = PS (zeros) ‖ 0x01 ‖ salt, then masked with MGF1(H)
  em[dbLen - hLen - 1] = 0x01;
  salt.copy(em, dbLen - hLen);
  const mask = mgf1(hash, h, dbLen);
  for (let i = 0; i < dbLen; i++) em[i] = em[i]! ^ mask[i]!;
  em[0] = em[0]! & topMask;
  h.copy(em, dbLen);
  em[emLen - 1] = 0xbc;
  return block;
}

/** EMSA-PSS-VERIFY with salt length = digest length, on the raw RSA output block. */
export function pssVerify(hash: PssHash, mHash: Uint8Array, block: Uint8Array, modulusBits: number): boolean {
  const hLen = mHash.length;
  const { blockLen, emLen, dbLen, topMask } = layout(modulusBits, hLen);
  if (block.length !== blockLen || emLen < 2 * hLen + 2) return false;
  // Bytes ahead of EM only exist when modBits ≡ 1 (mod 8); I2OSP(m, emLen) needs them zero
  for (let i = 0; i < blockLen - emLen; i++) if (block[i] !== 0) return false;
  const em = block.subarray(blockLen - emLen);
  if (em[emLen - 1] !== 0xbc || (em[0]! & ~topMask & 0xff) !== 0) return false;

  const h = em.subarray(dbLen, dbLen + hLen);
  const db = mgf1(hash, h, dbLen);
  for (let i = 0; i < dbLen; i++) db[i] = db[i]! ^ em[i]!;
  db[0] = db[0]! & topMask;
  const one = dbLen - hLen - 1;
  for (let i = 0; i < one; i++) if (db[i] !== 0) return false;
  if (db[one] !== 0x01) return false;
  return timingSafeEqual(h, saltedHash(hash, mHash, db.subarray(dbLen - hLen)));
}
