// Session tokens: signed by the server, verified without a database lookup; STS credentials on top.
//
// A token is `ks1.<base64url JSON payload>.<base64url HMAC-SHA-256>` made with the KMS HMAC key
// alias/keysafe/sessions: every replica shares it, root key rotation re-wraps it like any key, and
// disabling it ends every session at once. STS credentials are a token bound to an `ASIA…` key
// id; the secret access key is an HMAC of that id, so the server re-derives it and never stores
// it. Revocation is per role: a session issued at or before the role's `revokedBefore` is refused.
import { AppError } from '../core/errors.js';
import { constantTimeEqual, randomBase32, randomToken } from '../crypto/index.js';
import { assumedRoleArn, type RoleIdentity, roleArn } from './identity.js';
import { MAX_SESSION_MS } from './roles.js';

const PREFIX = 'ks1.';
/** Sessions refused after this size: the claims ride along, and headers must stay small. */
const MAX_TOKEN_CHARS = 8192;
const CACHE_MAX = 10_000;
/** How long a check that the session key is in force holds: the key record's own cache TTL. */
const KEY_CHECK_MS = 1000;

const invalidToken = () =>
  new AppError('UnrecognizedClientException', 'The security token included in the request is invalid.');

interface Payload {
  r: string; // role
  s: string; // subject
  n: string; // session name
  c: Record<string, unknown>; // claims
  v: 'login' | 'sts';
  iat: number; // ms
  exp: number; // ms
  k?: string; // STS access key id
  pk?: AgentPublicKey; // the agent's key that secret values are wrapped to
  j: string; // nonce: two sessions never share a token
}

/** An agent's ephemeral public key (JWK) for ECDH-ES: values fetched in its session are encrypted to it. */
export interface AgentPublicKey {
  kty: 'EC' | 'OKP';
  crv: 'P-256' | 'P-384' | 'P-521' | 'X25519';
  x: string;
  y?: string;
}

export interface NewSession {
  role: string;
  subject: string;
  sessionName: string;
  claims: Record<string, unknown>;
  ttlMs: number;
  publicKey?: AgentPublicKey;
}

export interface StsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
}

export interface SessionDeps {
  /** base64url HMAC-SHA-256 of `data` under the session key. */
  mac: (data: string) => Promise<string>;
  /** Throws unless the session key is still in force (not disabled or deleted): checked on cache hits too. */
  keyInForce: () => Promise<void>;
  accountId: string;
  now: () => number;
  /** ms since the epoch before which the role's sessions are revoked; undefined if the role is gone. */
  revokedBefore: (role: string) => number | undefined;
}

export type Sessions = ReturnType<typeof createSessions>;

export function createSessions(deps: SessionDeps) {
  const secretFor = (accessKeyId: string) => secretOf(deps, accessKeyId);
  const decode = createDecoder(deps);

  return {
    /** A session for `POST /v1/auth/login`. */
    async login(s: NewSession): Promise<{ token: string; expiresAt: number; identity: RoleIdentity }> {
      const { token, identity } = await issue(deps, s);
      return { token, expiresAt: identity.expiresAt, identity };
    },

    /** Temporary SigV4 credentials for STS AssumeRoleWithWebIdentity. */
    async assumeRole(s: NewSession): Promise<{ credentials: StsCredentials; identity: RoleIdentity }> {
      const accessKeyId = `ASIA${randomBase32(16)}`;
      const { token, identity } = await issue(deps, s, accessKeyId);
      return {
        credentials: {
          accessKeyId,
          secretAccessKey: await secretFor(accessKeyId),
          sessionToken: token,
          expiresAt: identity.expiresAt,
        },
        identity,
      };
    },

    /** A bearer session token → its identity. STS session tokens only count with their signature. */
    async verifyBearer(token: string): Promise<RoleIdentity> {
      const { identity } = await decode(token);
      if (identity.accessKeyId !== undefined) {
        throw new AppError(
          'UnrecognizedClientException',
          'An STS session token must be used with its access key in a SigV4 signature.',
        );
      }
      return requireCurrent(deps, identity);
    },

    /**
     * For SigV4 with an `ASIA…` key: the session token must be bound to that key id. Returns the
     * identity and the secret to check the signature with.
     */
    async verifyTemporaryCredentials(
      accessKeyId: string,
      sessionToken: string | undefined,
    ): Promise<{ identity: RoleIdentity; secret: string }> {
      if (sessionToken === undefined) {
        throw invalidToken();
      }
      const { identity, secret } = await decode(sessionToken);
      if (identity.accessKeyId !== accessKeyId || secret === undefined) {
        throw invalidToken();
      }
      return { identity: requireCurrent(deps, identity), secret };
    },
  };
}

