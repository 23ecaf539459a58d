// The one opaque failure every decryption path reports, whatever went wrong inside.

export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
  constructor() {
    super('decryption failed');
  }
}
