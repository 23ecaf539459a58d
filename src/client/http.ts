// A small HTTP(S) client on node:http (agent, issuer key fetches): the global fetch (undici) alone
// costs about 8 MB of a sidecar's memory (bench/agent.ts), and it takes no CA per request.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResponse {
  status: number;
  /** The body as a stream (the watch), or read whole with text(). */
  body: IncomingMessage;
  text(): Promise<string>;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Aborts the request, and the response body while it is read. */
  signal?: AbortSignal;
  /** PEM certificates to trust for https instead of the system's (e.g. a cluster's API server CA). */
  ca?: string;
}

export function send(url: URL, init: HttpRequest = {}): Promise<HttpResponse> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method ?? 'GET',
        headers: {
          ...init.headers,
          ...(init.body !== undefined && { 'content-length': Buffer.byteLength(init.body) }),
        },
        ...(init.signal && { signal: init.signal }),
        ...(init.ca && { ca: init.ca }),
      },
      (res) => {
        res.setEncoding('utf8');
        resolve({ status: res.statusCode ?? 0, body: res, text: () => readAll(res) });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += chunk;
  return text;
}
