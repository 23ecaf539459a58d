// The admin API: issuers and roles (for operators and the Terraform provider), sessions, root key.
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { apiIssuerSchema, type Directory, roleArn, roleSchema } from '../auth/index.js';
import { AppError } from '../core/errors.js';
import type { Env, Route } from './route.js';

export interface AdminRouteDeps {
  directory: Directory;
  accountId: string;
  rotateRootKey: () => Promise<{ rewrapped: number; rootKeyId: string }>;
}

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
      // No file options here: the server's files are the config file's to name (apiIssuerSchema).
      const parsed = apiIssuerSchema.safeParse(await bodyFor(c, name));
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
}
