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

type AdminHandler = (c: Context<Env>, deps: AdminRouteDeps) => Promise<object>;

/** What a route's action is checked on: the issuer or role its path names, or nothing in particular. */
type Target = 'issuer' | 'role' | 'any';

interface AdminRoute {
  method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  path: string;
  action: string;
  on: Target;
  run: AdminHandler;
}

const issuerArn = (accountId: string, name: string) => `arn:aws:iam::${accountId}:oidc-provider/${name}`;

const nameParam = z.string().regex(/^[\w+=,.@-]{1,64}$/);
function pathName(c: Context<Env>): string {
  const parsed = nameParam.safeParse(c.req.param('name'));
  if (!parsed.success) throw new AppError('ValidationException', 'Names are 1–64 characters of [\\w+=,.@-].');
  return parsed.data;
}

/** The JSON object body, named as the path names it. */
async function bodyFor(c: Context<Env>, name: string): Promise<Record<string, unknown>> {
  const body: unknown = await c.req.json().catch(() => undefined);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('ValidationException', 'Expected a JSON object.');
  }
  const named = body as Record<string, unknown>;
  if (named.name !== undefined && named.name !== name) {
    throw new AppError('ValidationException', 'The body names another entry than the path.');
  }
  return { ...named, name };
}

function invalid(what: string, error: z.ZodError): AppError {
  const issue = error.issues[0]!;
  return new AppError('ValidationException', `Invalid ${what}: ${issue.path.join('.') || '(body)'}: ${issue.message}`);
}

const getIssuer: AdminHandler = async (c, { directory }) => {
  const name = pathName(c);
  const found = directory.listIssuers().find((i) => i.name === name);
  if (!found) throw new AppError('ResourceNotFoundException', `No issuer named ${name}.`);
  return found;
};

const putIssuer: AdminHandler = async (c, { directory, accountId }) => {
  const name = pathName(c);
  // No file options here: the server's files are the config file's to name (apiIssuerSchema).
  const parsed = apiIssuerSchema.safeParse(await bodyFor(c, name));
  if (!parsed.success) throw invalid('issuer', parsed.error);
  await directory.putIssuer(parsed.data);
  return { ...parsed.data, arn: issuerArn(accountId, name) };
};

const getRole: AdminHandler = async (c, { directory, accountId }) => {
  const name = pathName(c);
  const found = directory.listRoles().find((role) => role.name === name);
  if (!found) throw new AppError('ResourceNotFoundException', `No role named ${name}.`);
  return { ...found, arn: roleArn(accountId, name) };
};

const putRole: AdminHandler = async (c, { directory, accountId }) => {
  const name = pathName(c);
  const parsed = roleSchema.safeParse(await bodyFor(c, name));
  if (!parsed.success) throw invalid('role', parsed.error);
  await directory.putRole(parsed.data);
  return { ...parsed.data, arn: roleArn(accountId, name) };
};

const removeEntry =
  (kind: 'issuer' | 'role'): AdminHandler =>
  async (c, { directory }) => {
    await directory.remove(kind, pathName(c));
    return {};
  };

const revokeSessions: AdminHandler = async (c, { directory }) => {
  const name = pathName(c);
  const at = await directory.revokeSessions(name);
  return { role: name, revokedBefore: new Date(at).toISOString() };
};

const ISSUER = '/v1/admin/issuers/:name';
const ROLE = '/v1/admin/roles/:name';

/** Every admin route, in the order they are matched. */
const ADMIN_ROUTES: AdminRoute[] = [
  {
    method: 'GET',
    path: '/v1/admin/issuers',
    action: 'keysafe:ListIssuers',
    on: 'any',
    run: async (_c, { directory }) => ({ issuers: directory.listIssuers() }),
  },
  { method: 'GET', path: ISSUER, action: 'keysafe:GetIssuer', on: 'issuer', run: getIssuer },
  { method: 'PUT', path: ISSUER, action: 'keysafe:PutIssuer', on: 'issuer', run: putIssuer },
  { method: 'DELETE', path: ISSUER, action: 'keysafe:DeleteIssuer', on: 'issuer', run: removeEntry('issuer') },
  {
    method: 'GET',
    path: '/v1/admin/roles',
    action: 'keysafe:ListRoles',
    on: 'any',
    run: async (_c, { directory, accountId }) => ({
      roles: directory.listRoles().map((role) => ({ ...role, arn: roleArn(accountId, role.name) })),
    }),
  },
  { method: 'GET', path: ROLE, action: 'keysafe:GetRole', on: 'role', run: getRole },
  { method: 'PUT', path: ROLE, action: 'keysafe:PutRole', on: 'role', run: putRole },
  { method: 'DELETE', path: ROLE, action: 'keysafe:DeleteRole', on: 'role', run: removeEntry('role') },
  {
    method: 'POST',
    path: `${ROLE}/revoke-sessions`,
    action: 'keysafe:RevokeSessions',
    on: 'role',
    run: revokeSessions,
  },
  {
    method: 'POST',
    path: '/v1/admin/rotate-root-key',
    action: 'keysafe:RotateRootKey',
    on: 'any',
    run: async (_c, deps) => deps.rotateRootKey(),
  },
];

/** The resources a route touches: `action` on the issuer or role its path names, or on none in particular. */
function resourcesOf(on: Target, action: string, accountId: string): (c: Context<Env>) => ResourceRef[] {
  switch (on) {
    case 'issuer':
      return (c) => [{ kind: 'arn', action, arn: issuerArn(accountId, pathName(c)) }];
    case 'role':
      return (c) => [{ kind: 'arn', action, arn: roleArn(accountId, pathName(c)) }];
    case 'any':
      return () => [{ kind: 'any', action }];
  }
}

export function registerAdminRoutes(app: Hono<Env>, route: Route, deps: AdminRouteDeps): void {
  for (const r of ADMIN_ROUTES) {
    app.on(
      r.method,
      r.path,
      route(r.action, resourcesOf(r.on, r.action, deps.accountId), (c) => r.run(c, deps)),
    );
  }
}
