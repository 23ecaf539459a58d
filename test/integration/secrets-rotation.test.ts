// Rotation end to end: a real PostgreSQL role, a real webhook rotator, and a crash mid-rotation.
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { spawnServer } from '../support/process.js';
import { secretsClient } from '../support/sdk.js';
import { startTestServer, type TestServer, tempDir } from '../support/server.js';

const WEBHOOK_SECRET = 'test-webhook-secret-0123456789abcdef';

async function canLogin(db: TestPostgres, user: string, password: string): Promise<boolean> {
  const client = new pg.Client({ host: db.host, port: db.port, user, password, database: 'postgres' });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function stagesOf(sm: SecretsManagerClient, id: string) {
  return (await sm.send(new DescribeSecretCommand({ SecretId: id }))).VersionIdsToStages ?? {};
}

async function valueAt(sm: SecretsManagerClient, id: string, stage: string) {
  return JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: id, VersionStage: stage }))).SecretString!);
}

describe('PostgreSQL rotation', () => {
  let db: TestPostgres;
  let server: TestServer;
  let sm: SecretsManagerClient;

  beforeAll(async () => {
    [db, server] = await Promise.all([startPostgres(), startTestServer()]);
    sm = secretsClient(server);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query("CREATE ROLE app LOGIN PASSWORD 'first-password-1'");
    await admin.query("CREATE ROLE app2 LOGIN PASSWORD 'second-password-2'");
    await admin.end();
  }, 60_000);
  afterAll(async () => {
    sm?.destroy();
    await server?.stop();
    await db?.stop();
  });

  const connection = () => ({ engine: 'postgres', host: db.host, port: db.port, dbname: 'postgres' });

  it('single user: the new password logs in, the old one no longer does, AWSPREVIOUS keeps it', async () => {
    await sm.send(
      new CreateSecretCommand({
        Name: 'db/app',
        SecretString: JSON.stringify({ ...connection(), username: 'app', password: 'first-password-1' }),
      }),
    );
    await sm.send(
      new RotateSecretCommand({ SecretId: 'db/app', RotationLambdaARN: 'keysafe:rotation:postgres:single-user' }),
    );
    await server.rotation.idle();
    const current = await valueAt(sm, 'db/app', 'AWSCURRENT');
    expect(current.password).not.toBe('first-password-1');
    expect(current.username).toBe('app');
    expect(await canLogin(db, 'app', current.password)).toBe(true);
    expect(await canLogin(db, 'app', 'first-password-1')).toBe(false);
    expect((await valueAt(sm, 'db/app', 'AWSPREVIOUS')).password).toBe('first-password-1');
    expect(Object.values(await stagesOf(sm, 'db/app')).flat()).not.toContain('AWSPENDING');
  });

  it('alternating users: each rotation updates the other user and both keep working', async () => {
    const master = await sm.send(
      new CreateSecretCommand({
        Name: 'db/master',
        SecretString: JSON.stringify({ ...connection(), username: 'postgres', password: db.password }),
      }),
    );
    await sm.send(
      new CreateSecretCommand({
        Name: 'db/app2',
        SecretString: JSON.stringify({
          ...connection(),
          username: 'app2',
          password: 'second-password-2',
          masterarn: master.ARN,
        }),
      }),
    );
    const strategy = 'keysafe:rotation:postgres:alternating-users';
    await sm.send(new RotateSecretCommand({ SecretId: 'db/app2', RotationLambdaARN: strategy }));
    await server.rotation.idle();
    const first = await valueAt(sm, 'db/app2', 'AWSCURRENT');
    expect(first.username).toBe('app2_clone');
    expect(await canLogin(db, 'app2_clone', first.password)).toBe(true);
    expect(await canLogin(db, 'app2', 'second-password-2')).toBe(true);
    expect((await valueAt(sm, 'db/app2', 'AWSPREVIOUS')).username).toBe('app2');

    await sm.send(new RotateSecretCommand({ SecretId: 'db/app2' }));
    await server.rotation.idle();
    const second = await valueAt(sm, 'db/app2', 'AWSCURRENT');
    expect(second.username).toBe('app2');
    expect(await canLogin(db, 'app2', second.password)).toBe(true);
    expect(await canLogin(db, 'app2', 'second-password-2')).toBe(false);
    expect(await canLogin(db, 'app2_clone', first.password)).toBe(true);
  });
});

