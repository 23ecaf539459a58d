// The agent API: secret values encrypted to the agent's own key, and the change stream it watches.
//
// `GET /v1/secrets/<id>` answers GetSecretValue's JSON with the value moved into a JWE (ECDH-ES,
// A256GCM) for the public key the session logged in with: values are never plaintext between
// server and agent, even through a proxy that terminates TLS. `GET /v1/watch` is a server-sent
// event stream of the changes to secrets the caller may read, resumable from a cursor.
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { CompactEncrypt, type CryptoKey, importJWK } from 'jose';
import type { Access } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { awsErrorBody } from '../core/http-errors.js';
import { parseInput } from '../core/wire.js';
import type { SecretEvent } from '../secrets/index.js';
import { type SecretsApiContext, secretsOperations } from '../secrets/index.js';
import type { ChangeFeed } from './change-feed.js';
import { admitBearer, type Env, exchangeOf, jsonAnswer, type Route, type RouteDeps } from './route.js';

export interface AgentRouteDeps extends RouteDeps {
  secrets: SecretsApiContext;
  changeFeed: ChangeFeed;
  /**
   * How often the watch stream carries a heartbeat: it keeps idle connections (and the proxies
   * between) from timing out, rechecks the session, and tells the agent the server is still there.
   */
  watchHeartbeatMs: number;
}
const MAX_KEYS = 10_000;
/** Watch streams one session may hold at once. */
const MAX_STREAMS_PER_SESSION = 4;

export function registerAgentRoutes(app: Hono<Env>, route: Route, deps: AgentRouteDeps): void {
  const keys = new Map<string, Promise<CryptoKey | Uint8Array>>();
  const importKey = (jwk: { crv: string; x: string; y?: string }) => {
    const id = `${jwk.crv}:${jwk.x}:${jwk.y ?? ''}`;
    let key = keys.get(id);
    if (!key) {
      if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
      key = importJWK({ ...jwk }, 'ECDH-ES');
      keys.set(id, key);
    }
    return key;
  };

  const GetSecretValue = secretsOperations.GetSecretValue!;
  /** The agent's fetch is GetSecretValue: the same input, the same declared resources. */
  const fetchInput = (c: Context<Env>) => {
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
  };

  app.get(
    '/v1/secrets/*',
    route(
      'secretsmanager:GetSecretValue',
      (c) => GetSecretValue.resources(fetchInput(c)),
      async (c, x) => {
        const identity = x.identity!;
        if (identity.kind !== 'role' || !identity.publicKey) {
          throw new AppError(
            'InvalidRequestException',
            'Values here are delivered to a session that logged in with a publicKey; use GetSecretValue otherwise.',
          );
        }
        const output = (await GetSecretValue.run(deps.secrets, fetchInput(c), x.access)) as Record<string, unknown>;
        const { SecretString, SecretBinary, ...metadata } = output;
        const plaintext = new TextEncoder().encode(JSON.stringify({ SecretString, SecretBinary }));
        const jwe = await new CompactEncrypt(plaintext)
          .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' })
          .encrypt(await importKey(identity.publicKey));
        return { ...metadata, jwe };
      },
      'agent',
    ),
  );

  // Watching declares no resource of its own: each event is filtered by the caller's GetSecretValue
  // on its secret (mayRead), so a watcher learns of no change it could not read.
  /** Open watch streams by session token. */
  const streams = new Map<string, number>();
  app.get('/v1/watch', async (c) => {
    const x = exchangeOf(c);
    let cursor = 0;
    const opened = await deps.pipeline.run(x, 'native', async () => {
      await admitBearer(deps, c, x, 'keysafe:Watch', 'agent');
      // An agent needs one stream (two while it reconnects): a workload session may not open many.
      if (
        x.identity?.kind === 'role' &&
        (streams.get(c.req.header('authorization') ?? '') ?? 0) >= MAX_STREAMS_PER_SESSION
      ) {
        throw new AppError(
          'ThrottlingException',
          `A session may hold at most ${MAX_STREAMS_PER_SESSION} watch streams.`,
        );
      }
      x.decision = 'allow';
      const given = c.req.query('cursor') ?? c.req.header('last-event-id');
      cursor = given !== undefined && /^\d{1,15}$/.test(given) ? Number(given) : await deps.changeFeed.latest();
    });
    if (!opened.ok) return jsonAnswer(c, opened.status, awsErrorBody(opened.error));
    const access = x.access!;
    const authorization = c.req.header('authorization') ?? '';

    streams.set(authorization, (streams.get(authorization) ?? 0) + 1);
    return streamSSE(c, async (stream) => {
      let subscription = deps.changeFeed.subscribe(cursor);
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
            cursor = await deps.changeFeed.latest();
            subscription.close();
            subscription = deps.changeFeed.subscribe(cursor);
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
        const left = (streams.get(authorization) ?? 1) - 1;
        if (left > 0) streams.set(authorization, left);
        else streams.delete(authorization);
      }
    });
  });
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
