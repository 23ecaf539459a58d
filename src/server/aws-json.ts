// The AWS JSON 1.1 endpoint (POST /): auth, dispatch by X-Amz-Target, AWS-shaped answers.
//
// It runs on node:http directly rather than through Hono: this is the hot path, and building a
// web Request/Response per call costs more than the KMS operation itself (bench/kms.ts).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type HeaderReader, type Identity, isSigV4, type SignedRequest } from '../auth/index.js';
import { AppError } from '../core/errors.js';
import { awsErrorBody } from '../core/http-errors.js';
import { invoke, type Operation } from '../core/operation.js';
import { newUuid } from '../crypto/index.js';
import { type KmsEngine, kmsOperations } from '../kms/index.js';
import { type SecretsApiContext, secretsOperations } from '../secrets/index.js';
import type { Authenticator } from './authenticate.js';
import { type Answer, Exchange, type Pipeline } from './pipeline.js';
import { REGION_HEADER, requestRegion } from './regions.js';
import {
  assumeRoleWithWebIdentity,
  getCallerIdentity,
  requestedRoleArn,
  type StsDeps,
  stsAction,
  stsError,
} from './sts.js';

/** What the operations of one region run on. */
export interface RegionalApi {
  kms: KmsEngine;
  secrets: SecretsApiContext;
}

export interface AwsJsonDeps {
  /** The region's engines (regions.ts decides which region a request is in). */
  /** A region's operation contexts, built (through the region gate) once the request is authorized. */
  apis: (region: string) => Promise<RegionalApi>;
  authenticator: Authenticator;
  pipeline: Pipeline;
  sts: StsDeps;
  maxBodyBytes: number;
}

interface Service {
  operations: Record<string, Operation<never>>;
  /** The SigV4 service name that must sign for it. */
  signingName: string;
  context: (api: RegionalApi) => unknown;
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
  const { pipeline } = deps;
  const services: Record<string, Service> = {
    TrentService: { operations: kmsOperations, signingName: 'kms', context: (api) => api.kms },
    secretsmanager: { operations: secretsOperations, signingName: 'secretsmanager', context: (api) => api.secrets },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x = new Exchange(newUuid(), sourceOf(req));
    const target = header(req.headers, 'x-amz-target') ?? '';
    const sts =
      target === '' && (header(req.headers, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded');
    const answer = await pipeline.run(x, sts ? 'sts' : 'aws', async (): Promise<string> => {
      const raw = await readBody(req, deps.maxBodyBytes);
      if (sts) return stsCall(deps, req, raw, x);
      const dot = target.indexOf('.');
      const prefix = target.slice(0, dot);
      const name = target.slice(dot + 1);
      const service = Object.hasOwn(services, prefix) ? services[prefix] : undefined;
      const { identity, signed } = await authenticate(deps.authenticator, req, raw, service?.signingName);
      const op = service && Object.hasOwn(service.operations, name) ? service.operations[name] : undefined;
      if (!service || !op)
        throw new AppError('UnknownOperationException', 'The requested operation is not recognized.');
      const region = requestRegion(pipeline.regions, { signed, header: header(req.headers, REGION_HEADER) });
      const access = pipeline.admit(x, identity, `${prefix}.${name}`, region);
      const context = async () => service.context(await deps.apis(region));
      return JSON.stringify(await invoke(op as Operation<unknown>, context, parseJson(raw), access));
    });
    writeAnswer(res, answer, x.requestId, sts);
  }

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      deps.pipeline.logger.error('response failed', { error: (e as Error)?.name, stack: (e as Error)?.stack });
      res.destroy();
    });
  };
}

/** Writes the answer: the operation's JSON, or the error as AWS JSON (STS: XML). */
function writeAnswer(res: ServerResponse, answer: Answer<string>, requestId: string, sts: boolean): void {
  let body: string;
  if (answer.ok) body = answer.value;
  else if (sts) body = stsError(answer.error, requestId).xml;
  else body = awsErrorBody(answer.error);
  // An unread oversized body would otherwise be parsed as the next request.
  if (!answer.ok && answer.error.code === 'RequestEntityTooLargeException') res.setHeader('connection', 'close');
  // A flat [name, value, …] list: node:http takes it without walking an object's keys.
  res.writeHead(answer.status, [
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

/** STS's query protocol: AssumeRoleWithWebIdentity (the token is the authentication) or GetCallerIdentity. */
async function stsCall(deps: AwsJsonDeps, req: IncomingMessage, raw: Buffer, x: Exchange): Promise<string> {
  const form = new URLSearchParams(raw.toString('utf8'));
  const name = stsAction(form);
  if (name === 'AssumeRoleWithWebIdentity') {
    // Anonymous by design: the web identity token is what is checked, against the role's trust.
    x.label = 'sts:AssumeRoleWithWebIdentity';
    x.resource = requestedRoleArn(form);
    x.decision = 'deny';
    const answer = await assumeRoleWithWebIdentity(deps.sts, form, x.source, x.requestId);
    x.identity = answer.identity;
    x.decision = 'allow';
    return answer.xml;
  }
  const { identity } = await authenticate(deps.authenticator, req, raw, 'sts');
  deps.pipeline.admit(x, identity, 'sts:GetCallerIdentity');
  return getCallerIdentity(deps.sts, identity, x.requestId).xml;
}

/** SigV4 (admin or STS credentials; `signed`: the credential scope's region) or a bearer token (admin or session). */
async function authenticate(
  authenticator: Authenticator,
  req: IncomingMessage,
  body: Buffer,
  signingName: string | undefined,
): Promise<{ identity: Identity; signed?: string }> {
  const headers: HeaderReader = {
    get: (name) => header(req.headers, name) ?? null,
    keys: () => Object.keys(req.headers),
  };
  if (!isSigV4(headers)) return { identity: await authenticator.bearer(headers.get('authorization') ?? undefined) };
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const signed: SignedRequest = {
    method: req.method ?? 'POST',
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    headers,
    body,
  };
  const { identity, region } = await authenticator.sigV4(signed, signingName ? [signingName] : []);
  return { identity, signed: region };
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
