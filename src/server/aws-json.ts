// The AWS JSON 1.1 endpoint (POST /): auth, dispatch by X-Amz-Target, AWS-shaped answers.
//
// It runs on node:http directly rather than through Hono: this is the hot path, and building a
// web Request/Response per call costs more than the KMS operation itself (bench/kms.ts).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type HeaderReader, isSigV4, verifySigV4 } from '../auth/sigv4.js';
import { AppError } from '../core/errors.js';
import { constantTimeEqual, newUuid } from '../crypto/index.js';
import { type KmsEngine, kmsOperations } from '../kms/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type SecretsApiContext, secretsOperations } from '../secrets/index.js';
import type { AdminCredentials } from './admin-credentials.js';
import { awsErrorBody, statusOf, toAppError } from './http-errors.js';

export interface AwsJsonDeps {
  kms: KmsEngine;
  secrets: SecretsApiContext;
  admin: AdminCredentials;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  maxBodyBytes: number;
}

type Operation = (context: never, input: unknown) => Promise<object>;
interface Service {
  operations: Record<string, Operation>;
  /** The SigV4 service name that must sign for it. */
  signingName: string;
  context: unknown;
}

const AWS_JSON = 'application/x-amz-json-1.1';

/** A Date header value, recomputed at most once a second: the SDKs correct clock skew from it. */
const dateHeader = (() => {
  let second = 0;
  let value = '';
  return () => {
    const now = Date.now();
    if (now - second >= 1000) {
      second = now - (now % 1000);
      value = new Date(second).toUTCString();
    }
    return value;
  };
})();

/** Headers every response carries. */
export function commonHeaders(requestId: string): Record<string, string> {
  return { date: dateHeader(), 'x-amzn-requestid': requestId };
}

export function createAwsJsonHandler(deps: AwsJsonDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { logger, metrics } = deps;
  const services: Record<string, Service> = {
    TrentService: { operations: kmsOperations, signingName: 'kms', context: deps.kms },
    secretsmanager: { operations: secretsOperations, signingName: 'secretsmanager', context: deps.secrets },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = newUuid();
    const target = header(req.headers, 'x-amz-target') ?? '';
    let operation = target || 'unknown';
    let status = 200;
    let body: string;
    try {
      const raw = await readBody(req, deps.maxBodyBytes);
      const dot = target.indexOf('.');
      const prefix = target.slice(0, dot);
      const name = target.slice(dot + 1);
      const service = Object.hasOwn(services, prefix) ? services[prefix] : undefined;
      authenticate(req, raw, service?.signingName, deps);
      const op = service && Object.hasOwn(service.operations, name) ? service.operations[name] : undefined;
      if (!service || !op) {
        operation = 'unknown';
        throw new AppError('UnknownOperationException', 'The requested operation is not recognized.');
      }
      body = JSON.stringify(await op(service.context as never, parseJson(raw)));
      metrics.observe(operation, 'ok', (performance.now() - started) / 1000);
    } catch (e) {
      const error = toAppError(e);
      metrics.observe(operation, error.code, (performance.now() - started) / 1000);
      if (error !== e) {
        // A programmer mistake: log where it happened, never request data.
        logger.error('request failed', { requestId, operation, error: (e as Error)?.name, stack: (e as Error)?.stack });
      } else {
        logger.debug('request refused', { requestId, operation, code: error.code });
      }
      status = statusOf(error);
      body = awsErrorBody(error);
      // An unread oversized body would otherwise be parsed as the next request.
      if (error.code === 'RequestEntityTooLargeException') res.setHeader('connection', 'close');
    }
    // A flat [name, value, …] list: node:http takes it without walking an object's keys.
    res.writeHead(status, [
      'date',
      dateHeader(),
      'x-amzn-requestid',
      requestId,
      'content-type',
      AWS_JSON,
      'content-length',
      String(Buffer.byteLength(body)),
    ]);
    res.end(body);
  }

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      logger.error('response failed', { error: (e as Error)?.name, stack: (e as Error)?.stack });
      res.destroy();
    });
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        reject(tooLarge(limit));
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const tooLarge = (limit: number) =>
  new AppError('RequestEntityTooLargeException', `Request body is larger than ${limit} bytes.`);

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw new AppError('SerializationException', 'The request body is not a JSON object.');
  }
}

/** SigV4 with the admin's keys, or `Authorization: Bearer <admin token>`. */
function authenticate(req: IncomingMessage, body: Buffer, signingName: string | undefined, deps: AwsJsonDeps): void {
  const headers: HeaderReader = { get: (name) => header(req.headers, name) ?? null };
  if (isSigV4(headers)) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    verifySigV4(
      {
        method: req.method ?? 'POST',
        path: q < 0 ? url : url.slice(0, q),
        query: q < 0 ? '' : url.slice(q + 1),
        headers,
        body,
      },
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

export function requireAdminBearer(authorization: string | undefined, token: string): void {
  if (!authorization?.startsWith('Bearer ')) {
    throw new AppError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  if (!constantTimeEqual(authorization.slice(7), token)) {
    throw new AppError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
}
