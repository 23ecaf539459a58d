// The webhook strategy: the AWS rotation Lambda protocol over HTTP, one signed POST per step, only to allowed URLs.
import { HttpClientError, HttpTimeoutError } from '../../client/errors.js';
import { send } from '../../client/http.js';
import { AppError } from '../../core/errors.js';
import { hmacSha256Hex, newUuid } from '../../crypto/index.js';
import { type RotationContext, RotationStepError, type Rotator } from './types.js';

const STEP_TIMEOUT_MS = 30_000;

/** What the server config says about webhooks: where they may go and the key that signs them. */
export interface WebhookPolicy {
  /** `rotation.webhookAllow`: URL prefixes (origin, optionally a path ending in `/`). Empty: no webhooks. */
  allow: readonly string[];
  /** `rotation.webhookSecret`: the HMAC-SHA256 key receivers verify signatures with. */
  secret: string | undefined;
  /** Seconds since the epoch, for the signed timestamp. */
  nowSeconds(): number;
  /** Where the details of a failed delivery go (status, error): the operator's log, never the secret. */
  logFailure(details: { step: string; status?: number; error?: string }): void;
}

/** One allow-list entry, parsed: an exact origin and a path prefix on a segment boundary. */
interface AllowEntry {
  origin: string;
  pathPrefix: string;
}

/** Parses a `rotation.webhookAllow` entry; undefined when it is not an http(s) origin with an optional `/…/` path. */
export function parseWebhookAllowEntry(entry: string): AllowEntry | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username || url.password || url.search || url.hash || entry.includes('*')) return undefined;
  // "https://h/path" would also allow "https://h/pathology": a path prefix must end with "/".
  if (url.pathname !== '/' && !url.pathname.endsWith('/')) return undefined;
  return { origin: url.origin, pathPrefix: url.pathname };
}

/** True when `target` is an http(s) URL without credentials under one of the allowed prefixes. */
export function webhookAllowed(target: string, allow: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return false;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) return false;
  return allow.some((entry) => {
    const e = parseWebhookAllowEntry(entry);
    return e !== undefined && e.origin === url.origin && url.pathname.startsWith(e.pathPrefix);
  });
}

/** The refusal for a webhook URL the server config does not allow (RotateSecret and every step). */
export function webhookRefused(): AppError {
  return new AppError(
    'InvalidParameterException',
    'The rotation webhook URL is not allowed by the server configuration (rotation.webhookAllow).',
  );
}

/** The signature headers of one delivery: `v1=` hex HMAC-SHA256 over `${timestamp}.${body}`. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${hmacSha256Hex(secret, `${timestamp}.${body}`)}`;
}

/**
 * POSTs `{"Step","SecretId","ClientRequestToken","DeliveryId"}` (the Lambda event, plus a unique
 * delivery id) to `url` for each step, signed (X-Keysafe-Timestamp, X-Keysafe-Delivery,
 * X-Keysafe-Signature). The endpoint does the work with its own Keysafe credentials, as a rotation
 * Lambda would; a 2xx answer means the step succeeded. Any other outcome (refused, timed out, any
 * status) fails the step with one message, so the secret's LastFailure cannot probe the network;
 * the runner retries the step with backoff.
 */
export function webhookRotator(url: string, policy: WebhookPolicy): Rotator {
  const step = (name: string) => async (ctx: RotationContext) => {
    // The config may have changed since RotateSecret: check again before every delivery.
    if (!webhookAllowed(url, policy.allow) || policy.secret === undefined) throw webhookRefused();
    const deliveryId = newUuid();
    const body = JSON.stringify({
      Step: name,
      SecretId: ctx.secretArn,
      ClientRequestToken: ctx.token,
      DeliveryId: deliveryId,
    });
    const timestamp = policy.nowSeconds();
    let status: number | undefined;
    try {
      const res = await send(new URL(url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-keysafe-delivery': deliveryId,
          'x-keysafe-timestamp': String(timestamp),
          'x-keysafe-signature': webhookSignature(policy.secret, timestamp, body),
        },
        body,
        timeoutMs: STEP_TIMEOUT_MS,
        redirect: 'error',
      });
      status = res.status;
      res.discard();
    } catch (e) {
      policy.logFailure({ step: name, error: failureName(e) });
      throw failed(name);
    }
    if (status < 200 || status >= 300) {
      policy.logFailure({ step: name, status });
      throw failed(name);
    }
  };
  return {
    createSecret: step('createSecret'),
    setSecret: step('setSecret'),
    testSecret: step('testSecret'),
    finishSecret: step('finishSecret'),
  };
}

/**
 * The error name the log has always shown for a failed delivery, as fetch named it: TimeoutError for the step's
 * timeout, TypeError for any other failure to deliver (refused, reset, TLS, a redirect).
 */
function failureName(e: unknown): string {
  if (e instanceof HttpTimeoutError) return e.name;
  if (e instanceof HttpClientError) return 'TypeError';
  return (e as Error)?.name ?? 'error';
}

function failed(step: string): RotationStepError {
  return new RotationStepError(
    `${step}: the rotation webhook did not confirm the step (the server log has the details)`,
  );
}
