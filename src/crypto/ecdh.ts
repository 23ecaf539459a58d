// ECDH (NIST SP 800-56A cofactor Diffie-Hellman primitive) between a KMS key's private key and a peer's SPKI public key.
import { createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { PeerKeyError } from './errors.js';

/**
 * The raw shared secret (the x-coordinate, as long as the field) of `privateKey` (on `curve`, node's
 * name) and the peer's DER SubjectPublicKeyInfo. OpenSSL checks the peer's point lies on the curve;
 * the NIST curves have cofactor 1, so the plain and cofactor primitives agree.
 */
export function ecdhSharedSecret(privateKey: KeyObject, curve: string, peerSpkiDer: Uint8Array): Buffer {
  let peer: KeyObject;
  try {
    peer = createPublicKey({ key: Buffer.from(peerSpkiDer), format: 'der', type: 'spki' });
  } catch {
    throw new PeerKeyError('malformed');
  }
  if (peer.asymmetricKeyType !== 'ec' || peer.asymmetricKeyDetails?.namedCurve !== curve) {
    throw new PeerKeyError('wrong-curve');
  }
  return diffieHellman({ privateKey, publicKey: peer });
}
