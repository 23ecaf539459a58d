// Workload login: a role name and a JWT → a verified, bound identity ready for a session.
import { AppError } from '../core/errors.js';
import { ownRecord } from '../core/records.js';
import type { Directory } from './directory.js';
import { sessionNameFor } from './identity.js';
import { FailureLimiter } from './rate-limit.js';
import { requireBound } from './roles.js';
import type { NewSession } from './sessions.js';

export const LOGIN_LIMITS = {
  /** Failed logins per minute for one role from one source address before that pair is refused. */
  perSourcePerMinute: 30,
  /**
   * Failed logins per minute for one role, from all sources, above which a source that has failed
   * for it in the last minute is refused at once. A source that has not failed never is: anyone
   * who can reach the server could otherwise lock the role out.
   */
  perRolePerMinute: 300,
} as const;

// Registered claims are checked, not kept: the session carries only the workload's own claims.
const DROPPED_CLAIMS = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti']);

export interface LoginAttempt {
  role: string;
  jwt: string;
  source: string;
  /** STS's RoleSessionName; logins derive one from `sub`. */
  sessionName?: string;
}

export function createLogin(
  directory: Directory,
  now: () => number,
  limits: { perSourcePerMinute: number; perRolePerMinute: number } = LOGIN_LIMITS,
) {
  const byRoleAndSource = new FailureLimiter(limits.perSourcePerMinute, now);
  const byRole = new FailureLimiter(limits.perRolePerMinute, now);

  async function attempt(a: LoginAttempt): Promise<NewSession> {
    const role = directory.role(a.role);
    if (!role) {
      throw new AppError('AccessDeniedException', `Not authorized to assume role ${a.role.slice(0, 64)}.`);
    }
    const issuer = directory.issuer(role.config.issuer);
    if (!issuer) {
      throw new AppError('IDPCommunicationError', `Role ${a.role}'s issuer ${role.config.issuer} is not configured.`);
    }
    const claims = await issuer.verify(a.jwt);
    requireBound(role, claims);
    // ownRecord: a "__proto__" claim stays a claim, never the object's prototype.
    const kept = ownRecord(Object.entries(claims).filter(([k]) => !DROPPED_CLAIMS.has(k)));
    return {
      role: a.role,
      subject: claims.sub,
      sessionName: a.sessionName ?? sessionNameFor(claims.sub),
      claims: kept,
      ttlMs: role.sessionTtlMs,
    };
  }

  return {
    /**
     * Verifies the attempt. Failures count against the (role, source) pair, which is refused before
     * any token work once over its limit; and against the role, which while flooded refuses every
     * pair that has failed at all. A valid token from a source that has not failed is always tried.
     */
    async login(a: LoginAttempt): Promise<NewSession> {
      const known = directory.role(a.role) !== undefined;
      // Unknown role names share one bucket per source, so spraying names grows nothing.
      const pairKey = known ? `${a.role}\n${a.source}` : `\n${a.source}`;
      const pairFailures = byRoleAndSource.failures(pairKey);
      const flooded = known && byRole.blocked(a.role);
      if (pairFailures >= limits.perSourcePerMinute || (flooded && pairFailures > 0)) {
        throw new AppError('ThrottlingException', 'Too many failed logins; retry in a minute.');
      }
      try {
        return await attempt(a);
      } catch (e) {
        byRoleAndSource.fail(pairKey);
        if (known) byRole.fail(a.role);
        throw e;
      }
    },
  };
}

export type Login = ReturnType<typeof createLogin>;
