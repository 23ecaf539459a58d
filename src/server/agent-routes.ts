// The agent API: secret values encrypted to the agent's own key, and the change stream it watches.
//
// `GET /v1/secrets/<id>` answers GetSecretValue's JSON with the value moved into a JWE (ECDH-ES,
// A256GCM) for the public key the session logged in with: values are never plaintext between
// server and agent, even through a proxy that terminates TLS. `GET /v1/watch` is a server-sent
// event stream of the changes to secrets the caller may read, resumable from a cursor. Both act in
// the request's region: the x-keysafe-region header's, or the default region (route.ts).
import type { Context, Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { CompactEncrypt, type CryptoKey, importJWK } from 'jose';
import type { Access } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { awsErrorBody } from '../core/http-errors.js';
import { parseInput } from '../core/wire.js';
import type { SecretEvent } from '../secrets/index.js';
import { type SecretsApiContext, secretsOperations } from '../secrets/index.js';
import type { ChangeFeed } from './change-feed.js';
import { type Admitted, admitBearer, type Env, exchangeOf, jsonAnswer, type Route, type RouteDeps } from './route.js';

export interface AgentRouteDeps extends RouteDeps {
  secretsIn: (region: string) => Promise<SecretsApiContext>;
  changeFeedIn: (region: string) => Promise<ChangeFeed>;
  /**
   * How often the watch stream carries a heartbeat: it keeps idle connections (and the proxies
   * between) from timing out, rechecks the session, and tells the agent the server is still there.
   */
  watchHeartbeatMs: number;
}
const MAX_KEYS = 10_000;
/** Watch streams one session may hold at once. */
const MAX_STREAMS_PER_SESSION = 4;

type ImportKey = (jwk: { crv: string; x: string; y?: string }) => Promise<CryptoKey | Uint8Array>;

const GetSecretValue = secretsOperations.GetSecretValue!;

export function registerAgentRoutes(app: Hono<Env>, route: Route, deps: AgentRouteDeps): void {
  const importKey = keyImporter();
  app.get(
    '/v1/secrets/*',
    route(
      'secretsmanager:GetSecretValue',
      (c) => GetSecretValue.resources(fetchInput(c)),
      (c, x) => fetchSealed(deps, importKey, c, x),
      'agent',
    ),
  );

  // Watching declares no resource of its own: each event is filtered by the caller's GetSecretValue
  // on its secret (mayRead), so a watcher learns of no change it could not read.
  const streams = new StreamCounts();
  app.get('/v1/watch', (c) => watch(deps, streams, c));
}

/** Agents' public keys, imported once each (bounded: the oldest is forgotten first). */
function keyImporter(): ImportKey {
  const keys = new Map<string, Promise<CryptoKey | Uint8Array>>();
  return (jwk) => {
    const id = `${jwk.crv}:${jwk.x}:${jwk.y ?? ''}`;
    let key = keys.get(id);
    if (!key) {
      if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
      key = importJWK({ ...jwk }, 'ECDH-ES');
      keys.set(id, key);
    }
    return key;
  };
}

/** The agent's fetch is GetSecretValue: the same input, the same declared resources. */
function fetchInput(c: Context<Env>) {
  let secretId: string;
  try {
    secretId = decodeURIComponent(c.req.path.slice('/v1/secrets/'.length));
  } catch {
    throw new AppError('ValidationException', 'The secret id in the path is not valid percent-encoding.');
  }
  const versionId = c.req.query('versionId');
  const versionStage = c.req.query('versionStage');
  return parseInput(GetSecretValue.input, {
    SecretId: secretId,
    ...(versionId !== undefined && { VersionId: versionId }),
    ...(versionStage !== undefined && { VersionStage: versionStage }),
  });
}

/** GetSecretValue's answer with the value sealed in a JWE to the session's public key. */
async function fetchSealed(deps: AgentRouteDeps, importKey: ImportKey, c: Context<Env>, x: Admitted): Promise<object> {
  const identity = x.identity!;
  if (identity.kind !== 'role' || !identity.publicKey) {
    throw new AppError(
      'InvalidRequestException',
      'Values here are delivered to a session that logged in with a publicKey; use GetSecretValue otherwise.',
    );
  }
  const output = (await GetSecretValue.run(await deps.secretsIn(x.region), fetchInput(c), x.access)) as Record<
    string,
    unknown
  >;
  const { SecretString, SecretBinary, ...metadata } = output;
  const plaintext = new TextEncoder().encode(JSON.stringify({ SecretString, SecretBinary }));
  const jwe = await new CompactEncrypt(plaintext)
    .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' })
    .encrypt(await importKey(identity.publicKey));
  return { ...metadata, jwe };
}

/** Open watch streams by session token. */
class StreamCounts {
  private readonly open = new Map<string, number>();
  of = (authorization: string): number => this.open.get(authorization) ?? 0;
  add(authorization: string): void {
    this.open.set(authorization, this.of(authorization) + 1);
  }
  remove(authorization: string): void {
    const left = (this.open.get(authorization) ?? 1) - 1;
    if (left > 0) this.open.set(authorization, left);
    else this.open.delete(authorization);
  }
}

/** `GET /v1/watch`: admits the caller, then streams the changes it may read from its cursor. */
async function watch(deps: AgentRouteDeps, streams: StreamCounts, c: Context<Env>): Promise<Response> {
  const x = exchangeOf(c);
  const opened = await deps.pipeline.run(x, 'native', async () => {
    const admitted = await admitBearer(deps, c, x, 'keysafe:Watch', 'agent');
    const feed = await deps.changeFeedIn(admitted.region);
    // An agent needs one stream (two while it reconnects): a workload session may not open many.
    if (x.identity?.kind === 'role' && streams.of(c.req.header('authorization') ?? '') >= MAX_STREAMS_PER_SESSION) {
      throw new AppError('ThrottlingException', `A session may hold at most ${MAX_STREAMS_PER_SESSION} watch streams.`);
    }
    x.decision = 'allow';
    const given = c.req.query('cursor') ?? c.req.header('last-event-id');
    const cursor = given !== undefined && /^\d{1,15}$/.test(given) ? Number(given) : await feed.latest();
    return { feed, cursor };
  });
  if (!opened.ok) return jsonAnswer(c, opened.status, awsErrorBody(opened.error));
  const watcher: Watcher = {
    ...opened.value,
    access: x.access!,
    authorization: c.req.header('authorization') ?? '',
  };

  streams.add(watcher.authorization);
  return streamSSE(c, async (stream) => {
    try {
      await streamChanges(deps, stream, watcher);
    } finally {
      streams.remove(watcher.authorization);
    }
  });
}

interface Watcher {
  feed: ChangeFeed;
  access: Access;
  authorization: string;
  cursor: number;
}

async function streamChanges(deps: AgentRouteDeps, stream: SSEStreamingApi, watcher: Watcher): Promise<void> {
  const { access, authorization, feed } = watcher;
  let { cursor } = watcher;
  let subscription = feed.subscribe(cursor);
  stream.onAbort(() => subscription.close());
  // Ends the stream once the session expires or is revoked: the agent reconnects with its new one.
  const sessionValid = () =>
    deps.authenticator.bearer(authorization, 'agent').then(
      () => true,
      () => false,
    );
  const heartbeat = setInterval(() => {
    void sessionValid().then((ok) => {
      if (ok) void stream.write(': ping\n\n');
      else subscription.close();
    });
  }, deps.watchHeartbeatMs);
  heartbeat.unref();
  try {
    await stream.writeSSE({ event: 'hello', data: JSON.stringify({ cursor, heartbeatMs: deps.watchHeartbeatMs }) });
    while (!stream.aborted && !stream.closed) {
      const events = await subscription.next();
      if (stream.aborted || !(await sessionValid())) break;
      if (events === 'reset') {
        // Trimmed events were missed: the agent reloads everything and continues from now.
        cursor = await feed.latest();
        subscription.close();
        subscription = feed.subscribe(cursor);
        await stream.writeSSE({ event: 'reset', data: JSON.stringify({ cursor }), id: String(cursor) });
        continue;
      }
      if (events.length === 0) break; // closed
      for (const event of events) {
        cursor = event.cursor;
        if (await mayRead(access, event)) {
          await stream.writeSSE({ event: 'change', data: JSON.stringify(toWire(event)), id: String(event.cursor) });
        }
      }
    }
  } finally {
    clearInterval(heartbeat);
    subscription.close();
  }
}

function toWire(e: SecretEvent) {
  return {
    cursor: e.cursor,
    type: e.type,
    name: e.secretName,
    arn: e.secretArn,
    ...(e.versionId !== undefined && { versionId: e.versionId }),
  };
}

/** A watcher sees the events of the secrets it may read (GetSecretValue, resource policy included). */
async function mayRead(access: Access, e: SecretEvent): Promise<boolean> {
  const refused = await access.refusalOf([
    { kind: 'secret', action: 'secretsmanager:GetSecretValue', secret: e.secretArn },
  ]);
  return refused === undefined;
}
