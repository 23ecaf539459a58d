// The errors of the HTTP client (src/client/http.ts): every way an outbound call fails, each with a stable `code`.
//
// Names and codes follow Node's and the DOM's conventions (TimeoutError, AbortError, ABORT_ERR, the system
// error's ECONNREFUSED…), so that callers which describe a failure by its name or code log what they did before.

/** Any failure of `send()` or of reading a body whole with `text()`. */
export class HttpClientError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No complete answer within the request's `timeoutMs` (the body read with text() included). */
export class HttpTimeoutError extends HttpClientError {
  override readonly name = 'TimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`, 'ABORT_ERR');
  }
}

/** The caller's `signal` aborted the request or the body being read. */
export class HttpAbortError extends HttpClientError {
  override readonly name = 'AbortError';

  constructor() {
    super('The operation was aborted', 'ABORT_ERR');
  }
}

/**
 * The exchange failed on the network: refused, reset, TLS, DNS, a malformed answer. The message and `code`
 * are the underlying error's (`connect ECONNREFUSED 127.0.0.1:1`, ECONNREFUSED), which is the `cause`.
 */
export class HttpConnectionError extends HttpClientError {
  override readonly name = 'HttpConnectionError';

  constructor(cause: unknown) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    super(cause instanceof Error ? cause.message : String(cause), typeof code === 'string' ? code : undefined, {
      cause,
    });
  }
}

/** A redirect the request's mode refuses (`redirect: 'error'`), or one `follow` cannot take. */
export class HttpRedirectError extends HttpClientError {
  override readonly name = 'HttpRedirectError';

  constructor(message: string) {
    super(message, 'ERR_HTTP_REDIRECT');
  }
}

/** A response body longer than the reader accepts; the response was abandoned mid-read. */
export class ResponseTooLargeError extends HttpClientError {
  override readonly name = 'ResponseTooLargeError';

  constructor(readonly maxBytes: number) {
    super(`the response body is larger than ${maxBytes} bytes`, 'ERR_RESPONSE_TOO_LARGE');
  }
}
