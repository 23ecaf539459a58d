// The sidecar agent: logs in with the workload's JWT, keeps every configured secret current from the
// change stream, writes the files, reloads the consumer, and serves the localhost endpoint.
//
// Propagation has no timer in its path: a change event → fetch → render → file swap → reload.
// The slow poll only backs up a stream that broke in a way nobody noticed. During an outage the
// last good values stay on disk and in the endpoint, with their age.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { watch } from 'chokidar';
import { AppError } from '../core/errors.js';
import { backoffDelay, TransientError, withRetry } from '../core/retry.js';
import type { SecretValue } from '../core/secret-value.js';
import type { Logger } from '../observability/logger.js';
import { type ChangeEvent, type FetchedSecret, newAgentKeyPair, ServerClient, type WatchMessage } from './client.js';
import type { AgentConfig, AgentSecretConfig } from './config.js';
import { writeFileSet } from './file-set.js';
import { createReloader, type Reloader } from './reload.js';
import { renderSecret } from './render.js';

/** Renew the session once this share of its lifetime has passed. */
const RENEW_AT = 2 / 3;
/** Reconnect backoff for the watch stream: capped at a second, to catch up within one of the server's return. */
const RECONNECT = { baseMs: 100, capMs: 1_000 };
/** Backoff for redoing what a fault left undone (a failed fetch, files not written). */
const REPAIR = { baseMs: 500, capMs: 5_000 };
/** How often the agent checks that the files it wrote are still there. */
const FILE_CHECK_MS = 1_000;

/** Secrets fetched for a local caller that are kept beyond the configured ones (the AWS agent's default cache size). */
export const ON_DEMAND_MAX = 1_000;

export interface CachedSecret {
  /** GetSecretValue's JSON for AWSCURRENT, and pre-serialized for the endpoint. */
  body: Record<string, unknown>;
  json: string;
  versionId: string;
  /** When the value was last known current (fetched, or confirmed by a live watch). */
  fetchedAt: number;
}

export interface AgentStatus {
  ready: boolean;
  server: string;
  connected: boolean;
  lastError?: string;
  secrets: Record<string, { versionId?: string; ageSeconds?: number; written: boolean; error?: string }>;
  reload?: ReturnType<Reloader['status']>;
}

export interface RunningAgent {
  /** AWSCURRENT of a secret the agent keeps, from memory (undefined when not kept): the endpoint's hot path. */
  peek(secretId: string): CachedSecret | undefined;
  /** The value of a secret the agent keeps (configured, or asked for through the endpoint). */
  get(secretId: string, version?: { versionId?: string; versionStage?: string }): Promise<CachedSecret>;
  /** Seconds since `fetchedAt`, or 0 while the watch stream is live. */
  ageSeconds(secret: CachedSecret): number;
  status(): AgentStatus;
  /** Resolves once every configured secret was written (or fetched, for HTTP-only ones) at least once. */
  firstSync: Promise<void>;
  stop(): Promise<void>;
}

export interface AgentOptions {
  logger: Logger;
  now?: () => number;
  /** Called with each secret's rendered files after they changed (keysafe exec uses it). */
  onValues?: (values: ReadonlyMap<string, SecretValue>) => void;
  /** Do not reload the consumer (keysafe exec handles its child itself). */
  noReload?: boolean;
}

