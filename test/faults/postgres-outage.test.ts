// PostgreSQL going away under a running server: requests that need it answer 503 (retried by the
// SDKs), the process stays up, and when the database is back the server serves, writes and notifies
// again without a restart.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { type ServerProcess, spawnServer } from '../support/process.js';
import { secretsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';

let db: TestPostgres;
let dir: string;
let server: ServerProcess;

const client = () => secretsClient(server);

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => `${e.$metadata?.httpStatusCode} ${e.name}`,
  );

beforeAll(async () => {
  db = await startPostgres();
  dir = tempDir('keysafe-pg-outage-');
  server = await spawnServer(join(dir, 'data'), ['--store', db.url]);
  await client().send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'before' }));
});

afterAll(async () => {
  server?.child.kill('SIGKILL');
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a PostgreSQL outage', () => {
  it('answers 503 while the database is down and recovers when it is back, without a restart', async () => {
    await db.pause();
    await new Promise((r) => setTimeout(r, 1100)); // past the read cache's TTL
    expect(
      await outcome(client().send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'REFUSED-VALUE' }))),
    ).toBe('503 ServiceUnavailableException');
    expect(await outcome(client().send(new GetSecretValueCommand({ SecretId: 'app/db' })))).toBe(
      '503 ServiceUnavailableException',
    );
    await new Promise((r) => setTimeout(r, 1500)); // the change feed's poll fails meanwhile
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    await db.resume();
    const deadline = Date.now() + 15_000;
    while ((await outcome(client().send(new GetSecretValueCommand({ SecretId: 'app/db' })))) !== 'ok') {
      if (Date.now() > deadline) throw new Error('the server did not recover');
      await new Promise((r) => setTimeout(r, 200));
    }
    await client().send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'after' }));
    expect((await client().send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString).toBe('after');
    // The refused write left nothing behind, and no value reached the log.
    const { Versions } = await client().send(new ListSecretVersionIdsCommand({ SecretId: 'app/db' }));
    expect(Versions).toHaveLength(2);
    expect(server.output()).not.toMatch(/REFUSED-VALUE|before|after/);
    expect(server.child.exitCode).toBeNull();
  });
});
