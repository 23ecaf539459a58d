// A small HTTP(S) client on node:http (agent, issuer key fetches): the global fetch (undici) alone
// costs about 8 MB of a sidecar's memory (bench/agent.ts), and it takes no CA per request.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResponse {
  status: number;
  /** The body as a stream (the watch), or read whole with text(). */
  body: IncomingMessage;
  /** The whole body; past `maxBytes` the response is abandoned and ResponseTooLargeError thrown. */
  text(maxBytes?: number): Promise<string>;
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
        resolve({ status: res.statusCode ?? 0, body: res, text: (maxBytes) => readAll(res, maxBytes) });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A response body longer than the reader accepts. */
export class ResponseTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the response body is larger than ${maxBytes} bytes`);
  }
}

async function readAll(res: IncomingMessage, maxBytes = Number.POSITIVE_INFINITY): Promise<string> {
  // Read incrementally and stop at the cap: neither a declared nor an endless body is buffered.
  if (Number(res.headers['content-length']) > maxBytes) {
    res.destroy();
    throw new ResponseTooLargeError(maxBytes);
  }
  let text = '';
  let bytes = 0;
  for await (const chunk of res) {
    bytes += Buffer.byteLength(chunk as string);
    if (bytes > maxBytes) {
      res.destroy();
      throw new ResponseTooLargeError(maxBytes);
    }
    text += chunk;
  }
  return text;
}
