// The native API's routes on the request pipeline: authenticate, authorize the declared resources, run.
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { ResourceRef } from '../core/access.js';
import { awsErrorBody } from '../core/http-errors.js';
import type { RequestAccess } from './access.js';
import type { Authenticator } from './authenticate.js';
import { Exchange, type Pipeline } from './pipeline.js';
import { REGION_HEADER, requestRegion } from './regions.js';

export type Env = { Bindings: HttpBindings; Variables: { requestId: string } };

export interface RouteDeps {
  authenticator: Authenticator;
  pipeline: Pipeline;
  accountId: string;
}

/** An authenticated request's state: its access is decided, in its region. */
export type Admitted = Exchange & { access: RequestAccess; region: string };
export type Handler = (c: Context<Env>, x: Admitted) => Promise<object>;
/** Every resource the route touches and the action checked on each, from the request. */
export type Resources = (c: Context<Env>) => ResourceRef[];
/** Who may call a route: any token holder but agent sessions (default), agent sessions too. */
export type RouteAuth = 'token' | 'agent';
export type Route = (
  action: string,
  resources: Resources,
  run: Handler,
  auth?: RouteAuth,
) => (c: Context<Env>) => Promise<Response>;

export const sourceAddress = (c: Context<Env>): string => c.env?.incoming?.socket?.remoteAddress ?? 'unknown';

/** A request's pipeline state, with the id the middleware gave it. */
export const exchangeOf = (c: Context<Env>): Exchange => new Exchange(c.get('requestId'), sourceAddress(c));

/**
 * Authenticates the bearer token (admin or session); the request counts as `action` from then on,
 * in the region its x-keysafe-region header names (the default region without one).
 */
export async function admitBearer(
  deps: RouteDeps,
  c: Context<Env>,
  x: Exchange,
  action: string,
  api: 'aws' | 'agent' = 'aws',
): Promise<Admitted> {
  const identity = await deps.authenticator.bearer(c.req.header('authorization'), api);
  const region = requestRegion(deps.pipeline.regions, { header: c.req.header(REGION_HEADER) });
  deps.pipeline.admit(x, identity, action, region);
  return x as Admitted;
}

export const jsonAnswer = (c: Context<Env>, status: number, body: string): Response =>
  c.body(body, status as 200, { 'content-type': 'application/json' });

/** A JSON route: authenticate, authorize every declared resource, run; errors and audit by the pipeline. */
export function makeRoute(deps: RouteDeps): Route {
  return (action, resources, run, auth = 'token') =>
    async (c) => {
      const x = exchangeOf(c);
      const answer = await deps.pipeline.run(x, 'native', async () => {
        const admitted = await admitBearer(deps, c, x, action, auth === 'agent' ? 'agent' : 'aws');
        await admitted.access.authorize(resources(c));
        return JSON.stringify(await run(c, admitted));
      });
      return jsonAnswer(c, answer.status, answer.ok ? answer.value : awsErrorBody(answer.error));
    };
}