export async function startAgent(config: Readonly<AgentConfig>, options: AgentOptions): Promise<RunningAgent> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const client = new ServerClient(config.server, await newAgentKeyPair());
  const reloader =
    config.onChange && !options.noReload
      ? createReloader(
          { ...config.onChange, command: config.onChange.command ? [...config.onChange.command] : undefined },
          { logger },
        )
      : undefined;

  const cache = new Map<string, CachedSecret>();
  const values = new Map<string, SecretValue>();
  const problems = new Map<string, string>();
  const written = new Set<string>();
  let session: { token: string; expiresAt: number } | undefined;
  let loggingIn: Promise<string> | undefined;
  let connected = false;
  let disconnectedAt = now();
  let lastError: string | undefined;
  let cursor: number | undefined;
  let stopped = false;
  const abort = new AbortController();
  let resolveFirstSync!: () => void;
  const firstSync = new Promise<void>((r) => {
    resolveFirstSync = r;
  });

  // Cut short when the agent stops; no listener outlives its wait.
  const sleep = (ms: number) => delay(ms, undefined, { signal: abort.signal }).catch(() => undefined);

  // --- session ----------------------------------------------------------------------------------

  const readJwt = async () => {
    try {
      return (await readFile(config.auth.tokenFile, 'utf8')).trim();
    } catch (e) {
      throw new Error(
        `cannot read the token file ${config.auth.tokenFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  };
  // Resolved when the token file changes: a login waiting to retry tries the new token at once.
  let tokenChanged: () => void = () => undefined;
  let usedJwt: string | undefined;

  async function login(): Promise<string> {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const jwt = await readJwt();
        const fresh = await client.login(config.auth.role, jwt);
        // kubelet may have replaced the token while we logged in: use the newest one.
        if ((await readJwt()) !== jwt) continue;
        session = fresh;
        usedJwt = jwt;
        logger.info('logged in', {
          role: config.auth.role,
          server: client.server,
          expiresAt: new Date(fresh.expiresAt).toISOString(),
        });
        scheduleRenewal();
        return fresh.token;
      } catch (e) {
        // An expired or revoked token is retried too: kubelet writes a fresh one before long.
        lastError = explain(e);
        logger.warn('login failed; retrying', {
          role: config.auth.role,
          server: client.server,
          error: lastError,
          attempt,
        });
        await Promise.race([
          sleep(backoffDelay(Math.min(attempt, 8), { baseMs: 250, capMs: 30_000 })),
          new Promise<void>((r) => {
            tokenChanged = r;
          }),
        ]);
      }
    }
    throw new AppError('ServiceUnavailableException', 'The agent is stopping.');
  }

  /** The current session token, logging in (once, however many callers wait) when there is none. */
  function token(): Promise<string> {
    if (session && now() < session.expiresAt - 5_000) return Promise.resolve(session.token);
    loggingIn ??= login().finally(() => {
      loggingIn = undefined;
    });
    return loggingIn;
  }

  let renewal: NodeJS.Timeout | undefined;
  function scheduleRenewal(): void {
    clearTimeout(renewal);
    if (!session) return;
    const wait = Math.max(1000, (session.expiresAt - now()) * RENEW_AT);
    renewal = setTimeout(() => {
      session = undefined;
      void token();
    }, wait);
    renewal.unref();
  }

  // A new JWT from kubelet: log in with it right away (and reconnect the stream with the new session).
  const tokenWatcher = watch(dirname(config.auth.tokenFile), { ignoreInitial: true, depth: 0, followSymlinks: false });
  tokenWatcher.on('all', (_event, path) => {
    const name = basename(path);
    if (name !== basename(config.auth.tokenFile) && name !== '..data') return;
    onTokenFileChange();
  });

  function onTokenFileChange(): void {
    logger.info('token file changed; logging in again', { file: config.auth.tokenFile });
    tokenChanged();
    // The watcher can fold a second write that follows within tens of ms into the first one's
    // event: look again a little later, and log in again if the token moved on meanwhile.
    const recheck = setTimeout(async () => {
      const jwt = await readJwt().catch(() => usedJwt);
      if (!stopped && jwt !== usedJwt && !loggingIn) onTokenFileChange();
    }, 500);
    recheck.unref();
    if (loggingIn) return; // the login under way reads the file again before it finishes
    // Log in with the new token while the current session stays in use until that succeeds. It
    // used to be dropped first: a token file deleted (or unreadable) for a while then stalled
    // every fetch, and the watch stream with them, although the session was still good.
    loggingIn = login().finally(() => {
      loggingIn = undefined;
    });
    void loggingIn.then(
      () => streamAbort?.abort(),
      () => undefined,
    );
  }

  // --- values -----------------------------------------------------------------------------------

  const configured = (event: ChangeEvent): string[] =>
    [...new Set([...config.secrets.map((s) => s.id), ...cache.keys()])].filter(
      (id) => id === event.name || id === event.arn || event.arn.startsWith(`${id}-`),
    );

  async function fetchOne(id: string): Promise<FetchedSecret | undefined> {
    try {
      const fetched = await client.getSecret(await token(), id);
      problems.delete(id);
      fetchFailed.delete(id);
      return fetched;
    } catch (e) {
      const error = explain(e);
      problems.set(id, error);
      logger.warn('could not fetch secret; keeping the last good value', { secretId: id, error });
      const expired =
        e instanceof AppError && (e.code === 'UnrecognizedClientException' || e.code === 'ExpiredTokenException');
      if (expired) session = undefined;
      // Retried soon: the change that asked for it will not come again (the stream moved past it),
      // so the value would otherwise stay stale until the slow poll. Refusals wait for a change.
      if (expired || e instanceof TransientError) {
        fetchFailed.add(id);
        scheduleRepair();
      }
      return undefined;
    }
  }

  /** Fetches `ids`, stores what changed, rewrites files of changed secrets, then reloads once. */
  async function refresh(ids: readonly string[]): Promise<void> {
    const fetched = await Promise.all(ids.map(async (id) => [id, await fetchOne(id)] as const));
    const changed: string[] = [];
    for (const [id, f] of fetched) {
      if (!f) continue;
      const previous = cache.get(id);
      cache.set(id, { body: f.body, json: JSON.stringify(f.body), versionId: f.versionId, fetchedAt: now() });
      if (previous?.versionId === f.versionId) continue;
      values.set(id, secretValueOf(f.body));
      changed.push(id);
    }
    if (changed.length > 0) await writeFiles(changed);
    if (config.secrets.every((s) => (s.path ? written.has(s.id) : cache.has(s.id)))) resolveFirstSync();
  }

  async function writeFiles(changedIds: readonly string[]): Promise<void> {
    // The files of the changed secrets (and any not written yet); the others of their directories
    // are carried into the new generation as they are, and the directory switches at once.
    const specs = config.secrets.filter(
      (s) => s.path && values.has(s.id) && (changedIds.includes(s.id) || !written.has(s.id)),
    );
    const { files, failed } = renderAll(specs, values);
    for (const [id, error] of failed) {
      // Its files keep their last good content; the other secrets' files go ahead.
      problems.set(id, error);
      logger.error('could not render secret; keeping its files as they were', { secretId: id, error });
    }
    if (files.length === 0) {
      options.onValues?.(values);
      return;
    }
    try {
      const result = await writeFileSet(files);
      for (const s of specs) {
        if (failed.has(s.id)) continue;
        written.add(s.id);
        if (unwritten.delete(s.id)) problems.delete(s.id);
      }
      options.onValues?.(values);
      if (result.changed.length > 0) {
        reloader?.notify();
        logger.info('secret files written', { files: result.changed.length, secrets: changedIds.join(',') });
      }
      if (lastWriteError !== undefined && unwritten.size === 0) {
        logger.info('secret files can be written again', { secrets: specs.map((s) => s.id).join(',') });
        lastWriteError = undefined;
      }
    } catch (e) {
      lastError = explain(e);
      // Retried until written: a read-only or removed directory that comes back must get the
      // current value, not wait for the next change (the cache already holds it, so that change
      // alone would never rewrite the files).
      for (const s of specs) {
        problems.set(s.id, lastError);
        unwritten.add(s.id);
      }
      // Logged once per kind of failure, not once per retry.
      const kind = (e as NodeJS.ErrnoException).code ?? lastError;
      if (kind !== lastWriteError) {
        logger.error('could not write secret files; keeping the last good ones and retrying', { error: lastError });
      }
      lastWriteError = kind;
      scheduleRepair();
    }
  }

  // --- repair -----------------------------------------------------------------------------------

  /** Secrets whose fetch failed transiently, and whose files do not hold the current value. */
  const fetchFailed = new Set<string>();
  const unwritten = new Set<string>();
  let lastWriteError: string | undefined;
  let repairAttempt = 0;
  let repairTimer: NodeJS.Timeout | undefined;

  function scheduleRepair(): void {
    if (repairTimer || stopped) return;
    repairTimer = setTimeout(() => void repair(), backoffDelay(Math.min(repairAttempt++, 8), REPAIR));
    repairTimer.unref();
  }

  async function repair(): Promise<void> {
    if (fetchFailed.size > 0) await refresh([...fetchFailed]);
    if (unwritten.size > 0) await writeFiles([...unwritten]);
    repairTimer = undefined;
    if (fetchFailed.size > 0 || unwritten.size > 0) scheduleRepair();
    else repairAttempt = 0;
  }

  /** Files removed behind the agent's back (the directory deleted or emptied) are written again. */
  let checking = false;
  async function checkFiles(): Promise<void> {
    if (checking) return;
    checking = true;
    try {
      await rewriteMissingFiles();
    } finally {
      checking = false;
    }
  }
  async function rewriteMissingFiles(): Promise<void> {
    const gone = new Set<string>();
    for (const s of config.secrets) {
      if (!s.path || !written.has(s.id) || unwritten.has(s.id)) continue;
      try {
        await stat(s.path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') gone.add(s.id);
      }
    }
    if (gone.size === 0 || stopped) return;
    logger.warn('secret files disappeared; writing them again', { secrets: [...gone].join(',') });
    await writeFiles([...gone]);
  }
  const fileCheck = setInterval(() => void checkFiles(), FILE_CHECK_MS);
  fileCheck.unref();

  // --- the change stream ----------------------------------------------------------------------

  let streamAbort: AbortController | undefined;
  async function follow(): Promise<void> {
    for (let attempt = 0; !stopped; ) {
      streamAbort = new AbortController();
      const onAbort = () => streamAbort?.abort();
      abort.signal.addEventListener('abort', onAbort);
      try {
        await client.watch(await token(), cursor, handle, streamAbort.signal);
        attempt = 0; // the server ended the stream (session over): reconnect at once
      } catch (e) {
        lastError = explain(e);
        if (!stopped) logger.warn('watch stream lost; reconnecting', { server: client.server, error: lastError });
        if (e instanceof AppError && (e.code === 'UnrecognizedClientException' || e.code === 'ExpiredTokenException')) {
          session = undefined;
        }
        attempt++;
      } finally {
        abort.signal.removeEventListener('abort', onAbort);
        if (connected) disconnectedAt = now();
        connected = false;
      }
      if (attempt > 0) await sleep(backoffDelay(Math.min(attempt, 8), RECONNECT));
    }
  }

  async function handle(m: WatchMessage): Promise<void> {
    if (m.kind === 'hello') {
      const resumed = cursor !== undefined;
      connected = true;
      lastError = undefined;
      cursor = m.cursor;
      // First connection: load everything now that no change can slip between load and stream.
      // A resumed stream replays what it missed, so only values we never got are loaded.
      const missing = config.secrets.map((s) => s.id).filter((id) => !resumed || !cache.has(id) || problems.has(id));
      if (missing.length > 0) await refresh(missing);
      return;
    }
    if (m.kind === 'reset') {
      cursor = m.cursor;
      await refresh([...new Set([...config.secrets.map((s) => s.id), ...cache.keys()])]);
      return;
    }
    const ids = configured(m.event);
    if (ids.length > 0) await refresh(ids);
    cursor = m.event.cursor;
  }

  const poll = setInterval(() => {
    void refresh([...new Set([...config.secrets.map((s) => s.id), ...cache.keys()])]);
  }, config.pollIntervalSeconds * 1000);
  poll.unref();

  const following = follow();

  function ageSeconds(secret: CachedSecret): number {
    if (connected) return 0;
    return Math.max(0, Math.floor((now() - Math.max(secret.fetchedAt, disconnectedAt)) / 1000));
  }

  // Secrets a local caller asked for beyond the configured ones are kept (and refreshed) too, as
  // the AWS agent's cache does, but no more than ON_DEMAND_MAX: the least recently asked goes first.
  const configuredIds = new Set(config.secrets.map((s) => s.id));
  const onDemand = new Set<string>();
  function keepOnDemand(secretId: string, entry: CachedSecret): void {
    cache.set(secretId, entry);
    if (configuredIds.has(secretId)) return;
    onDemand.delete(secretId);
    onDemand.add(secretId);
    if (onDemand.size > ON_DEMAND_MAX) {
      const oldest = onDemand.values().next().value!;
      onDemand.delete(oldest);
      cache.delete(oldest);
    }
  }

  return {
    peek: (secretId) => cache.get(secretId),
    async get(secretId, version = {}) {
      const cached = cache.get(secretId);
      if (cached && version.versionId === undefined && (version.versionStage ?? 'AWSCURRENT') === 'AWSCURRENT') {
        if (onDemand.delete(secretId)) onDemand.add(secretId); // the least recently asked goes first
        return cached;
      }
      // Not kept yet, or another version: fetch it live (the AWS agent does the same).
      const fetched = await client.getSecret(await token(), secretId, version);
      const entry = {
        body: fetched.body,
        json: JSON.stringify(fetched.body),
        versionId: fetched.versionId,
        fetchedAt: now(),
      };
      if (version.versionId === undefined && version.versionStage === undefined) keepOnDemand(secretId, entry);
      return entry;
    },
    ageSeconds,
    status() {
      const secrets: AgentStatus['secrets'] = {};
      for (const s of config.secrets) {
        const c = cache.get(s.id);
        secrets[s.id] = {
          written: s.path ? written.has(s.id) : c !== undefined,
          ...(c && { versionId: c.versionId, ageSeconds: ageSeconds(c) }),
          ...(problems.has(s.id) && { error: problems.get(s.id) }),
        };
      }
      return {
        ready: Object.values(secrets).every((s) => s.written),
        server: client.server,
        connected,
        ...(lastError !== undefined && { lastError }),
        secrets,
        ...(reloader && { reload: reloader.status() }),
      };
    },
    firstSync,
    async stop() {
      stopped = true;
      abort.abort();
      clearInterval(poll);
      clearInterval(fileCheck);
      clearTimeout(repairTimer);
      clearTimeout(renewal);
      reloader?.close();
      await tokenWatcher.close();
      await following;
    },
  };
}

/**
 * `keysafe agent --once`: log in, fetch every configured secret, write the files, done. Throws
 * (naming each secret that failed, never a value) if any could not be fetched or written.
 */
export async function syncOnce(config: Readonly<AgentConfig>, logger: Logger): Promise<Map<string, SecretValue>> {
  const client = new ServerClient(config.server, await newAgentKeyPair());
  const { token } = await withRetry(async () => {
    const jwt = (await readFile(config.auth.tokenFile, 'utf8')).trim();
    return client.login(config.auth.role, jwt);
  });
  const results = await Promise.allSettled(config.secrets.map((s) => withRetry(() => client.getSecret(token, s.id))));
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${config.secrets[i]!.id} (${explain(r.reason)})`] : [],
  );
  if (failures.length > 0) throw new AppError('ResourceNotFoundException', `could not fetch ${failures.join(', ')}`);
  const values = new Map<string, SecretValue>();
  for (const [i, r] of results.entries())
    values.set(config.secrets[i]!.id, secretValueOf((r as PromiseFulfilledResult<FetchedSecret>).value.body));
  const { files, failed } = renderAll(
    config.secrets.filter((s) => s.path),
    values,
  );
  if (failed.size > 0) {
    const names = [...failed].map(([id, error]) => `${id} (${error})`).join(', ');
    throw new AppError('InvalidParameterException', `could not render ${names}`);
  }
  const { changed } = await writeFileSet(files);
  logger.info('secrets written', { secrets: values.size, files: files.length, changed: changed.length });
  return values;
}

