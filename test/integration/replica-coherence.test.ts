// Three replicas (in one process) on one PostgreSQL: concurrent label moves spread over them lose no
// update, and what one replica changes is no longer served from another's caches a moment later.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DisableKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startTestServer, type TestServer, tempDir } from '../support/server.js';
import { bearerCall, sessionToken } from '../support/session.js';
import { ANY_SECRET_READER, trustConfig, webRole } from '../support/workload.js';

let db: TestPostgres;
let issuer: OidcIssuer;
let shared: string;
let replicas: TestServer[] = [];

/** Well under the caches' 1 s TTL: passing in time proves the change notification did it. */
const NOTIFIED_WITHIN_MS = 300;

const sm = (r: TestServer) => r.secretsClient();

async function within<T>(ms: number, attempt: () => Promise<T>, done: (t: T) => boolean): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (done(await attempt())) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** 'ok' (or what the call resolved with, if a string), or the error's code. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    (r) => (typeof r === 'string' ? r : 'ok'),
    (e: { name?: string }) => e.name ?? 'error',
  );

beforeAll(async () => {
  [db, issuer] = await Promise.all([startPostgres(), startOidcIssuer()]);
  shared = tempDir('keysafe-coherence-');
  const config = trustConfig(issuer.url, [webRole({ statements: [ANY_SECRET_READER] })]);
  const flags = {
    store: db.url,
    rootKeyFile: join(shared, 'root.key'),
    adminCredentialsFile: join(shared, 'admin.json'),
  };
  // The first creates the shared root key and admin credentials; the others find them.
  replicas = [await startTestServer({ flags, config })];
  replicas.push(...(await Promise.all([1, 2].map(() => startTestServer({ flags, config })))));
}, 60_000);

afterAll(async () => {
  for (const r of replicas) await r.stop().catch(() => {});
  await issuer?.stop();
  await db?.stop();
  if (shared) rmSync(shared, { recursive: true, force: true });
});

describe('replicas on one PostgreSQL', () => {
  it('leaves exactly one AWSCURRENT and the right AWSPREVIOUS after 50 concurrent label moves over three replicas', async () => {
    const { VersionId: v0 } = await sm(replicas[0]!).send(
      new CreateSecretCommand({ Name: 'race/app', SecretString: 'v0' }),
    );
    // Some calls move AWSCURRENT back to the first version: they race the puts for the same label.
    const calls = Array.from({ length: 50 }, (_, i) => {
      const client = sm(replicas[i % 3]!);
      if (i % 5 !== 4)
        return outcome(client.send(new PutSecretValueCommand({ SecretId: 'race/app', SecretString: `value-${i}` })));
      return outcome(
        (async () => {
          const current = (await client.send(new GetSecretValueCommand({ SecretId: 'race/app' }))).VersionId!;
          if (current === v0) return 'no move';
          await client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: 'race/app',
              VersionStage: 'AWSCURRENT',
              MoveToVersionId: v0,
              RemoveFromVersionId: current,
            }),
          );
        })(),
      );
    });
    const results = await Promise.all(calls);
    // Every call either succeeded or was refused with a client error (a stale RemoveFromVersionId).
    for (const r of results) expect(['ok', 'no move', 'InvalidRequestException']).toContain(r);
    const moved = results.filter((r) => r === 'ok').length;
    expect(moved).toBeGreaterThanOrEqual(40); // every put succeeded

    const { Versions } = await sm(replicas[1]!).send(
      new ListSecretVersionIdsCommand({ SecretId: 'race/app', IncludeDeprecated: true }),
    );
    const holding = (stage: string) =>
      Versions!.filter((v) => v.VersionStages?.includes(stage)).map((v) => v.VersionId);
    expect(holding('AWSCURRENT')).toHaveLength(1);
    expect(holding('AWSPREVIOUS')).toHaveLength(1);

    // The store's event history is the order the moves committed in: no move was lost, and the
    // labels are where the last two moves left them.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ version_id: string }>(
      `SELECT version_id FROM secret_events WHERE secret_name = 'race/app' AND type = 'StagesMoved' ORDER BY cursor`,
    );
    await client.end();
    const moves = rows.map((r) => r.version_id);
    expect(moves).toHaveLength(moved); // one per successful call (the creation records no move)
    expect(holding('AWSCURRENT')).toEqual([moves.at(-1)]);
    expect(holding('AWSPREVIOUS')).toEqual([moves.at(-2)]);
  });

  it('stops serving a key disabled through another replica at once, not after the cache expires', async () => {
    const kms = replicas[0]!.kmsClient();
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const encrypt = () => outcome(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    expect(await encrypt()).toBe('ok'); // now cached on replica 0
    await replicas[1]!.kmsClient().send(new DisableKeyCommand({ KeyId: keyId }));
    await within(NOTIFIED_WITHIN_MS, encrypt, (r) => r === 'DisabledException');
  });

  it('stops serving a secret deleted through another replica at once', async () => {
    await sm(replicas[0]!).send(new CreateSecretCommand({ Name: 'coherence/db', SecretString: 'cached' }));
    const read = () => outcome(sm(replicas[0]!).send(new GetSecretValueCommand({ SecretId: 'coherence/db' })));
    expect(await read()).toBe('ok');
    await sm(replicas[2]!).send(new DeleteSecretCommand({ SecretId: 'coherence/db', RecoveryWindowInDays: 7 }));
    await within(NOTIFIED_WITHIN_MS, read, (r) => r === 'InvalidRequestException');
  });

  it('refuses sessions revoked through another replica at once', async () => {
    const token = await sessionToken(replicas[0]!.url, { role: 'web', jwt: await issuer.kubernetesToken() });
    await sm(replicas[0]!).send(new CreateSecretCommand({ Name: 'coherence/web', SecretString: 'w' }));
    const read = async () =>
      (await bearerCall(replicas[0]!.url, token, 'secretsmanager.GetSecretValue', { SecretId: 'coherence/web' }))
        .status;
    expect(await read()).toBe(200);
    // The session must have been issued in an earlier millisecond than the revocation.
    await new Promise((r) => setTimeout(r, 5));
    const revoked = await fetch(`${replicas[1]!.url}/v1/admin/roles/web/revoke-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${replicas[1]!.admin.token}` },
    });
    expect(revoked.status).toBe(200);
    await within(NOTIFIED_WITHIN_MS, read, (s) => s !== 200);
    expect(await read()).toBe(400); // as AWS answers an expired token: ExpiredTokenException
  });
  it('tells a watcher whose cursor is ahead of the database (restored from an older backup) to reload everything', async () => {
    const res = await fetch(`${replicas[2]!.url}/v1/watch?cursor=999999999`, {
      headers: { authorization: `Bearer ${replicas[2]!.admin.token}` },
    });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: reset')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const latest = Number(/event: reset\ndata: \{"cursor":(\d+)\}/.exec(text)![1]);
    expect(latest).toBeLessThan(999999999);
  });
});
