// PostgreSQL password verifiers (SCRAM-SHA-256 and md5), computed on the client as libpq's PQencryptPasswordConn does.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** libpq's and the server's default iteration count (scram_iterations). */
const SCRAM_ITERATIONS = 4096;
const SCRAM_SALT_BYTES = 16;

/**
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802/7677), the form pg_authid stores.
 * The password must already be SASLprep-normalized (printable ASCII is). `salt` is for tests: by default a
 * fresh random one, as libpq makes.
 */
export function scramSha256Verifier(
  password: string,
  salt: Uint8Array = randomBytes(SCRAM_SALT_BYTES),
  iterations: number = SCRAM_ITERATIONS,
): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${Buffer.from(salt).toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** `md5` + hex MD5 of password then role name: PostgreSQL's legacy verifier (password_encryption = md5). */
export function md5PasswordVerifier(password: string, role: string): string {
  return `md5${createHash('md5')
    .update(password + role)
    .digest('hex')}`;
}
