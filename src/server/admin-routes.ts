// The admin API: issuers and roles (for operators and the Terraform provider), sessions, root key.
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { apiIssuerSchema, type Directory, roleArn, roleSchema } from '../auth/index.js';
import type { ResourceRef } from '../core/access.js';
import { AppError } from '../core/errors.js';
import type { Env, Route } from './route.js';

export interface AdminRouteDeps {
  directory: Directory;
  accountId: string;
  rotateRootKey: () => Promise<{ rewrapped: number; rootKeyId: string }>;
}

const arn = (action: string, resource: string): ResourceRef => ({ kind: 'arn', action, arn: resource });

export function registerAdminRoutes(app: Hono<Env>, route: Route, deps: AdminRouteDeps): void {
  const { directory, accountId } = deps;
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
  // The resources each route touches: an issuer or role named by the path, or none in particular.
  const onIssuer = (action: string) => (c: Context<Env>) => [arn(action, issuerArn(pathName(c)))];
  const onRole = (action: string) => (c: Context<Env>) => [arn(action, roleArn(accountId, pathName(c)))];
  const onAny = (action: string) => (): ResourceRef[] => [{ kind: 'any', action }];
  const invalid = (what: string, error: z.ZodError) => {
    const issue = error.issues[0]!;
    return new AppError(
      'ValidationException',
      `Invalid ${what}: ${issue.path.join('.') || '(body)'}: ${issue.message}`,
    );
  };

  app.get(
    '/v1/admin/issuers',
    route('keysafe:ListIssuers', onAny('keysafe:ListIssuers'), async () => {
      return { issuers: directory.listIssuers() };
    }),
  );
  app.get(
    '/v1/admin/issuers/:name',
    route('keysafe:GetIssuer', onIssuer('keysafe:GetIssuer'), async (c) => {
      const name = pathName(c);
      const found = directory.listIssuers().find((i) => i.name === name);
      if (!found) throw new AppError('ResourceNotFoundException', `No issuer named ${name}.`);
      return found;
    }),
  );
  app.put(
    '/v1/admin/issuers/:name',
    route('keysafe:PutIssuer', onIssuer('keysafe:PutIssuer'), async (c) => {
      const name = pathName(c);
      // No file options here: the server's files are the config file's to name (apiIssuerSchema).
      const parsed = apiIssuerSchema.safeParse(await bodyFor(c, name));
      if (!parsed.success) throw invalid('issuer', parsed.error);
      await directory.putIssuer(parsed.data);
      return { ...parsed.data, arn: issuerArn(name) };
    }),
  );
  app.delete(
    '/v1/admin/issuers/:name',
    route('keysafe:DeleteIssuer', onIssuer('keysafe:DeleteIssuer'), async (c) => {
      const name = pathName(c);
      await directory.remove('issuer', name);
      return {};
    }),
  );

  app.get(
    '/v1/admin/roles',
    route('keysafe:ListRoles', onAny('keysafe:ListRoles'), async () => {
      return { roles: directory.listRoles().map((role) => ({ ...role, arn: roleArn(accountId, role.name) })) };
    }),
  );
  app.get(
    '/v1/admin/roles/:name',
    route('keysafe:GetRole', onRole('keysafe:GetRole'), async (c) => {
      const name = pathName(c);
      const found = directory.listRoles().find((role) => role.name === name);
      if (!found) throw new AppError('ResourceNotFoundException', `No role named ${name}.`);
      return { ...found, arn: roleArn(accountId, name) };
    }),
  );
  app.put(
    '/v1/admin/roles/:name',
    route('keysafe:PutRole', onRole('keysafe:PutRole'), async (c) => {
      const name = pathName(c);
      const parsed = roleSchema.safeParse(await bodyFor(c, name));
      if (!parsed.success) throw invalid('role', parsed.error);
      await directory.putRole(parsed.data);
      return { ...parsed.data, arn: roleArn(accountId, name) };
    }),
  );
  app.delete(
    '/v1/admin/roles/:name',
    route('keysafe:DeleteRole', onRole('keysafe:DeleteRole'), async (c) => {
      const name = pathName(c);
      await directory.remove('role', name);
      return {};
    }),
  );
  app.post(
    '/v1/admin/roles/:name/revoke-sessions',
    route('keysafe:RevokeSessions', onRole('keysafe:RevokeSessions'), async (c) => {
      const name = pathName(c);
      const at = await directory.revokeSessions(name);
      return { role: name, revokedBefore: new Date(at).toISOString() };
    }),
  );

  app.post(
    '/v1/admin/rotate-root-key',
    route('keysafe:RotateRootKey', onAny('keysafe:RotateRootKey'), async () => {
      return deps.rotateRootKey();
    }),
  );
}