/** An STS secret access key: an HMAC of its key id, re-derived rather than stored. */
const secretOf = (deps: SessionDeps, accessKeyId: string) => deps.mac(`sts-secret-access-key\0${accessKeyId}`);

async function sign(deps: SessionDeps, payload: Payload): Promise<string> {
  const body = `${PREFIX}${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${body}.${await deps.mac(body)}`;
}

async function issue(
  deps: SessionDeps,
  s: NewSession,
  accessKeyId?: string,
): Promise<{ token: string; identity: RoleIdentity }> {
  // Revocation refuses sessions issued at or before its instant (one issued in the same ms may
  // have raced it); a session issued after it starts at least 1 ms later so it is never caught.
  const iat = Math.max(deps.now(), (deps.revokedBefore(s.role) ?? 0) + 1);
  const payload: Payload = {
    r: s.role,
    s: s.subject,
    n: s.sessionName,
    c: s.claims,
    v: accessKeyId ? 'sts' : 'login',
    iat,
    exp: iat + s.ttlMs,
    j: randomToken(9),
  };
  if (accessKeyId) payload.k = accessKeyId;
  if (s.publicKey) payload.pk = s.publicKey;
  const token = await sign(deps, payload);
  if (token.length > MAX_TOKEN_CHARS) {
    throw new AppError('IDPRejectedClaim', 'The token carries too many claims for a session.');
  }
  return { token, identity: identityOf(deps.accountId, payload) };
}

function identityOf(accountId: string, p: Payload): RoleIdentity {
  const identity: RoleIdentity = {
    kind: 'role',
    role: p.r,
    roleArn: roleArn(accountId, p.r),
    arn: assumedRoleArn(accountId, p.r, p.n),
    sessionName: p.n,
    subject: p.s,
    claims: p.c,
    via: p.v,
    issuedAt: p.iat,
    expiresAt: p.exp,
  };
  if (p.k) identity.accessKeyId = p.k;
  if (p.pk) identity.publicKey = p.pk;
  return identity;
}

type Decoded = { identity: RoleIdentity; secret?: string };

/** Checks a token's MAC and reads its identity (and an STS session's secret), caching what it verified. */
function createDecoder(deps: SessionDeps): (token: string) => Promise<Decoded> {
  // Verified tokens, so the hot path skips the HMAC and the JSON parse; expiry and revocation are
  // still checked on every use. Keyed by the 43-character tag (hashing the whole token per request
  // costs more than the rest), and the whole token is compared on a hit.
  const verified = new Map<string, Decoded & { token: string }>();
  let keyCheckedAt = Number.NEGATIVE_INFINITY;

  return async (token) => {
    const cached = verified.get(token.slice(token.lastIndexOf('.') + 1));
    if (cached && cached.token === token) {
      // Disabling the session key ends the sessions already verified too (within the second
      // the key's state is cached for, as everywhere else).
      const now = deps.now();
      if (now - keyCheckedAt >= KEY_CHECK_MS) {
        await deps.keyInForce().catch(() => {
          throw invalidToken();
        });
        keyCheckedAt = now;
      }
      return cached;
    }
    const invalid = invalidToken();
    if (token.length > MAX_TOKEN_CHARS || !token.startsWith(PREFIX)) throw invalid;
    const dot = token.lastIndexOf('.');
    const body = token.slice(0, dot);
    const tag = token.slice(dot + 1);
    if (!constantTimeEqual(await deps.mac(body), tag)) throw invalid;
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body.slice(PREFIX.length), 'base64url').toString('utf8')) as Payload;
    } catch {
      throw invalid;
    }
    const identity = identityOf(deps.accountId, payload);
    const entry = identity.accessKeyId
      ? { token, identity, secret: await secretOf(deps, identity.accessKeyId) }
      : { token, identity };
    if (verified.size >= CACHE_MAX) verified.delete(verified.keys().next().value!);
    verified.set(tag, entry);
    return entry;
  };
}

/** Expiry and revocation: checked on every request, cached or not. */
function requireCurrent(deps: SessionDeps, identity: RoleIdentity): RoleIdentity {
  const now = deps.now();
  if (now >= identity.expiresAt) {
    throw new AppError('ExpiredTokenException', 'The security token included in the request is expired');
  }
  // The server never issues a token from the future: one would outlive every revocation. A minute
  // of leeway for a replica whose clock runs ahead of this one.
  if (identity.issuedAt > now + 60_000) throw invalidToken();
  // Nor one that lives longer than the longest session a role may have: a token minted with the
  // session key (a leaked root key, a past bug) would otherwise outlive the key's rotation.
  if (identity.expiresAt - identity.issuedAt > MAX_SESSION_MS) throw invalidToken();
  const revokedBefore = deps.revokedBefore(identity.role);
  if (revokedBefore === undefined || identity.issuedAt <= revokedBefore) {
    throw invalidToken();
  }
  return identity;
}
