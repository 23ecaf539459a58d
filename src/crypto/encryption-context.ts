// Canonical, unambiguous encoding of a KMS encryption context as associated data.

export type EncryptionContext = Readonly<Record<string, string>>;

const EMPTY = new Uint8Array(0);

/**
 * Pairs sorted by key (UTF-8 byte order), each key and value prefixed with its 32-bit length,
 * after a 32-bit pair count. Length prefixes keep {"ab":"c"} and {"a":"bc"} apart, which the
 * emulators' plain concatenation does not. The empty context encodes to nothing, so
 * ciphertexts without one pay no AAD cost.
 */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Uint8Array {
  if (context === undefined) return EMPTY;
  const entries = Object.entries(context);
  if (entries.length === 0) return EMPTY;
  const encoded = entries.map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
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
