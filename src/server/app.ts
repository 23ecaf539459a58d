// The HTTP surface: AWS JSON 1.1 on POST /, health, readiness and metrics; auth before dispatch.
import { Hono } from 'hono';
import { isSigV4, verifySigV4 } from '../auth/sigv4.js';
import { AppError } from '../core/errors.js';
import { constantTimeEqual, newUuid } from '../crypto/index.js';
import { type KmsEngine, kmsOperations } from '../kms/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type SecretsApiContext, secretsOperations } from '../secrets/index.js';
import type { AdminCredentials } from './admin-credentials.js';
import { awsErrorBody, statusOf, toAppError } from './http-errors.js';

export interface AppDeps {
  kms: KmsEngine;
  secrets: SecretsApiContext;
  admin: AdminCredentials;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  maxBodyBytes: number;
  /** False while starting or draining: /readyz answers 503. */
  isReady: () => boolean;
  rotateRootKey: () => Promise<{ rewrapped: number; rootKeyId: string }>;
}

type Env = { Variables: { requestId: string } };

type Operation = (context: never, input: unknown) => Promise<object>;

/** Target prefix → the operations table, the SigV4 service name that must sign for it, and its context. */
function services(
  deps: AppDeps,
): Record<string, { operations: Record<string, Operation>; signingName: string; context: unknown }> {
  return {
    TrentService: { operations: kmsOperations, signingName: 'kms', context: deps.kms },
    secretsmanager: { operations: secretsOperations, signingName: 'secretsmanager', context: deps.secrets },
  };
}

const AWS_JSON = 'application/x-amz-json-1.1';

export function createApp(deps: AppDeps): Hono<Env> {
  const { logger, metrics } = deps;
  const SERVICES = services(deps);
  const app = new Hono<Env>();
  let dateSecond = 0;
  let dateHeader = '';

  // Date on every response: the AWS SDKs correct their clock skew from it.
  app.use(async (c, next) => {
    const now = Date.now();
    if (now - dateSecond >= 1000) {
      dateSecond = now - (now % 1000);
      dateHeader = new Date(dateSecond).toUTCString();
    }
    const requestId = newUuid();
    c.set('requestId', requestId);
    await next();
    c.header('Date', dateHeader);
    c.header('x-amzn-RequestId', requestId);
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => (deps.isReady() ? c.json({ status: 'ready' }) : c.json({ status: 'not ready' }, 503)));
  app.get('/metrics', (c) => c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }));

  // Native admin API: bearer token only.
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

  app.post('/', async (c) => {
    const started = performance.now();
    const requestId = c.get('requestId');
    const target = c.req.header('x-amz-target') ?? '';
    let operation = target || 'unknown';
    try {
      const body = await readBody(c.req.raw, deps.maxBodyBytes);
      const dot = target.indexOf('.');
      const prefix = target.slice(0, dot);
      const service = Object.hasOwn(SERVICES, prefix) ? SERVICES[prefix] : undefined;
      const name = target.slice(dot + 1);
      authenticate(c.req.raw, body, service?.signingName, deps);
      const op = service && Object.hasOwn(service.operations, name) ? service.operations[name] : undefined;
      if (!service || !op) {
        operation = 'unknown';
        throw new AppError('UnknownOperationException', 'The requested operation is not recognized.');
      }
      const result = await op(service.context as never, parseJson(body));
      metrics.observe(operation, 'ok', (performance.now() - started) / 1000);
      return c.body(JSON.stringify(result), 200, { 'content-type': AWS_JSON });
    } catch (e) {
      const error = toAppError(e);
      metrics.observe(operation, error.code, (performance.now() - started) / 1000);
      if (error !== e) {
        // A programmer mistake: log where it happened, never request data.
        logger.error('request failed', { requestId, operation, error: (e as Error)?.name, stack: (e as Error)?.stack });
      } else {
        logger.debug('request refused', { requestId, operation, code: error.code });
      }
      return c.body(awsErrorBody(error), statusOf(error) as 400, { 'content-type': AWS_JSON });
    }
  });

  app.notFound((c) => c.json({ __type: 'UnknownOperationException', message: 'No such route.' }, 404));
  return app;
}

async function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > limit) throw tooLarge(limit);
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

const tooLarge = (limit: number) =>
  new AppError('RequestEntityTooLargeException', `Request body is larger than ${limit} bytes.`);

function parseJson(body: Uint8Array): unknown {
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw new AppError('SerializationException', 'The request body is not a JSON object.');
  }
}

/** SigV4 with the admin's keys, or `Authorization: Bearer <admin token>`. */
function authenticate(req: Request, body: Uint8Array, signingName: string | undefined, deps: AppDeps): void {
  const headers = req.headers;
  if (isSigV4(headers)) {
    const url = new URL(req.url);
    verifySigV4(
      { method: req.method, path: url.pathname, query: url.search.slice(1), headers, body },
      {
        now: deps.now(),
        services: signingName ? [signingName] : [],
        lookupSecret: (id) => (id === deps.admin.accessKeyId ? deps.admin.secretAccessKey : undefined),
      },
    );
    return;
  }
  requireAdminBearer(headers.get('authorization') ?? undefined, deps.admin.token);
}

function requireAdminBearer(authorization: string | undefined, token: string): void {
  if (!authorization?.startsWith('Bearer ')) {
    throw new AppError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  if (!constantTimeEqual(authorization.slice(7), token)) {
    throw new AppError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
}
