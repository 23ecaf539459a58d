// Grant tokens: what CreateGrant returns, naming its grant. Keysafe's grants take effect at once, so a
// token only identifies a grant (RetireGrant by token); any other operation checks its form only.
import { AppError } from '../core/errors.js';
import { randomHex } from '../crypto/index.js';

const PREFIX = 'KSGT1.';
const GRANT_ID = /^[0-9a-f]{64}$/;

export interface GrantTokenTarget {
  keyArn: string;
  grantId: string;
}

/** A new token for the grant: every CreateGrant answers a different one, all interchangeable. */
export function grantToken(target: GrantTokenTarget): string {
  const body = JSON.stringify({ k: target.keyArn, g: target.grantId, n: randomHex(16) });
  return PREFIX + Buffer.from(body, 'utf8').toString('base64url');
}

const invalid = () => new AppError('InvalidGrantTokenException', 'The grant token is not valid.');

/** The grant a token names; InvalidGrantTokenException when it is not one of Keysafe's tokens. */
export function parseGrantToken(token: string): GrantTokenTarget {
  if (!token.startsWith(PREFIX)) throw invalid();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof body !== 'object' || body === null) throw invalid();
  const { k, g } = body as Record<string, unknown>;
  if (typeof k !== 'string' || !k.startsWith('arn:') || typeof g !== 'string' || !GRANT_ID.test(g)) throw invalid();
  return { keyArn: k, grantId: g };
}

/** Checks every token of a GrantTokens member. */
export function checkGrantTokens(tokens: readonly string[] | undefined): void {
  for (const t of tokens ?? []) parseGrantToken(t);
}

/** A grant id of AWS's form (64 hexadecimal characters); InvalidGrantIdException otherwise. */
export function checkGrantId(grantId: string): void {
  if (!GRANT_ID.test(grantId)) throw new AppError('InvalidGrantIdException', 'Invalid grant ID.');
}