/** GetSecretValue JSON → the value (SecretBinary arrives base64). */
function secretValueOf(body: Record<string, unknown>): SecretValue {
  if (typeof body.SecretString === 'string') return { string: body.SecretString };
  if (typeof body.SecretBinary === 'string') return { binary: Buffer.from(body.SecretBinary, 'base64') };
  return {};
}

/**
 * Renders every file of `specs`. A secret any of whose files cannot be rendered is left out
 * whole (its files must not switch half-way) and reported by id, never by value.
 */
function renderAll(specs: readonly AgentSecretConfig[], values: ReadonlyMap<string, SecretValue>) {
  const failed = new Map<string, string>();
  const rendered = specs.flatMap((s) => {
    try {
      return [{ id: s.id, file: fileFor(s, values.get(s.id)!) }];
    } catch (e) {
      failed.set(s.id, explain(e));
      return [];
    }
  });
  return { files: rendered.filter((r) => !failed.has(r.id)).map((r) => r.file), failed };
}

function fileFor(s: AgentSecretConfig, value: SecretValue) {
  return {
    path: s.path!,
    content: renderSecret(value, s),
    mode: s.mode,
    ...(s.owner !== undefined && { uid: s.owner }),
    ...(s.group !== undefined && { gid: s.group }),
  };
}

/** An error for logs and readiness: code and message, never a value (our errors carry none). */
function explain(e: unknown): string {
  if (e instanceof AppError) return `${e.code}: ${e.message}`;
  return (e as Error)?.message ?? String(e);
}
