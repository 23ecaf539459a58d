// The AWS JSON 1.1 endpoint (POST /): auth, dispatch by X-Amz-Target, AWS-shaped answers.
//
// It runs on node:http directly rather than through Hono: this is the hot path, and building a
// web Request/Response per call costs more than the KMS operation itself (bench/kms.ts).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/index.js';
import { type Directory, type HeaderReader, type Identity, isSigV4 } from '../auth/index.js';
import type { SignedRequest } from '../auth/sigv4.js';
import { AppError } from '../core/errors.js';
import { newUuid } from '../crypto/index.js';
import { type KmsEngine, kmsOperations } from '../kms/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type SecretsApiContext, secretsOperations } from '../secrets/index.js';
import { RequestAccess } from './access.js';
import { auditRecord } from './audit-trail.js';
import type { Authenticator } from './authenticate.js';
import { awsErrorBody, statusOf, toAppError } from './http-errors.js';
import { assumeRoleWithWebIdentity, getCallerIdentity, type StsDeps, stsAction, stsError } from './sts.js';

export interface AwsJsonDeps {
  kms: KmsEngine;
  secrets: SecretsApiContext;
  authenticator: Authenticator;
  directory: Directory;
  sts: StsDeps;
  audit: AuditLog;
  accountId: string;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  maxBodyBytes: number;
}

type Operation = (context: never, input: unknown, access: RequestAccess) => Promise<object>;
interface Service {
  operations: Record<string, Operation>;
  /** The SigV4 service name that must sign for it. */
  signingName: string;
  context: unknown;
}

const AWS_JSON = 'application/x-amz-json-1.1';
const XML = 'text/xml';

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
    const sts =
      target === '' && (header(req.headers, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded');
    let operation = target || (sts ? 'sts' : 'unknown');
    let action = operation;
    let identity: Identity | undefined;
    let access: RequestAccess | undefined;
    let resource: string | undefined;
    let status = 200;
    let body: string;
    let outcome = 'success';
    try {
      await deps.audit.ready();
      const raw = await readBody(req, deps.maxBodyBytes);
      if (sts) {
        const form = new URLSearchParams(raw.toString('utf8'));
        const name = stsAction(form);
        operation = `sts.${name}`;
        action = `sts:${name}`;
        let answer: { xml: string; identity?: Identity; resource?: string };
        if (name === 'AssumeRoleWithWebIdentity') {
          resource = form.get('RoleArn')?.slice(0, 2048);
          answer = await assumeRoleWithWebIdentity(deps.sts, form, sourceOf(req), requestId);
        } else {
          identity = await authenticate(req, raw, 'sts');
          answer = getCallerIdentity(deps.sts, identity, requestId);
        }
        identity = answer.identity ?? identity;
        body = answer.xml;
      } else {
        const dot = target.indexOf('.');
        const prefix = target.slice(0, dot);
        const name = target.slice(dot + 1);
        const service = Object.hasOwn(services, prefix) ? services[prefix] : undefined;
        if (service) action = `${service.signingName}:${name}`;
        identity = await authenticate(req, raw, service?.signingName);
        const op = service && Object.hasOwn(service.operations, name) ? service.operations[name] : undefined;
        if (!service || !op) {
          operation = 'unknown';
          throw new AppError('UnknownOperationException', 'The requested operation is not recognized.');
        }
        access = new RequestAccess(identity, deps.directory, deps.accountId);
        body = JSON.stringify(await op(service.context as never, parseJson(raw), access));
      }
      metrics.observe(operation, 'ok', (performance.now() - started) / 1000);
    } catch (e) {
      const error = toAppError(e);
      outcome = error.code;
      metrics.observe(operation, error.code, (performance.now() - started) / 1000);
      if (error !== e) {
        // A programmer mistake: log where it happened, never request data.
        logger.error('request failed', { requestId, operation, error: (e as Error)?.name, stack: (e as Error)?.stack });
      } else {
        logger.debug('request refused', { requestId, operation, code: error.code });
      }
      if (sts) {
        ({ status, xml: body } = stsError(error, requestId));
      } else {
        status = statusOf(error);
        body = awsErrorBody(error);
      }
      // An unread oversized body would otherwise be parsed as the next request.
      if (error.code === 'RequestEntityTooLargeException') res.setHeader('connection', 'close');
    }
    if (outcome !== 'ServiceUnavailableException') {
      // Answered only once recorded: every access is accounted for. A request whose record cannot
      // be written is answered ServiceUnavailableException even if it ran (as Vault does): an
      // unrecorded answer, a secret value above all, must not leave the server.
      const recorded = await deps.audit
        .append(
          auditRecord({
            requestId,
            source: sourceOf(req),
            identity,
            action: access?.action ?? action,
            resource: access?.resource ?? resource,
            // For AssumeRoleWithWebIdentity the decision is the role's trust in the token.
            decision: access?.decision ?? (resource === undefined ? 'none' : outcome === 'success' ? 'allow' : 'deny'),
            outcome,
            at: deps.now(),
          }),
        )
        .then(
          () => true,
          () => false,
        );
      if (!recorded) {
        const error = new AppError('ServiceUnavailableException', 'The audit log cannot be written; try again later.');
        if (sts) ({ status, xml: body } = stsError(error, requestId));
        else {
          status = statusOf(error);
          body = awsErrorBody(error);
        }
      }
    }
    // A flat [name, value, …] list: node:http takes it without walking an object's keys.
    res.writeHead(status, [
      'date',
      dateHeader(),
      'x-amzn-requestid',
      requestId,
      'content-type',
      sts ? XML : AWS_JSON,
      'content-length',
      String(Buffer.byteLength(body)),
    ]);
    res.end(body);
  }

  /** SigV4 (admin or STS credentials) or a bearer token (admin or session). */
  function authenticate(req: IncomingMessage, body: Buffer, signingName: string | undefined): Promise<Identity> {
    const headers: HeaderReader = {
      get: (name) => header(req.headers, name) ?? null,
      keys: () => Object.keys(req.headers),
    };
    if (!isSigV4(headers)) return deps.authenticator.bearer(headers.get('authorization') ?? undefined);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const signed: SignedRequest = {
      method: req.method ?? 'POST',
      path: q < 0 ? url : url.slice(0, q),
      query: q < 0 ? '' : url.slice(q + 1),
      headers,
      body,
    };
    return deps.authenticator.sigV4(signed, signingName ? [signingName] : []);
  }

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      logger.error('response failed', { error: (e as Error)?.name, stack: (e as Error)?.stack });
      res.destroy();
    });
  };
}

/** The peer address: the audit's `source` and the login rate limit's key. */
export const sourceOf = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

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
