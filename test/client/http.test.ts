// The one HTTP client against real local servers on 127.0.0.1: CA per request, size cap, timeout and abort,
// streamed bodies, connection reuse, redirect modes, and the errors each failure becomes.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HttpAbortError,
  HttpConnectionError,
  HttpRedirectError,
  HttpTimeoutError,
  ResponseTooLargeError,
} from '../../src/client/errors.js';
import { send } from '../../src/client/http.js';
import { createSelfSignedCert } from '../../src/crypto/self-signed-cert.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The client's port: the same one twice means the connection was reused. */
  remotePort: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((ok) => s.close(ok));
  }
});

/** A server on 127.0.0.1 (https when given a certificate) recording each request it receives. */
async function serve(handler: Handler, tls?: { certPem: string; keyPem: string }) {
  const seen: Seen[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, remotePort: req.socket.remotePort! });
      handler(req, res, body);
    });
  };
  const server = tls ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, listener) : createHttpServer(listener);
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  const base = `${tls ? 'https://localhost' : 'http://127.0.0.1'}:${port}`;
  return { seen, port, base, url: (path = '/') => new URL(path, base) };
}

const ok: Handler = (_req, res) => res.end('ok');
const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('resolved'),
    (e: unknown) => e,
  );

describe('per-request CA', () => {
  const cert = createSelfSignedCert({ commonName: 'api', dnsNames: ['localhost'] });
  const other = createSelfSignedCert({ commonName: 'stranger', dnsNames: ['localhost'] });

  it('trusts the CA given with the request, and only that one', async () => {
    const s = await serve(ok, cert);
    expect(await (await send(s.url(), { ca: cert.certPem })).text()).toBe('ok');
    // The pool is keyed by CA: the connection verified against `cert` does not serve a request naming `other`.
    const refused = await failure(send(s.url(), { ca: other.certPem }));
    expect(refused).toBeInstanceOf(HttpConnectionError);
    expect(await failure(send(s.url()))).toBeInstanceOf(HttpConnectionError);
    expect(s.seen).toHaveLength(1);
  });

  it('reuses an https connection for requests naming the same CA', async () => {
    const s = await serve(ok, cert);
    for (let i = 0; i < 3; i++) await (await send(s.url(), { ca: cert.certPem })).text();
    expect(new Set(s.seen.map((q) => q.remotePort)).size).toBe(1);
  });
});

describe('requests and connections', () => {
  it('sends method, headers (a keysafe user-agent unless the caller names one) and body with its length; a POST without a body says length 0', async () => {
    const s = await serve(ok);
    await (await send(s.url('/a?b=c'), { method: 'PUT', headers: { 'x-one': '1' }, body: '{"é":1}' })).text();
    await (await send(s.url('/p'), { method: 'POST' })).text();
    expect(s.seen[0]).toMatchObject({ method: 'PUT', url: '/a?b=c', body: '{"é":1}' });
    expect(s.seen[0]!.headers).toMatchObject({ 'x-one': '1', 'content-length': '8', 'user-agent': 'keysafe' });
    expect(s.seen[1]!.headers['content-length']).toBe('0');
  });

  it('keeps the connection alive between requests', async () => {
    const s = await serve(ok);
    for (let i = 0; i < 3; i++) expect(await (await send(s.url(), { timeoutMs: 5000 })).text()).toBe('ok');
    expect(new Set(s.seen.map((q) => q.remotePort)).size).toBe(1);
  });

  it('says a refused connection with the system error', async () => {
    const s = await serve(ok);
    const { port } = s;
    servers.pop()?.close();
    await new Promise((done) => setTimeout(done, 20));
    const e = await failure(send(new URL(`http://127.0.0.1:${port}/`)));
    expect(e).toBeInstanceOf(HttpConnectionError);
    expect(e).toMatchObject({ code: 'ECONNREFUSED', message: `connect ECONNREFUSED 127.0.0.1:${port}` });
  });
});

describe('bodies', () => {
  it('reads a body whole up to the cap', async () => {
    const s = await serve((_q, res) => res.end('x'.repeat(100)));
    expect(await (await send(s.url())).text(100)).toHaveLength(100);
  });

  it('refuses a declared length over the cap before reading it', async () => {
    const s = await serve((_q, res) => res.writeHead(200, { 'content-length': 101 }).end('x'.repeat(101)));
    const e = await failure((await send(s.url())).text(100));
    expect(e).toBeInstanceOf(ResponseTooLargeError);
    expect(e).toMatchObject({ maxBytes: 100, message: 'the response body is larger than 100 bytes' });
  });

  it('abandons an endless body at the cap', async () => {
    let closed = false;
    const s = await serve((_q, res) => {
      const timer = setInterval(() => res.write('y'.repeat(1024)), 1);
      res.on('close', () => {
        clearInterval(timer);
        closed = true;
      });
    });
    expect(await failure((await send(s.url())).text(64 * 1024))).toBeInstanceOf(ResponseTooLargeError);
    await expect.poll(() => closed).toBe(true);
  });

  it('streams a body chunk by chunk as strings before it ends', async () => {
    let finish: (() => void) | undefined;
    const s = await serve((_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: hello\ndata: {}\n\n');
      finish = () => res.end('event: bye\ndata: {}\n\n');
    });
    const res = await send(s.url());
    const chunks: string[] = [];
    for await (const chunk of res.body) {
      chunks.push(chunk as string);
      if (chunks.length === 1) finish!(); // the first chunk came while the server still held the stream open
    }
    expect(chunks.join('')).toBe('event: hello\ndata: {}\n\nevent: bye\ndata: {}\n\n');
    expect(typeof chunks[0]).toBe('string');
  });
});

