// The native HTTP routes (health, readiness, metrics, admin) on Hono; POST / is aws-json.ts.
import { Hono } from 'hono';
import { newUuid } from '../crypto/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AdminCredentials } from './admin-credentials.js';
import { commonHeaders, requireAdminBearer } from './aws-json.js';
import { awsErrorBody, statusOf, toAppError } from './http-errors.js';

export interface AppDeps {
  admin: AdminCredentials;
  logger: Logger;
  metrics: Metrics;
  /** False while starting or draining: /readyz answers 503. */
  isReady: () => boolean;
  rotateRootKey: () => Promise<{ rewrapped: number; rootKeyId: string }>;
}

export function createApp(deps: AppDeps): Hono {
  const { logger, metrics } = deps;
  const app = new Hono();

  app.use(async (c, next) => {
    // Set before the handler runs: headers added to a finished response force a slow copy.
    for (const [name, value] of Object.entries(commonHeaders(newUuid()))) c.header(name, value);
    await next();
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => (deps.isReady() ? c.json({ status: 'ready' }) : c.json({ status: 'not ready' }, 503)));
  app.get('/metrics', (c) => c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }));

  app.post('/v1/admin/rotate-root-key', async (c) => {
    try {
      requireAdminBearer(c.req.header('authorization'), deps.admin.token);
      return c.json(await deps.rotateRootKey());
    } catch (e) {
      const error = toAppError(e);
      if (error !== e)
        logger.error('root key rotation failed', { error: (e as Error)?.name, stack: (e as Error)?.stack });
      return c.body(awsErrorBody(error), statusOf(error) as 400, { 'content-type': 'application/json' });
    }
  });

  app.notFound((c) => c.json({ __type: 'UnknownOperationException', message: 'No such route.' }, 404));
  return app;
}
