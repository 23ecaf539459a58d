// PostgreSQL password verifiers against published answers: RFC 7677's SCRAM-SHA-256 exchange, and md5's
// well-known value for user "postgres" with password "postgres".
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { md5PasswordVerifier, scramSha256Verifier } from '../../src/crypto/index.js';

// RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
const RFC7677 = {
  password: 'pencil',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  iterations: 4096,
  authMessage:
    'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientProof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverSignature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

/** The parts of `SCRAM-SHA-256$<i>:<salt>$<StoredKey>:<ServerKey>`. */
function parse(verifier: string) {
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!match) throw new Error(`not a SCRAM-SHA-256 verifier: ${verifier}`);
  const [, iterations, salt, storedKey, serverKey] = match;
  return {
    iterations: Number(iterations),
    salt: salt!,
    storedKey: Buffer.from(storedKey!, 'base64'),
    serverKey: Buffer.from(serverKey!, 'base64'),
  };
}

describe('scramSha256Verifier', () => {
  it('stores keys with which a server checks RFC 7677’s client proof and signs its answer', () => {
    const verifier = scramSha256Verifier(RFC7677.password, Buffer.from(RFC7677.salt, 'base64'), RFC7677.iterations);
    const { iterations, salt, storedKey, serverKey } = parse(verifier);
    expect(iterations).toBe(4096);
    expect(salt).toBe(RFC7677.salt);
    // What the server does (RFC 5802 §3): ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) = StoredKey.
    const clientSignature = createHmac('sha256', storedKey).update(RFC7677.authMessage).digest();
    const proof = Buffer.from(RFC7677.clientProof, 'base64');
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ clientSignature[i]!));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
    expect(createHmac('sha256', serverKey).update(RFC7677.authMessage).digest('base64')).toBe(RFC7677.serverSignature);
  });

  it('defaults to 4096 iterations and a fresh 16-byte salt each time', () => {
    const a = parse(scramSha256Verifier('pencil'));
    const b = parse(scramSha256Verifier('pencil'));
    expect(a.iterations).toBe(4096);
    expect(Buffer.from(a.salt, 'base64')).toHaveLength(16);
    expect(a.salt).not.toBe(b.salt);
    expect(a.storedKey.equals(b.storedKey)).toBe(false);
  });
});

describe('md5PasswordVerifier', () => {
  it('is md5 + hex MD5(password || role)', () => {
    expect(md5PasswordVerifier('postgres', 'postgres')).toBe('md53175bce1d3201d16594cebf9d7eb3f9d');
  });
});
