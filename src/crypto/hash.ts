// SHA-256, HMAC-SHA-256 and constant-time comparison for request signing (SigV4) outside src/crypto.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';

/** Lowercase hex SHA-256 of `data` (strings are hashed as UTF-8). */
export function sha256Hex(data: Uint8Array | string): string {
  // One-shot crypto.hash (Node ≥ 20.12) is about twice as fast as createHash for small inputs.
  return hash('sha256', data, 'hex');
}

/** HMAC-SHA-256 of the UTF-8 `data` under `key`. */
export function hmacSha256(key: Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Lowercase hex HMAC-SHA-256: digest('hex') skips the intermediate Buffer of hmacSha256(...).toString('hex'). */
export function hmacSha256Hex(key: Uint8Array | string, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

/**
 * True when `a` and `b` are equal, in time independent of where they differ. Strings of
 * different lengths are unequal (timingSafeEqual would throw); lengths are not secret here.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}
