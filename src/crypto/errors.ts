// The opaque failures the crypto module reports: decryption (whatever went wrong inside), and a peer's unusable public key.

export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
  constructor() {
    super('decryption failed');
  }
}

/** A key agreement peer key that is not a DER SPKI EC key ('malformed') or is on another curve. */
export class PeerKeyError extends Error {
  override readonly name = 'PeerKeyError';
  constructor(readonly reason: 'malformed' | 'wrong-curve') {
    super(
      reason === 'malformed'
        ? 'the peer public key is not a DER SubjectPublicKeyInfo'
        : 'the peer key is on another curve',
    );
  }
}