describe('timeout and abort', () => {
  it('gives up on a server that does not answer within timeoutMs', async () => {
    const s = await serve(() => undefined);
    const started = performance.now();
    const e = await failure(send(s.url(), { timeoutMs: 100 }));
    expect(e).toBeInstanceOf(HttpTimeoutError);
    expect(e).toMatchObject({ name: 'TimeoutError', timeoutMs: 100, message: 'no answer within 100 ms' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('counts the body in the timeout', async () => {
    const s = await serve((_q, res) => res.writeHead(200).write('partial'));
    const res = await send(s.url(), { timeoutMs: 150 });
    expect(await failure(res.text())).toBeInstanceOf(HttpTimeoutError);
  });

  it('leaves a finished exchange alone: its connection stays in the pool past the timeout', async () => {
    const s = await serve(ok);
    const res = await send(s.url(), { timeoutMs: 50 });
    expect(await res.text()).toBe('ok');
    await new Promise((done) => setTimeout(done, 100));
    expect(await (await send(s.url())).text()).toBe('ok');
    expect(s.seen[1]!.remotePort).toBe(s.seen[0]!.remotePort);
  });

  it('aborts on the caller signal, before the answer and while the body streams', async () => {
    const hang = await serve(() => undefined);
    const before = new AbortController();
    const pending = send(hang.url(), { signal: before.signal, timeoutMs: 5000 });
    setTimeout(() => before.abort(), 30);
    expect(await failure(pending)).toBeInstanceOf(HttpAbortError);

    const stream = await serve((_q, res) => res.writeHead(200).write('data: 1\n\n'));
    const during = new AbortController();
    const res = await send(stream.url(), { signal: during.signal });
    setTimeout(() => during.abort(), 30);
    expect(await failure(res.text())).toBeInstanceOf(HttpAbortError);
  });
});

describe('redirects', () => {
  const redirecting =
    (status: number, location?: string): Handler =>
    (_q, res) =>
      res.writeHead(status, location === undefined ? {} : { location }).end('moved');

  it('answers a redirect as the response by default (manual)', async () => {
    const s = await serve(redirecting(302, '/elsewhere'));
    const res = await send(s.url());
    expect(res.status).toBe(302);
    expect(s.seen).toHaveLength(1);
  });

  it('refuses every redirect status in error mode, Location or not', async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const s = await serve(redirecting(status));
      expect(await failure(send(s.url(), { redirect: 'error' }))).toBeInstanceOf(HttpRedirectError);
    }
    const notRedirect = await serve(redirecting(304));
    expect((await send(notRedirect.url(), { redirect: 'error' })).status).toBe(304);
  });

  it('follows as fetch does: 307 keeps a POST and its body, 303 turns it into a GET without one', async () => {
    const target = await serve(ok);
    const s307 = await serve(redirecting(307, target.url('/kept').href));
    const s303 = await serve(redirecting(303, target.url('/got').href));
    const init = {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
      redirect: 'follow' as const,
    };
    expect(await (await send(s307.url(), init)).text()).toBe('ok');
    expect(await (await send(s303.url(), init)).text()).toBe('ok');
    expect(target.seen.map((q) => [q.method, q.url, q.body, q.headers['content-type']])).toEqual([
      ['POST', '/kept', '{}', 'application/json'],
      ['GET', '/got', '', undefined],
    ]);
  });

  it('drops credentials on the way to another origin, keeps them on the same one', async () => {
    const other = await serve(ok);
    const s = await serve((q, res) =>
      q.url === '/start'
        ? res.writeHead(302, { location: '/same' }).end()
        : res.writeHead(302, { location: other.url('/x').href }).end(),
    );
    const headers = { authorization: 'Bearer t0ken', cookie: 'c=1', 'x-kept': 'yes' };
    await (await send(s.url('/start'), { headers, redirect: 'follow' })).text();
    expect(s.seen[1]!.headers).toMatchObject({ authorization: 'Bearer t0ken', cookie: 'c=1' });
    expect(other.seen[0]!.headers.authorization).toBeUndefined();
    expect(other.seen[0]!.headers.cookie).toBeUndefined();
    expect(other.seen[0]!.headers['x-kept']).toBe('yes');
  });

  it('stops after 20 redirects, and answers a redirect without Location as the response', async () => {
    const loop = await serve(redirecting(302, '/again'));
    const e = await failure(send(loop.url(), { redirect: 'follow' }));
    expect(e).toMatchObject({ name: 'HttpRedirectError', message: 'redirect count exceeded' });
    expect(loop.seen).toHaveLength(21);
    const bare = await serve(redirecting(301));
    expect((await send(bare.url(), { redirect: 'follow' })).status).toBe(301);
  });

  it('refuses a Location that is not http(s) or carries credentials', async () => {
    for (const location of ['file:///etc/passwd', 'http://user:pw@127.0.0.1:1/']) {
      const s = await serve(redirecting(302, location));
      expect(await failure(send(s.url(), { redirect: 'follow' }))).toBeInstanceOf(HttpRedirectError);
    }
  });
});
