// The agent's client for the Keysafe server: login, fetch (JWE-wrapped values), and the change stream.
//
// `server` may list several addresses: a connection failure moves to the next one, and the next
// call starts there. Transient failures (network, 5xx, 429) are TransientError for the one retry
// policy; refusals (401/403/404, bad token) are permanent AppErrors with the server's code.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { type CryptoKey, compactDecrypt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { HttpTimeoutError } from '../client/errors.js';
import { type HttpRequest, type HttpResponse, send } from '../client/http.js';
import { AppError, type ErrorCode } from '../core/errors.js';
import { TransientError } from '../core/retry.js';

export interface FetchedSecret {
  /** GetSecretValue's JSON, SecretString or SecretBinary (base64) included. */
  body: Record<string, unknown>;
  versionId: string;
}

export interface ChangeEvent {
  cursor: number;
  type: string;
  name: string;
  arn: string;
  versionId?: string;
}

export type WatchMessage =
  | { kind: 'hello'; cursor: number; heartbeatMs?: number }
  | { kind: 'reset'; cursor: number }
  | { kind: 'change'; event: ChangeEvent };

const REQUEST_TIMEOUT_MS = 10_000;
/** The server's heartbeat until its `hello` says otherwise. */
const DEFAULT_HEARTBEAT_MS = 15_000;

/** The agent's ephemeral key pair: the private half never leaves memory. */
export interface AgentKeyPair {
  publicJwk: JWK;
  privateKey: CryptoKey;
}

export async function newAgentKeyPair(): Promise<AgentKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  return { publicJwk: { kty, crv, x, y }, privateKey };
}

export class ServerClient {
  #current = 0;

  constructor(
    readonly servers: readonly string[],
    private readonly keys: AgentKeyPair,
    /** The agent config's `region:`: named on every call, so values and changes are that region's. */
    private readonly region?: string,
  ) {}

  /** The address in use now (for logs and readiness). */
  get server(): string {
    return this.servers[this.#current]!;
  }

  async login(role: string, jwt: string): Promise<{ token: string; expiresAt: number }> {
    const res = await this.#request('/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role, jwt, publicKey: this.keys.publicJwk }),
    });
    const body = JSON.parse(await res.text()) as { token: string; expiresAt: string };
    return { token: body.token, expiresAt: Date.parse(body.expiresAt) };
  }

  /** AWSCURRENT (or the given version) of a secret, decrypted from the JWE made for this agent. */
  async getSecret(
    token: string,
    secretId: string,
    version: { versionId?: string; versionStage?: string } = {},
  ): Promise<FetchedSecret> {
    const query = new URLSearchParams();
    if (version.versionId !== undefined) query.set('versionId', version.versionId);
    if (version.versionStage !== undefined) query.set('versionStage', version.versionStage);
    const q = query.size > 0 ? `?${query}` : '';
    const segments = secretId.split('/');
    // URL parsing resolves `.` and `..` segments: `../watch` would send the session to another route.
    if (segments.some((s) => s === '.' || s === '..')) {
      throw new AppError('InvalidParameterException', 'A secret ID cannot have "." or ".." between slashes.');
    }
    const path = `/v1/secrets/${segments.map(encodeURIComponent).join('/')}${q}`;
    const res = await this.#request(path, { headers: { authorization: `Bearer ${token}` } });
    const { jwe, ...metadata } = JSON.parse(await res.text()) as Record<string, unknown> & {
      jwe: string;
      VersionId: string;
    };
    let value: Record<string, unknown>;
    try {
      const { plaintext } = await compactDecrypt(jwe, this.keys.privateKey);
      value = JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, unknown>;
    } catch {
      throw new AppError('DecryptionFailure', `The value of ${secretId} could not be decrypted with this agent's key.`);
    }
    return { body: { ...metadata, ...value }, versionId: metadata.VersionId };
  }

  /**
   * Follows the change stream from `cursor` until it ends or `signal` aborts; each message goes
   * to `onMessage` in order. Resolves when the server ends the stream (the session expired).
   */
  async watch(
    token: string,
    cursor: number | undefined,
    onMessage: (m: WatchMessage) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const query = cursor === undefined ? '' : `?cursor=${cursor}`;
    const res = await this.#request(
      `/v1/watch${query}`,
      { headers: { authorization: `Bearer ${token}` } },
      signal,
      false,
    );
    // The server-sent events parser (any line ending, multi-line data, ids, comments) hands over whole
    // events; each is turned into a message and awaited in order before the next chunk is read.
    const received: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => received.push(event) });
    // A server that died without closing the connection (power loss, a partition) sends nothing
    // more: after three missed heartbeats the stream is given up, and the agent reconnects or
    // moves on to the next server.
    const giveUpAfter = (ms: number) =>
      setTimeout(() => res.body.destroy(new Error(`no heartbeat for ${ms / 1000} s`)), ms);
    let silent = giveUpAfter(3 * DEFAULT_HEARTBEAT_MS);
    try {
      for await (const chunk of res.body) {
        silent.refresh();
        parser.feed(chunk as string);
        for (let event = received.shift(); event; event = received.shift()) {
          const message = toWatchMessage(event);
          if (message?.kind === 'hello' && message.heartbeatMs) {
            clearTimeout(silent);
            silent = giveUpAfter(3 * message.heartbeatMs);
          }
          if (message) await onMessage(message);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      throw new TransientError(`watch stream broke: ${(e as Error).message}`);
    } finally {
      clearTimeout(silent);
      res.body.destroy();
    }
  }

  /** One HTTP call on the current server; a connection failure moves on to the next server. */
  async #request(path: string, init: HttpRequest, signal?: AbortSignal, timeout = true): Promise<HttpResponse> {
    const server = this.server;
    let res: HttpResponse;
    try {
      res = await send(new URL(path, server), {
        ...init,
        // Without it the server answers in its default region (x-keysafe-region, src/server/regions.ts).
        ...(this.region && { headers: { ...init.headers, 'x-keysafe-region': this.region } }),
        ...(signal && { signal }),
        ...(timeout && { timeoutMs: REQUEST_TIMEOUT_MS }),
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      this.#current = (this.#current + 1) % this.servers.length;
      const why =
        e instanceof HttpTimeoutError ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (e as Error).message;
      throw new TransientError(`cannot reach ${server}: ${why}`);
    }
    if (res.status >= 200 && res.status < 300) return res;
    const text = await res.text().catch(() => '');
    let code = 'InternalFailure';
    let message = `HTTP ${res.status}`;
    try {
      const body = JSON.parse(text) as { __type?: string; message?: string };
      code = body.__type ?? code;
      message = body.message ?? message;
    } catch {
      // not our JSON (a proxy's page): keep the status
    }
    if (res.status >= 500 || res.status === 429) throw new TransientError(`${server}: ${code}: ${message}`);
    throw new AppError(code as ErrorCode, message);
  }
}

/** A watch message from one server-sent event; other event types and empty data are not messages. */
function toWatchMessage({ event, data }: EventSourceMessage): WatchMessage | undefined {
  if (data === '') return undefined;
  const parsed = JSON.parse(data) as { cursor: number; heartbeatMs?: number } & ChangeEvent;
  if (event === 'change') return { kind: 'change', event: parsed };
  if (event === 'hello') return { kind: 'hello', cursor: parsed.cursor, heartbeatMs: parsed.heartbeatMs };
  if (event === 'reset') return { kind: 'reset', cursor: parsed.cursor };
  return undefined;
}
