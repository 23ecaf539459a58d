// The native API's request wrapper: authenticate, run, map errors to statuses, audit, answer.
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { AuditLog } from '../audit/index.js';
import type { Directory, Identity } from '../auth/index.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { RequestAccess } from './access.js';
import { auditRecord } from './audit-trail.js';
import type { Authenticator } from './authenticate.js';
import { awsErrorBody, nativeStatusOf, toAppError } from './http-errors.js';

export type Env = { Bindings: HttpBindings; Variables: { requestId: string } };

/** What a route tells the audit record beyond the request itself. */
export interface RouteContext {
  identity: Identity | undefined;
  access: RequestAccess | undefined;
  /** For unauthenticated routes (login): the resource and the identity established. */
  resource?: string;
  decision?: 'allow' | 'deny';
}

export interface RouteDeps {
  authenticator: Authenticator;
  directory: Directory;
  audit: AuditLog;
  accountId: string;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

export type Handler = (c: Context<Env>, r: RouteContext) => Promise<object>;
/** Who may call a route: any token holder but agent sessions (default), agent sessions too, or anyone. */
export type RouteAuth = 'token' | 'agent' | 'anonymous';
export type Route = (action: string, run: Handler, auth?: RouteAuth) => (c: Context<Env>) => Promise<Response>;

export const sourceAddress = (c: Context<Env>): string => c.env?.incoming?.socket?.remoteAddress ?? 'unknown';

/** Records one native request in the audit log; false when the record could not be written. */
export function auditNative(
  deps: RouteDeps,
  c: Context<Env>,
  r: RouteContext,
  action: string,
  outcome: string,
): Promise<boolean> {
  return deps.audit
    .append(
      auditRecord({
        requestId: c.get('requestId'),
        source: sourceAddress(c),
        identity: r.identity,
        action: r.access?.action ?? action,
        resource: r.access?.resource ?? r.resource,
        decision: r.access?.decision ?? r.decision ?? 'none',
        outcome,
        at: deps.now(),
      }),
    )
    .then(
      () => true,
      () => false,
    );
}

/** Authenticates the bearer token (admin or session) and prepares the request's access decisions. */
export async function authenticateNative(
  deps: RouteDeps,
  c: Context<Env>,
  r: RouteContext,
  api: 'aws' | 'agent' = 'aws',
): Promise<void> {
  r.identity = await deps.authenticator.bearer(c.req.header('authorization'), api);
  r.access = new RequestAccess(r.identity, deps.directory, deps.accountId);
}

/**
 * Wraps a JSON route: authenticates (unless `anonymous`), runs it, maps errors to statuses, and
 * answers only once the audit record is written.
 */
export function makeRoute(deps: RouteDeps): Route {
  return (action, run, auth = 'token') =>
    async (c) => {
      const started = performance.now();
      const r: RouteContext = { identity: undefined, access: undefined };
      let status = 200;
      let body: string;
      let outcome = 'success';
      try {
        await deps.audit.ready();
        if (auth !== 'anonymous') await authenticateNative(deps, c, r, auth === 'agent' ? 'agent' : 'aws');
        body = JSON.stringify(await run(c, r));
        deps.metrics.observe(action, 'ok', (performance.now() - started) / 1000);
      } catch (e) {
        const error = toAppError(e);
        outcome = error.code;
        deps.metrics.observe(action, error.code, (performance.now() - started) / 1000);
        if (error !== e) {
          deps.logger.error('request failed', { action, error: (e as Error)?.name, stack: (e as Error)?.stack });
        }
        status = nativeStatusOf(error);
        body = awsErrorBody(error);
      }
      // As on the AWS API: an answer whose audit record could not be written is not given.
      if (outcome !== 'ServiceUnavailableException' && !(await auditNative(deps, c, r, action, outcome))) {
        const error = new AppError('ServiceUnavailableException', 'The audit log cannot be written; try again later.');
        status = nativeStatusOf(error);
        body = awsErrorBody(error);
      }
      return c.body(body, status as 200, { 'content-type': 'application/json' });
    };
}
