// The workload session: logs in with the projected service-account JWT, renews before expiry, logs in again when refused.
import { setTimeout as delay } from 'node:timers/promises';
import { AppError } from '../core/errors.js';
import { backoffDelay } from '../core/retry.js';
import type { Logger } from '../observability/logger.js';
import type { ServerClient } from './client.js';
import { explain } from './explain.js';
import type { AgentHealth } from './health.js';
import { readTokenFile } from './token-file.js';

/** Renew the session once this share of its lifetime has passed. */
export const RENEW_AT = 2 / 3;
/** A session this close to its expiry is not used any more: a new login is made first. */
const EXPIRY_MARGIN_MS = 5_000;
/** Backoff between login attempts; an expired or revoked JWT is retried too (kubelet writes a fresh one). */
const LOGIN_RETRY = { baseMs: 250, capMs: 30_000 };
/** After a token file event, look again this much later for a second write the watcher folded into it. */
const RECHECK_MS = 500;

export interface SessionDeps {
  role: string;
  tokenFile: string;
  client: Pick<ServerClient, 'login' | 'server'>;
  health: Pick<AgentHealth, 'fail'>;
  logger: Logger;
  now: () => number;
  /** The JWT as the token file holds it now (default: read the file). */
  readJwt?: () => Promise<string>;
}

export class WorkloadSession {
  #current: { token: string; expiresAt: number } | undefined;
  /** The login under way, shared by every caller waiting for a token. */
  #loggingIn: Promise<string> | undefined;
  /** The JWT the current session was made with. */
  #usedJwt: string | undefined;
  /** Wakes a login waiting to retry: the token file changed, so the new token is tried at once. */
  #tokenChanged: () => void = () => undefined;
  /** Called after a login that a new token file caused succeeded. */
  #afterTokenLogin: () => void = () => undefined;
  #renewal: NodeJS.Timeout | undefined;
  readonly #rechecks = new Set<NodeJS.Timeout>();
  readonly #stop = new AbortController();
  readonly #readJwt: () => Promise<string>;

  constructor(private readonly deps: SessionDeps) {
    this.#readJwt = deps.readJwt ?? (() => readTokenFile(deps.tokenFile));
  }

  /** The current session token, logging in (once, however many callers wait) when there is none. */
  token(): Promise<string> {
    if (this.#current && this.deps.now() < this.#current.expiresAt - EXPIRY_MARGIN_MS) {
      return Promise.resolve(this.#current.token);
    }
    this.#loggingIn ??= this.#loginOnce();
    return this.#loggingIn;
  }

  /** The server refused the session (expired, revoked): the next token() logs in again. */
  invalidate(): void {
    this.#current = undefined;
  }

  /** `listener` runs after each login made because the token file changed (the stream reconnects with it). */
  onTokenLogin(listener: () => void): void {
    this.#afterTokenLogin = listener;
  }

  /** A new JWT from kubelet: log in with it right away. */
  tokenFileChanged(): void {
    this.deps.logger.info('token file changed; logging in again', { file: this.deps.tokenFile });
    this.#tokenChanged();
    this.#recheckLater();
    if (this.#loggingIn) return; // the login under way reads the file again before it finishes
    // Log in with the new token while the current session stays in use until that succeeds. It
    // used to be dropped first: a token file deleted (or unreadable) for a while then stalled
    // every fetch, and the watch stream with them, although the session was still good.
    this.#loggingIn = this.#loginOnce();
    void this.#loggingIn.then(
      () => this.#afterTokenLogin(),
      () => undefined,
    );
  }

  stop(): void {
    this.#stop.abort();
    clearTimeout(this.#renewal);
    for (const timer of this.#rechecks) clearTimeout(timer);
    this.#rechecks.clear();
  }

  #loginOnce(): Promise<string> {
    return this.#login().finally(() => {
      this.#loggingIn = undefined;
    });
  }

  async #login(): Promise<string> {
    const { role, client, logger } = this.deps;
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        const jwt = await this.#readJwt();
        const fresh = await client.login(role, jwt);
        // kubelet may have replaced the token while we logged in: use the newest one.
        if ((await this.#readJwt()) !== jwt) continue;
        this.#current = fresh;
        this.#usedJwt = jwt;
        logger.info('logged in', { role, server: client.server, expiresAt: new Date(fresh.expiresAt).toISOString() });
        this.#scheduleRenewal();
        return fresh.token;
      } catch (e) {
        // An expired or revoked token is retried too: kubelet writes a fresh one before long.
        const error = explain(e);
        this.deps.health.fail(error);
        logger.warn('login failed; retrying', { role, server: client.server, error, attempt });
        await this.#untilRetry(attempt);
      }
    }
    throw new AppError('ServiceUnavailableException', 'The agent is stopping.');
  }

  /** The backoff before login attempt `attempt + 1`, cut short by a new token file or by stop(). */
  #untilRetry(attempt: number): Promise<unknown> {
    const backoff = delay(backoffDelay(Math.min(attempt, 8), LOGIN_RETRY), undefined, { signal: this.#stop.signal });
    return Promise.race([
      backoff.catch(() => undefined),
      new Promise<void>((resolve) => {
        this.#tokenChanged = resolve;
      }),
    ]);
  }

  #scheduleRenewal(): void {
    clearTimeout(this.#renewal);
    if (!this.#current) return;
    const wait = Math.max(1000, (this.#current.expiresAt - this.deps.now()) * RENEW_AT);
    this.#renewal = setTimeout(() => {
      this.#current = undefined;
      void this.token();
    }, wait);
    this.#renewal.unref();
  }

  /**
   * The watcher can fold a second write that follows within tens of ms into the first one's event:
   * look again a little later, and log in again if the token moved on meanwhile.
   */
  #recheckLater(): void {
    const recheck = setTimeout(async () => {
      this.#rechecks.delete(recheck);
      const jwt = await this.#readJwt().catch(() => this.#usedJwt);
      if (!this.#stop.signal.aborted && jwt !== this.#usedJwt && !this.#loggingIn) this.tokenFileChanged();
    }, RECHECK_MS);
    recheck.unref();
    this.#rechecks.add(recheck);
  }
}
