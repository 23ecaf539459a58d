// The native HTTP routes on Hono (health, metrics, workload login, admin API); POST / is aws-json.ts.
import type { HttpBindings } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { AuditLog } from '../audit/index.js';
import {
  type Directory,
  type Identity,
  issuerSchema,
  type Login,
  roleArn,
  roleSchema,
  type Sessions,
} from '../auth/index.js';
import { AppError } from '../core/errors.js';
import { newUuid } from '../crypto/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { RequestAccess } from './access.js';
import { auditRecord } from './audit-trail.js';
import type { Authenticator } from './authenticate.js';
import { commonHeaders } from './aws-json.js';
import { awsErrorBody, nativeStatusOf, toAppError } from './http-errors.js';

export interface AppDeps {
  authenticator: Authenticator;
  directory: Directory;
  login: Login;
  sessions: Sessions;
  audit: AuditLog;
  accountId: string;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
  /** False while starting or draining: /readyz answers 503. */
  isReady: () => boolean;
  maxBodyBytes: number;
  rotateRootKey: () => Promise<{ rewrapped: number; rootKeyId: string }>;
}

type Env = { Bindings: HttpBindings; Variables: { requestId: string } };

/** What a route tells the audit record beyond the request itself. */
interface RouteContext {
  identity: Identity | undefined;
  access: RequestAccess | undefined;
  /** For unauthenticated routes (login): the resource and the identity established. */
  resource?: string;
  decision?: 'allow' | 'deny';
}

const LoginInput = z.object({ role: z.string().min(1).max(64), jwt: z.string().min(1) });

