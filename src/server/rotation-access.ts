// Rotation steps' authorization: each check decided as the rotation's recorded principal, by its policy now, and audited.
import type { AuditLog } from '../audit/index.js';
import { adminIdentity, assumedRoleArn, type Directory, decide, type Identity, roleArn } from '../auth/index.js';
import type { AccessCheck } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { newUuid } from '../crypto/index.js';
import type { RotationAuthorizer, RotationPrincipalRecord } from '../secrets/index.js';
import { auditRecord } from './audit-trail.js';

export interface RotationAccessDeps {
  directory: Directory;
  audit: Pick<AuditLog, 'append'>;
  accountId: string;
  now: () => number;
}

/** The identity a recorded principal evaluates as: the same condition keys its session had. */
export function identityOf(principal: RotationPrincipalRecord, accountId: string): Identity {
  if (principal.kind === 'admin') return adminIdentity(accountId);
  return {
    kind: 'role',
    role: principal.role,
    roleArn: roleArn(accountId, principal.role),
    arn: assumedRoleArn(accountId, principal.role, principal.sessionName),
    sessionName: principal.sessionName,
    subject: principal.subject,
    claims: principal.claims,
    via: 'login',
    issuedAt: principal.sessionIssuedAt,
    expiresAt: principal.sessionIssuedAt,
  };
}

export function createRotationAccess(deps: RotationAccessDeps): RotationAuthorizer {
  const { directory, accountId } = deps;

  /** The refusal, or undefined when the principal may. Fails closed on everything it cannot vouch for. */
  function refusal(principal: RotationPrincipalRecord | undefined, check: AccessCheck): AppError | undefined {
    const on = `${check.action} on resource: ${check.resource}`;
    if (!principal) {
      return new AppError(
        'AccessDeniedException',
        `The rotation has no recorded principal and is not authorized to perform: ${on}; it was configured before Keysafe recorded who configured rotations. Call RotateSecret again so that it acts as you.`,
      );
    }
    if (principal.kind === 'admin') return undefined;
    const identity = identityOf(principal, accountId);
    const role = directory.role(principal.role);
    if (!role) {
      return new AppError(
        'AccessDeniedException',
        `User: ${identity.arn} is not authorized to perform: ${on} because its role no longer exists`,
      );
    }
    // The rotation acts as the session that configured it: revoke-sessions (a leaked token) ends it
    // too, and so does deleting the role (which revokes), even if a role of that name is made again.
    const revokedBefore = directory.revokedBefore(principal.role) ?? Number.POSITIVE_INFINITY;
    if (principal.sessionIssuedAt <= revokedBefore) {
      return new AppError(
        'AccessDeniedException',
        `User: ${identity.arn} is not authorized to perform: ${on} because the session that configured this rotation was revoked; call RotateSecret again`,
      );
    }
    const d = decide(identity, role.policy, check, accountId);
    if (d.allowed) return undefined;
    const why = d.reason === 'explicit-deny' ? 'with an explicit deny in a policy' : 'because no policy allows it';
    return new AppError('AccessDeniedException', `User: ${identity.arn} is not authorized to perform: ${on} ${why}`);
  }

  return {
    async authorize(principal, check) {
      const refused = refusal(principal, check);
      try {
        await deps.audit.append(
          auditRecord({
            requestId: newUuid(),
            source: 'rotation',
            identity: principal && identityOf(principal, accountId),
            action: check.action,
            resource: check.resource,
            decision: refused ? 'deny' : 'allow',
            outcome: refused ? refused.code : 'success',
            at: deps.now(),
          }),
        );
      } catch {
        // An access that cannot be recorded does not happen.
        throw new AppError('ServiceUnavailableException', 'The audit log cannot be written; try again later.');
      }
      if (refused) throw refused;
    },
  };
}
