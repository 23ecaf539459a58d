// The provider's client for a Keysafe server: AWS JSON 1.1 (KMS, Secrets Manager) and the admin API,
// over the project's HTTP client with `Authorization: Bearer <token>`.
import { HttpClientError } from '../../client/errors.js';
import { type HttpResponse, send } from '../../client/http.js';

/**
 * How long a call may take: fetch (undici), which this client used before, gave up after 300 s without
 * an answer. Redirects are followed, as fetch followed them.
 */
const CALL_TIMEOUT_MS = 300_000;

export class KeysafeApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(`${code}: ${message}`);
  }
}

export const isNotFound = (e: unknown) =>
  e instanceof KeysafeApiError && (e.code === 'NotFoundException' || e.code === 'ResourceNotFoundException');

export class KeysafeClient {
  constructor(
    readonly address: string,
    private readonly token: string,
  ) {}

  /** One AWS JSON call: `target` is e.g. `TrentService.CreateKey` or `secretsmanager.DescribeSecret`. */
  async aws<T = Record<string, unknown>>(target: string, body: object): Promise<T> {
    return this.send<T>('POST', '/', body, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': target,
    });
  }

  kms<T = Record<string, unknown>>(operation: string, body: object): Promise<T> {
    return this.aws<T>(`TrentService.${operation}`, body);
  }

  sm<T = Record<string, unknown>>(operation: string, body: object): Promise<T> {
    return this.aws<T>(`secretsmanager.${operation}`, body);
  }

  /** The native admin API, e.g. `PUT /v1/admin/roles/web`. */
  admin<T = Record<string, unknown>>(method: string, path: string, body?: object): Promise<T> {
    return this.send<T>(method, path, body, body === undefined ? {} : { 'content-type': 'application/json' });
  }

  private async send<T>(method: string, path: string, body: object | undefined, headers: Record<string, string>) {
    let res: HttpResponse;
    try {
      res = await send(new URL(path, this.address), {
        method,
        headers: { ...headers, authorization: `Bearer ${this.token}` },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        timeoutMs: CALL_TIMEOUT_MS,
        redirect: 'follow',
      });
    } catch (e) {
      // The client's message says why (`connect ECONNREFUSED …`); an unparsable address has none to add.
      const why = e instanceof HttpClientError ? `: ${e.message}` : '';
      throw new KeysafeApiError('ConnectionError', `cannot reach Keysafe at ${this.address}${why}`, 0);
    }
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { message: text };
    }
    if (res.status < 200 || res.status > 299) {
      const type = String(parsed.__type ?? parsed.code ?? `HTTP${res.status}`);
      throw new KeysafeApiError(
        type.includes('#') ? type.slice(type.indexOf('#') + 1) : type,
        String(parsed.message ?? parsed.Message ?? text),
        res.status,
      );
    }
    return parsed as T;
  }
}