export function createApp(deps: AppDeps): Hono<Env> {
  const { logger, metrics, directory, accountId } = deps;
  const app = new Hono<Env>();

  app.use(async (c, next) => {
    const requestId = newUuid();
    c.set('requestId', requestId);
    // Set before the handler runs: headers added to a finished response force a slow copy.
    for (const [name, value] of Object.entries(commonHeaders(requestId))) c.header(name, value);
    await next();
  });

  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: deps.maxBodyBytes,
      onError: (c) =>
        c.body(
          awsErrorBody(
            new AppError('RequestEntityTooLargeException', `Request body is larger than ${deps.maxBodyBytes} bytes.`),
          ),
          413,
          { 'content-type': 'application/json', connection: 'close' },
        ),
    }),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => (deps.isReady() ? c.json({ status: 'ready' }) : c.json({ status: 'not ready' }, 503)));
  app.get('/metrics', (c) => c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }));

  /**
   * Wraps a route: authenticates (unless `anonymous`), runs it, maps errors to statuses, and
   * answers only once the audit record is written.
   */
  const route =
    (action: string, run: (c: Context<Env>, r: RouteContext) => Promise<object>, anonymous = false) =>
    async (c: Context<Env>) => {
      const started = performance.now();
      const r: RouteContext = { identity: undefined, access: undefined };
      let status = 200;
      let body: string;
      let outcome = 'success';
      try {
        await deps.audit.ready();
        if (!anonymous) {
          r.identity = await deps.authenticator.bearer(c.req.header('authorization'));
          r.access = new RequestAccess(r.identity, directory, accountId);
        }
        body = JSON.stringify(await run(c, r));
        metrics.observe(action, 'ok', (performance.now() - started) / 1000);
      } catch (e) {
        const error = toAppError(e);
        outcome = error.code;
        metrics.observe(action, error.code, (performance.now() - started) / 1000);
        if (error !== e)
          logger.error('request failed', { action, error: (e as Error)?.name, stack: (e as Error)?.stack });
        status = nativeStatusOf(error);
        body = awsErrorBody(error);
      }
      if (outcome !== 'ServiceUnavailableException') {
        await deps.audit
          .append(
            auditRecord({
              requestId: c.get('requestId'),
              source: c.env?.incoming?.socket?.remoteAddress ?? 'unknown',
              identity: r.identity,
              action: r.access?.action ?? action,
              resource: r.access?.resource ?? r.resource,
              decision: r.access?.decision ?? r.decision ?? 'none',
              outcome,
              at: deps.now(),
            }),
          )
          .catch(() => undefined);
      }
      return c.body(body, status as 200, { 'content-type': 'application/json' });
    };

  app.post(
    '/v1/auth/login',
    route(
      'keysafe:Login',
      async (c, r) => {
        const input = LoginInput.safeParse(await c.req.json().catch(() => undefined));
        if (!input.success) throw new AppError('ValidationException', 'Expected a JSON body {"role", "jwt"}.');
        r.resource = roleArn(accountId, input.data.role);
        r.decision = 'deny';
        const session = await deps.login.login({
          role: input.data.role,
          jwt: input.data.jwt,
          source: c.env?.incoming?.socket?.remoteAddress ?? 'unknown',
        });
        const { token, expiresAt, identity } = await deps.sessions.login(session);
        r.identity = identity;
        r.decision = 'allow';
        return { token, expiresAt: new Date(expiresAt).toISOString() };
      },
      true,
    ),
  );

  // --- admin API: issuers and roles, for operators and the Terraform provider -------------------

  const issuerArn = (name: string) => `arn:aws:iam::${accountId}:oidc-provider/${name}`;
  const nameParam = z.string().regex(/^[\w+=,.@-]{1,64}$/);
  const pathName = (c: Context<Env>): string => {
    const parsed = nameParam.safeParse(c.req.param('name'));
    if (!parsed.success) throw new AppError('ValidationException', 'Names are 1–64 characters of [\\w+=,.@-].');
    return parsed.data;
  };
  const bodyFor = async (c: Context<Env>, name: string): Promise<Record<string, unknown>> => {
    const body: unknown = await c.req.json().catch(() => undefined);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new AppError('ValidationException', 'Expected a JSON object.');
    }
    const named = body as Record<string, unknown>;
    if (named.name !== undefined && named.name !== name) {
      throw new AppError('ValidationException', 'The body names another entry than the path.');
    }
    return { ...named, name };
  };
  const invalid = (what: string, error: z.ZodError) => {
    const issue = error.issues[0]!;
    return new AppError(
      'ValidationException',
      `Invalid ${what}: ${issue.path.join('.') || '(body)'}: ${issue.message}`,
    );
  };

  app.get(
    '/v1/admin/issuers',
    route('keysafe:ListIssuers', async (_c, r) => {
      r.access!.require({ action: 'keysafe:ListIssuers', resource: '*' });
      return { issuers: directory.listIssuers() };
    }),
  );
  app.get(
    '/v1/admin/issuers/:name',
    route('keysafe:GetIssuer', async (c, r) => {
      const name = pathName(c);
      r.access!.require({ action: 'keysafe:GetIssuer', resource: issuerArn(name) });
      const found = directory.listIssuers().find((i) => i.name === name);
      if (!found) throw new AppError('ResourceNotFoundException', `No issuer named ${name}.`);
      return found;
    }),
  );
  app.put(
    '/v1/admin/issuers/:name',
    route('keysafe:PutIssuer', async (c, r) => {
      const name = pathName(c);
      r.access!.require({ action: 'keysafe:PutIssuer', resource: issuerArn(name) });
      const parsed = issuerSchema.safeParse(await bodyFor(c, name));
      if (!parsed.success) throw invalid('issuer', parsed.error);
      await directory.putIssuer(parsed.data);
      return { ...parsed.data, arn: issuerArn(name) };
    }),
  );
  app.delete(
    '/v1/admin/issuers/:name',
    route('keysafe:DeleteIssuer', async (c, r) => {
      const name = pathName(c);
      r.access!.require({ action: 'keysafe:DeleteIssuer', resource: issuerArn(name) });
      await directory.remove('issuer', name);
      return {};
    }),
  );

  app.get(
    '/v1/admin/roles',
    route('keysafe:ListRoles', async (_c, r) => {
      r.access!.require({ action: 'keysafe:ListRoles', resource: '*' });
      return { roles: directory.listRoles().map((role) => ({ ...role, arn: roleArn(accountId, role.name) })) };
    }),
  );
  app.get(
    '/v1/admin/roles/:name',
    route('keysafe:GetRole', async (c, r) => {
      const name = pathName(c);
      r.access!.require({ action: 'keysafe:GetRole', resource: roleArn(accountId, name) });
      const found = directory.listRoles().find((role) => role.name === name);
      if (!found) throw new AppError('ResourceNotFoundException', `No role named ${name}.`);
      return { ...found, arn: roleArn(accountId, name) };
    }),
  );
  app.put(
    '/v1/admin/roles/:name',
    route('keysafe:PutRole', async (c, r) => {
      const name = pathName(c);
      r.access!.require({ action: 'keysafe:PutRole', resource: roleArn(accountId, name) });
      const parsed = roleSchema.safeParse(await bodyFor(c, name));
      if (!parsed.success) throw invalid('role', parsed.error);
      await directory.putRole(parsed.data);
      return { ...parsed.data, arn: roleArn(accountId, name) };
    }),
  );
  app.delete(
    '/v1/admin/roles/:name',
    route('keysafe:DeleteRole', async (c, r) => {
      const name = pathName(c);
      r.access!.require({ action: 'keysafe:DeleteRole', resource: roleArn(accountId, name) });
      await directory.remove('role', name);
      return {};
    }),
  );
  app.post(
    '/v1/admin/roles/:name/revoke-sessions',
    route('keysafe:RevokeSessions', async (c, r) => {
      const name = pathName(c);
      r.access!.require({ action: 'keysafe:RevokeSessions', resource: roleArn(accountId, name) });
      const at = await directory.revokeSessions(name);
      return { role: name, revokedBefore: new Date(at).toISOString() };
    }),
  );

  app.post(
    '/v1/admin/rotate-root-key',
    route('keysafe:RotateRootKey', async (_c, r) => {
      r.access!.require({ action: 'keysafe:RotateRootKey', resource: '*' });
      return deps.rotateRootKey();
    }),
  );

  app.notFound((c) => c.json({ __type: 'UnknownOperationException', message: 'No such route.' }, 404));
  return app;
}
