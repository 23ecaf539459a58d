// Shapes one request's audit record from what the server knows about it.
import type { AuditEvent, AuditIdentity } from '../audit/index.js';
import type { Identity } from '../auth/index.js';

export interface RequestFacts {
  requestId: string;
  source: string;
  identity: Identity | undefined;
  action: string;
  resource: string | undefined;
  /** The region the request was admitted in, once it was. */
  region?: string | undefined;
  decision: AuditEvent['decision'];
  outcome: string;
  /** ms since the epoch */
  at: number;
}

function auditIdentity(identity: Identity | undefined): AuditIdentity {
  if (!identity) return { type: 'anonymous' };
  if (identity.kind === 'admin') return { type: 'admin', arn: identity.arn };
  return { type: 'role', arn: identity.arn, role: identity.role, subject: identity.subject };
}

export function auditRecord(f: RequestFacts): AuditEvent {
  const event: AuditEvent = {
    time: new Date(f.at).toISOString(),
    requestId: f.requestId,
    source: f.source,
    identity: auditIdentity(f.identity),
    action: f.action,
    decision: f.decision,
    outcome: f.outcome,
  };
  if (f.resource !== undefined) event.resource = f.resource;
  if (f.region !== undefined) event.region = f.region;
  return event;
}
