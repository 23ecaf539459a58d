// The native HTTP routes on Hono (health, metrics, workload login, admin and agent APIs); POST / is aws-json.ts.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { type AgentPublicKey, type Directory, type Login, roleArn, type Sessions } from '../auth/index.js';
import { AppError } from '../core/errors.js';
import { awsErrorBody } from '../core/http-errors.js';
import { newUuid } from '../crypto/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { SecretsApiContext } from '../secrets/index.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerAgentRoutes } from './agent-routes.js';
import { commonHeaders } from './aws-json.js';
import type { ChangeFeed } from './change-feed.js';
import { type Env, exchangeOf, jsonAnswer, makeRoute, type RouteDeps } from './route.js';
import { registerTerraformRoutes, TERRAFORM_PATH_PREFIX, type TerraformRouteDeps } from './terraform-routes.js';

export interface AppDeps extends RouteDeps {
  login: Login;
  sessions: Sessions;
  /** A region's Secrets Manager context and change feed (the agent API). */
  secretsIn: (region: string) => Promise<SecretsApiContext>;
  changeFeedIn: (region: string) => Promise<ChangeFeed>;
  /** False while starting or draining: /readyz answers 503. */
  isReady: () => boolean;
  metrics: Metrics;
  directory: Directory;
  maxBodyBytes: number;
  watchHeartbeatMs: number;
  rotateRootKey: () => Promise<{ rewrapped: number; rootKeyId: string }>;
  terraform: TerraformRouteDeps['terraform'];
}

// An agent's ephemeral ECDH public key: no private part (`d`) may travel.
const publicKeySchema = z.union([
  z.object({
    kty: z.literal('EC'),
    crv: z.enum(['P-256', 'P-384', 'P-521']),
    x: z.string().max(100),
    y: z.string().max(100),
  }),
  z.object({ kty: z.literal('OKP'), crv: z.literal('X25519'), x: z.string().max(100) }),
]);
const LoginInput = z.object({
  role: z.string().min(1).max(64),
  jwt: z.string().min(1),
  publicKey: publicKeySchema.optional(),
});

export function createApp(deps: AppDeps): Hono<Env> {
  const { metrics, accountId } = deps;
  const app = new Hono<Env>();
  const route = makeRoute(deps);

  app.use(async (c, next) => {
    const requestId = newUuid();
    c.set('requestId', requestId);
    // Set before the handler runs: headers added to a finished response force a slow copy.
    for (const [name, value] of Object.entries(commonHeaders(requestId))) c.header(name, value);
    await next();
  });

  // A malformed %-escape in the path or query is refused here, once for every route: decoding it
  // later threw (a 500) in one place, and was silently taken as literal text in others.
  app.use(async (c, next) => {
    if (!hasWellFormedEscapes(c.req.url)) {
      const error = new AppError('ValidationException', 'The request URL holds a malformed percent-escape.');
      return c.body(awsErrorBody(error), 400, { 'content-type': 'application/json' });
    }
    await next();
  });

  const limitBody = bodyLimit({
    maxSize: deps.maxBodyBytes,
    onError: (c) =>
      c.body(
        awsErrorBody(
          new AppError('RequestEntityTooLargeException', `Request body is larger than ${deps.maxBodyBytes} bytes.`),
        ),
        413,
        { 'content-type': 'application/json', connection: 'close' },
      ),
  });
  // Terraform states have their own, larger limit (terraform.maxStateBytes), set in terraform-routes.ts.
  app.use('/v1/*', (c, next) => (c.req.path.startsWith(TERRAFORM_PATH_PREFIX) ? next() : limitBody(c, next)));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => (deps.isReady() ? c.json({ status: 'ready' }) : c.json({ status: 'not ready' }, 503)));
  app.get('/metrics', (c) => c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }));

  // Anonymous by design: the workload's JWT is what is checked, against the role's trust.
  app.post('/v1/auth/login', async (c) => {
    const x = exchangeOf(c);
    x.label = 'keysafe:Login';
    const answer = await deps.pipeline.run(x, 'native', async () => {
      const input = LoginInput.safeParse(await c.req.json().catch(() => undefined));
      if (!input.success) {
        throw new AppError(
          'ValidationException',
          'Expected a JSON body {"role", "jwt"[, "publicKey": <EC or X25519 JWK>]}.',
        );
      }
      x.resource = roleArn(accountId, input.data.role);
      x.decision = 'deny';
      const session = await deps.login.login({ role: input.data.role, jwt: input.data.jwt, source: x.source });
      if (input.data.publicKey) session.publicKey = input.data.publicKey as AgentPublicKey;
      const { token, expiresAt, identity } = await deps.sessions.login(session);
      x.identity = identity;
      x.decision = 'allow';
      return JSON.stringify({ token, expiresAt: new Date(expiresAt).toISOString() });
    });
    return jsonAnswer(c, answer.status, answer.ok ? answer.value : awsErrorBody(answer.error));
  });

  registerAdminRoutes(app, route, deps);
  registerAgentRoutes(app, route, deps);
  registerTerraformRoutes(app, deps);

  app.notFound((c) => c.json({ __type: 'UnknownOperationException', message: 'No such route.' }, 404));
  return app;
}

/** True when every %-escape in `url` is two hex digits and together they spell UTF-8. */
function hasWellFormedEscapes(url: string): boolean {
  if (!url.includes('%')) return true;
  try {
    decodeURIComponent(url);
    return true;
  } catch {
    return false;
  }
}
