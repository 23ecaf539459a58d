// Who sent a request: SigV4 (the admin's keys or STS temporary credentials), or a token as Bearer or Basic password.
import { adminIdentity, type Identity, type Sessions, type SignedRequest, verifySigV4 } from '../auth/index.js';
import { AppError } from '../core/errors.js';
import { constantTimeEqual } from '../crypto/index.js';
import type { AdminCredentials } from './admin-credentials.js';

export interface AuthenticatorDeps {
  admin: AdminCredentials;
  sessions: Sessions;
  accountId: string;
  /** ms since the epoch */
  now: () => number;
}

export type Authenticator = ReturnType<typeof createAuthenticator>;

const CREDENTIAL = /Credential=([A-Z0-9]{16,128})\//;

export function createAuthenticator(deps: AuthenticatorDeps) {
  const admin = adminIdentity(deps.accountId);

  return {
    /** SigV4 for `services`; an `ASIA…` key must come with its session token. The region is the credential scope's. */
    async sigV4(req: SignedRequest, services: readonly string[]): Promise<{ identity: Identity; region: string }> {
      const accessKeyId = CREDENTIAL.exec(req.headers.get('authorization') ?? '')?.[1];
      let identity: Identity = admin;
      let secret: string | undefined;
      if (accessKeyId === deps.admin.accessKeyId) {
        secret = deps.admin.secretAccessKey;
      } else if (accessKeyId?.startsWith('ASIA')) {
        const session = await deps.sessions.verifyTemporaryCredentials(
          accessKeyId,
          req.headers.get('x-amz-security-token') ?? undefined,
        );
        identity = session.identity;
        secret = session.secret;
      }
      const caller = verifySigV4(req, {
        now: deps.now(),
        services,
        lookupSecret: (id) => (id === accessKeyId ? secret : undefined),
      });
      return { identity, region: caller.region };
    },

    /**
     * `Authorization: Bearer <admin token | session token>`. A session an agent logged in with its
     * public key is good for the agent API only, where values leave encrypted to that key.
     */
    bearer,

    /**
     * `Authorization: Basic` whose password is a token (the username is ignored), or Bearer: what
     * Terraform's http backend can send (`username`/`password`, or TF_HTTP_PASSWORD).
     */
    async basicOrBearer(authorization: string | undefined): Promise<Identity> {
      if (!authorization?.startsWith('Basic ')) return bearer(authorization);
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0 || colon === decoded.length - 1) {
        throw new AppError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      }
      return token(decoded.slice(colon + 1));
    },
  };

  async function bearer(authorization: string | undefined, api: 'aws' | 'agent' = 'aws'): Promise<Identity> {
    if (!authorization?.startsWith('Bearer ')) {
      throw new AppError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    return token(authorization.slice(7), api);
  }

  async function token(value: string, api: 'aws' | 'agent' = 'aws'): Promise<Identity> {
    if (constantTimeEqual(value, deps.admin.token)) return admin;
    const identity = await deps.sessions.verifyBearer(value);
    // Elsewhere the value would leave in plaintext: whoever saw the agent's header (a proxy that
    // terminates TLS) could read it.
    if (identity.publicKey && api !== 'agent') {
      throw new AppError(
        'AccessDeniedException',
        'This session belongs to an agent key; use it with the agent API only.',
      );
    }
    return identity;
  }
}
