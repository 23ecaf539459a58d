// The mutating admission webhook: AdmissionReview v1 in, JSON Patch out, over HTTPS with a hot-reloaded cert.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../core/config-error.js';
import type { Logger } from '../observability/logger.js';
import { watchCertificate } from '../tls/reload.js';
import { INJECTOR_DEFAULTS, type InjectorDefaults, mutate, type PodLike } from './mutate.js';

/** An API server's request body is at most 3 MiB (etcd's limit); more is not an AdmissionReview. */
const MAX_BODY = 3 * 1024 * 1024;

interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  object?: PodLike & { metadata?: { name?: string; generateName?: string } };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch. */
  patch?: string;
  status?: { code: number; message: string };
}

/**
 * Answers one AdmissionReview (v1). Pods asking for injection get the patch; pods with invalid keysafe
 * annotations are refused with a message naming the annotation; everything else is allowed untouched.
 * Throws TypeError when the body is not an AdmissionReview v1 request.
 */
export function review(
  body: unknown,
  defaults: Readonly<InjectorDefaults> = INJECTOR_DEFAULTS,
): { apiVersion: string; kind: string; response: AdmissionResponse } {
  const ar = body as { apiVersion?: unknown; kind?: unknown; request?: AdmissionRequest } | null;
  if (
    ar?.apiVersion !== 'admission.k8s.io/v1' ||
    ar.kind !== 'AdmissionReview' ||
    typeof ar.request?.uid !== 'string'
  ) {
    throw new TypeError('expected an admission.k8s.io/v1 AdmissionReview with a request');
  }
  const request = ar.request;
  const envelope = (response: AdmissionResponse) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response,
  });
  const isPod = request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '';
  if (!isPod || (request.operation !== undefined && request.operation !== 'CREATE') || !request.object) {
    return envelope({ uid: request.uid, allowed: true });
  }
  try {
    const ops = mutate(request.object, request.object.metadata?.annotations, defaults);
    if (ops.length === 0) return envelope({ uid: request.uid, allowed: true });
    return envelope({
      uid: request.uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(ops)).toString('base64'),
    });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return envelope({
      uid: request.uid,
      allowed: false,
      status: { code: 400, message: `keysafe injector: ${e.message}` },
    });
  }
}

export interface InjectorOptions {
  certFile: string;
  keyFile: string;
  host?: string;
  port: number;
  defaults?: Readonly<InjectorDefaults>;
  logger: Logger;
}

export interface RunningInjector {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts the webhook. The certificate is re-read when its files change (cert-manager, Secret volumes). */
export async function startInjector(options: InjectorOptions): Promise<RunningInjector> {
  const { logger } = options;
  const defaults = options.defaults ?? INJECTOR_DEFAULTS;
  const server = createServer(
    { cert: readFileSync(options.certFile), key: readFileSync(options.keyFile) },
    (req, res) => {
      handle(req, res, defaults, logger).catch((e: unknown) => {
        logger.error('injector request failed', { error: (e as Error)?.name, stack: (e as Error)?.stack });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    },
  );
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port, options.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const watcher = await watchCertificate(server, { cert: options.certFile, key: options.keyFile }, logger);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `https://${host}:${address.port}`;
  logger.info('keysafe injector listening', { url });
  return {
    url,
    server,
    async close() {
      await watcher.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  defaults: Readonly<InjectorDefaults>,
  logger: Logger,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (path !== '/mutate') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' }).end('method not allowed\n');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) {
      res.writeHead(413, { 'content-type': 'text/plain' }).end('request too large\n');
      return;
    }
    chunks.push(chunk as Buffer);
  }
  let answer: ReturnType<typeof review>;
  try {
    answer = review(JSON.parse(Buffer.concat(chunks).toString('utf8')), defaults);
  } catch (e) {
    if (e instanceof SyntaxError || e instanceof TypeError) {
      res
        .writeHead(400, { 'content-type': 'text/plain' })
        .end(`bad request: ${e instanceof TypeError ? e.message : 'not JSON'}\n`);
      return;
    }
    throw e;
  }
  const r = answer.response;
  logger.info('admission review', {
    uid: r.uid,
    allowed: r.allowed,
    injected: r.patch !== undefined,
    ...(r.status && { message: r.status.message }),
  });
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
}
