// The symmetric KMS ciphertext blob: a self-describing, fully authenticated binary frame.
//
//   offset  size  field
//   0       1     magic 0x4B ('K')
//   1       1     format version: 0x01 for a UUID key id, 0x02 for a multi-Region `mrk-` key id
//   2       16    key id (the UUID's 16 bytes, or the 32 hex digits after `mrk-`)
//   18      4     key version, unsigned big-endian, >= 1
//   22      12    AES-GCM nonce
//   34      n     ciphertext
//   34+n    16    GCM tag
//
// Bytes 0..21 (the header) are authenticated as associated data together with the encoded
// encryption context, so flipping any bit anywhere fails the tag check. Overhead: 50 bytes.
import { type AeadKey, NONCE_BYTES, TAG_BYTES } from './aead.js';
import { DecryptionError } from './errors.js';

export const CIPHERTEXT_MAGIC = 0x4b;
export const CIPHERTEXT_FORMAT_V1 = 0x01;
/** The same frame for a multi-Region key (`mrk-` and 32 hex digits): the byte tells how to spell the id. */
export const CIPHERTEXT_FORMAT_MRK = 0x02;
export const HEADER_BYTES = 22;
export const CIPHERTEXT_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;

export interface CiphertextHeader {
  keyId: string;
  keyVersion: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MRK = /^mrk-[0-9a-f]{32}$/;

function encodeHeader(keyId: string, keyVersion: number): Buffer {
  const multiRegion = MRK.test(keyId);
  if (!multiRegion && !UUID.test(keyId)) throw new TypeError('key ids are lowercase UUIDs or mrk- ids');
  if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > 0xffffffff) {
    throw new TypeError('key versions are 32-bit and start at 1');
  }
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = CIPHERTEXT_MAGIC;
  header[1] = multiRegion ? CIPHERTEXT_FORMAT_MRK : CIPHERTEXT_FORMAT_V1;
  header.write((multiRegion ? keyId.slice(4) : keyId).replaceAll('-', ''), 2, 16, 'hex');
  header.writeUInt32BE(keyVersion, 18);
  return header;
}

/** Reads the header without decrypting; any malformed byte is the one opaque DecryptionError. */
export function parseCiphertextHeader(blob: Uint8Array): CiphertextHeader {
  if (blob.length < CIPHERTEXT_OVERHEAD) throw new DecryptionError();
  const format = blob[1];
  if (blob[0] !== CIPHERTEXT_MAGIC || (format !== CIPHERTEXT_FORMAT_V1 && format !== CIPHERTEXT_FORMAT_MRK)) {
    throw new DecryptionError();
  }
  const hex = Buffer.from(blob.buffer, blob.byteOffset + 2, 16).toString('hex');
  const keyVersion = Buffer.from(blob.buffer, blob.byteOffset, blob.length).readUInt32BE(18);
  if (keyVersion === 0) throw new DecryptionError();
  if (format === CIPHERTEXT_FORMAT_MRK) return { keyId: `mrk-${hex}`, keyVersion };
  const keyId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { keyId, keyVersion };
}

export function sealCiphertext(
  key: AeadKey,
  header: CiphertextHeader,
  plaintext: Uint8Array,
  encodedContext: Uint8Array,
): Buffer {
  return key.seal(plaintext, encodedContext, encodeHeader(header.keyId, header.keyVersion));
}

/** Opens a blob whose header was parsed with parseCiphertextHeader and whose key was looked up from it. */
export function openCiphertext(key: AeadKey, blob: Uint8Array, encodedContext: Uint8Array): Buffer {
  return key.open(blob, encodedContext, HEADER_BYTES);
}
