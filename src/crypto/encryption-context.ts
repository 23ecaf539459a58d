// Canonical, unambiguous encoding of a KMS encryption context as associated data.

export type EncryptionContext = Readonly<Record<string, string>>;

const EMPTY = new Uint8Array(0);

/** A surrogate code unit not part of a pair (in a /u regex, paired ones are one astral code point). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * UTF-8 for well-formed strings. A string with a lone surrogate (JSON allows "\ud800") is
 * encoded as WTF-8: the surrogate gets its own 3-byte sequence. UTF-8 would turn every lone
 * surrogate into U+FFFD, so {"k":"\ud800"}, {"k":"\udc00"} and {"k":"\ufffd"} would be one
 * context and a ciphertext bound to one would decrypt under the others.
 */
function encodeString(s: string): Buffer {
  if (!LONE_SURROGATE.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    parts.push(
      cp >= 0xd800 && cp <= 0xdfff
        ? Buffer.of(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f))
        : Buffer.from(ch, 'utf8'),
    );
  }
  return Buffer.concat(parts);
}

/**
 * Pairs sorted by key (UTF-8 byte order), each key and value prefixed with its 32-bit length,
 * after a 32-bit pair count. Length prefixes keep {"ab":"c"} and {"a":"bc"} apart, which the
 * emulators' plain concatenation does not. The empty context encodes to nothing, so
 * ciphertexts without one pay no AAD cost. Distinct contexts always encode differently.
 */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Uint8Array {
  if (context === undefined) return EMPTY;
  const entries = Object.entries(context);
  if (entries.length === 0) return EMPTY;
  const encoded = entries.map(([k, v]) => [encodeString(k), encodeString(v)] as const);
  encoded.sort((a, b) => Buffer.compare(a[0], b[0]));
  let size = 4;
  for (const [k, v] of encoded) size += 8 + k.length + v.length;
  const out = Buffer.allocUnsafe(size);
  let offset = out.writeUInt32BE(encoded.length, 0);
  for (const [k, v] of encoded) {
    offset = out.writeUInt32BE(k.length, offset);
    offset += k.copy(out, offset);
    offset = out.writeUInt32BE(v.length, offset);
    offset += v.copy(out, offset);
  }
  return out;
}