/**
 * A rotation endpoint speaking the AWS rotation Lambda protocol over HTTP, as a user would run
 * it: it calls back into Keysafe with the AWS SDK for each step.
 */
class RotationWebhook {
  server: Server;
  steps: string[] = [];
  applied = new Map<string, string>();
  failTest = false;
  hangOnTest: (() => void) | undefined;
  keysafe: SecretsManagerClient | undefined;

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        this.handle(JSON.parse(body)).then(
          (status) => {
            if (status) res.writeHead(status).end();
          },
          () => res.writeHead(500).end(),
        );
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/rotate`;
  }

  /** Returns the HTTP status to answer, or undefined to never answer. */
  async handle(event: { Step: string; SecretId: string; ClientRequestToken: string }): Promise<number | undefined> {
    const sm = this.keysafe!;
    const { Step, SecretId, ClientRequestToken: token } = event;
    this.steps.push(Step);
    if (Step === 'createSecret') {
      const pending = await sm.send(new GetSecretValueCommand({ SecretId, VersionId: token })).catch(() => undefined);
      if (!pending?.SecretString) {
        const current = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId }))).SecretString!);
        const { RandomPassword } = await sm.send(new GetRandomPasswordCommand({ ExcludePunctuation: true }));
        await sm.send(
          new PutSecretValueCommand({
            SecretId,
            ClientRequestToken: token,
            SecretString: JSON.stringify({ ...current, password: RandomPassword }),
            VersionStages: ['AWSPENDING'],
          }),
        );
      }
    } else if (Step === 'setSecret') {
      const pending = JSON.parse(
        (await sm.send(new GetSecretValueCommand({ SecretId, VersionId: token }))).SecretString!,
      );
      this.applied.set(SecretId, pending.password);
    } else if (Step === 'testSecret') {
      if (this.hangOnTest) {
        this.hangOnTest();
        this.hangOnTest = undefined;
        return undefined;
      }
      if (this.failTest) return 422;
    } else if (Step === 'finishSecret') {
      const stages = (await sm.send(new DescribeSecretCommand({ SecretId }))).VersionIdsToStages ?? {};
      const current = Object.keys(stages).find((v) => stages[v]!.includes('AWSCURRENT'));
      if (current !== token) {
        await sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: token,
            RemoveFromVersionId: current,
          }),
        );
      }
    }
    return 200;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

describe('webhook rotation', () => {
  let server: TestServer;
  let sm: SecretsManagerClient;
  let hook: RotationWebhook;
  let url: string;

  beforeAll(async () => {
    hook = new RotationWebhook();
    url = await hook.listen();
    server = await startTestServer({
      config: { rotation: { webhookAllow: [new URL(url).origin], webhookSecret: WEBHOOK_SECRET } },
    });
    sm = secretsClient(server);
    hook.keysafe = sm;
  });
  afterAll(async () => {
    sm.destroy();
    await hook.close();
    await server.stop();
  });

  it('keeps AWSCURRENT when testSecret fails, shows the failure, and succeeds on a later rotation', async () => {
    const created = await sm.send(
      new CreateSecretCommand({ Name: 'api/key', SecretString: JSON.stringify({ user: 'svc', password: 'old-one' }) }),
    );
    hook.failTest = true;
    await sm.send(
      new RotateSecretCommand({ SecretId: 'api/key', RotationLambdaARN: `keysafe:rotation:webhook:${url}` }),
    );
    await server.rotation.idle();
    expect(hook.steps).toEqual(['createSecret', 'setSecret', 'testSecret']);
    expect((await valueAt(sm, 'api/key', 'AWSCURRENT')).password).toBe('old-one');
    // The failure is visible in DescribeSecret (a Keysafe extension field) and in /metrics.
    const described = (await (
      await fetch(`${server.url}/`, {
        method: 'POST',
        headers: { 'x-amz-target': 'secretsmanager.DescribeSecret', authorization: `Bearer ${server.admin.token}` },
        body: JSON.stringify({ SecretId: created.ARN }),
      })
    ).json()) as { KeysafeRotation: { LastFailure: { Step: string; Message: string }; InProgress: object } };
    expect(described.KeysafeRotation.LastFailure).toMatchObject({ Step: 'testSecret' });
    expect(described.KeysafeRotation.LastFailure.Message).toBe(
      'testSecret: the rotation webhook did not confirm the step (the server log has the details)',
    );
    expect(described.KeysafeRotation.InProgress).toMatchObject({ Step: 'testSecret', Attempts: 1 });
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain(
      'operation="rotation.testSecret",code="failed"',
    );

    hook.failTest = false;
    hook.steps = [];
    const again = await sm.send(new RotateSecretCommand({ SecretId: 'api/key' }));
    await server.rotation.idle();
    expect(hook.steps).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    const current = await valueAt(sm, 'api/key', 'AWSCURRENT');
    expect(current.password).not.toBe('old-one');
    expect(current.password).toBe(hook.applied.get(created.ARN!));
    expect((await valueAt(sm, 'api/key', 'AWSPREVIOUS')).password).toBe('old-one');
    const stages = await stagesOf(sm, 'api/key');
    expect(stages[again.VersionId!]).toEqual(['AWSCURRENT']);
    expect(Object.values(stages).flat()).not.toContain('AWSPENDING');
    const after = await sm.send(new DescribeSecretCommand({ SecretId: 'api/key' }));
    expect(after.LastRotatedDate).toBeInstanceOf(Date);
  });
});

describe('a crash in the middle of a rotation', () => {
  const dataDir = tempDir();
  const hook = new RotationWebhook();
  afterAll(async () => {
    await hook.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('resumes after a restart: the secret stays consistent and the rotation completes', async () => {
    const config = join(dataDir, 'keysafe.yaml');
    const url = await hook.listen();
    writeFileSync(
      config,
      `rotationLeaseMs: 1500\nschedulerIntervalMs: 200\nrotation:\n  webhookAllow: ["${new URL(url).origin}"]\n  webhookSecret: ${WEBHOOK_SECRET}\n`,
    );
    const first = await spawnServer(dataDir, ['--config', config]);
    hook.keysafe = secretsClient(first);
    await hook.keysafe.send(
      new CreateSecretCommand({ Name: 'crash/me', SecretString: JSON.stringify({ password: 'before' }) }),
    );
    const reachedTest = new Promise<void>((ok) => {
      hook.hangOnTest = ok;
    });
    const rotated = await hook.keysafe.send(
      new RotateSecretCommand({ SecretId: 'crash/me', RotationLambdaARN: `keysafe:rotation:webhook:${url}` }),
    );
    await reachedTest; // setSecret is done; the server waits on testSecret
    first.child.kill('SIGKILL');
    await first.exited;
    hook.keysafe.destroy();

    const second = await spawnServer(dataDir, ['--config', config]);
    const sm = secretsClient(second);
    hook.keysafe = sm;
    try {
      // Consistent right away: AWSCURRENT is still the old value, the pending version is there.
      expect((await valueAt(sm, 'crash/me', 'AWSCURRENT')).password).toBe('before');
      const deadline = Date.now() + 15_000;
      let stages = await stagesOf(sm, 'crash/me');
      while (stages[rotated.VersionId!]?.join() !== 'AWSCURRENT' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        stages = await stagesOf(sm, 'crash/me');
      }
      expect(stages[rotated.VersionId!]).toEqual(['AWSCURRENT']);
      expect(hook.steps.filter((s) => s === 'testSecret')).toHaveLength(2);
      expect((await valueAt(sm, 'crash/me', 'AWSPREVIOUS')).password).toBe('before');
      expect((await valueAt(sm, 'crash/me', 'AWSCURRENT')).password).toBe(
        hook.applied.get((await sm.send(new DescribeSecretCommand({ SecretId: 'crash/me' }))).ARN!),
      );
    } finally {
      sm.destroy();
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 40_000);
});
