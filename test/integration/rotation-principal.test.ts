// Rotation acts as the principal that configured it: two tenants, a real PostgreSQL, the audit log read back.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSegments } from '../../src/audit/index.js';
import { DAY_MS } from '../../src/core/clock.js';
import { openStore } from '../../src/storage/index.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import type { TestServer } from '../support/server.js';
import { bearerCall } from '../support/session.js';
import { policyOf, startWorkloadServer, type WorkloadServer } from '../support/workload.js';

const teamPolicy = (team: string) =>
  policyOf([{ Effect: 'Allow', Action: 'secretsmanager:*', Resource: `arn:aws:secretsmanager:*:*:secret:${team}/*` }]);

let db: TestPostgres;
let workload: WorkloadServer;
let server: TestServer;
const tokens = { a: '', b: '', writer: '' };
let masterArn = '';

const login = (role: string, serviceAccount: string) => workload.session(role, { namespace: role, serviceAccount });

/** A Secrets Manager call as a tenant; throws on an error answer. */
async function call(token: string, operation: string, input: object): Promise<Record<string, unknown>> {
  const res = await bearerCall(server.url, token, `secretsmanager.${operation}`, input);
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${operation}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function lastFailure(token: string, secretId: string): Promise<string> {
  const d = (await call(token, 'DescribeSecret', { SecretId: secretId })) as {
    KeysafeRotation?: { LastFailure?: { Message: string } };
  };
  return d.KeysafeRotation?.LastFailure?.Message ?? '';
}

async function canLogin(user: string, password: string): Promise<boolean> {
  const client = new pg.Client({ host: db.host, port: db.port, user, password, database: 'postgres' });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function roleExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

function auditRecords(): { source: string; identity: { role?: string }; action: string; resource?: string }[] {
  return listSegments(join(server.dataDir, 'audit'))
    .flatMap((s) => readFileSync(s.path, 'utf8').split('\n').slice(0, -1))
    .map((line) => JSON.parse(line));
}

const connection = () => ({ engine: 'postgres', host: db.host, port: db.port, dbname: 'postgres' });

beforeAll(async () => {
  [db, workload] = await Promise.all([
    startPostgres(),
    startWorkloadServer({
      roles: [
        ...['team-a', 'team-b'].map((name) => ({
          name,
          subjects: [`system:serviceaccount:${name}:app`],
          policy: teamPolicy(name),
        })),
        {
          // A deploy job of team A: it may write new values into team A's app secrets, nothing else.
          name: 'team-a-writer',
          subjects: ['system:serviceaccount:team-a-writer:app'],
          policy: policyOf([
            {
              Effect: 'Allow',
              Action: 'secretsmanager:PutSecretValue',
              Resource: 'arn:aws:secretsmanager:*:*:secret:team-a/app-*',
            },
          ]),
        },
      ],
    }),
  ]);
  server = workload.server;
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query("CREATE ROLE aapp LOGIN PASSWORD 'team-a-password-1'");
  await admin.query("CREATE ROLE bapp LOGIN PASSWORD 'team-b-password-1'");
  await admin.end();
  tokens.a = await login('team-a', 'app');
  tokens.b = await login('team-b', 'app');
  tokens.writer = await login('team-a-writer', 'app');
  const master = await call(tokens.a, 'CreateSecret', {
    Name: 'team-a/master',
    SecretString: JSON.stringify({ ...connection(), username: 'postgres', password: db.password }),
  });
  masterArn = master.ARN as string;
}, 90_000);

afterAll(async () => {
  await workload?.stop();
  await db?.stop();
});

describe('PostgreSQL alternating-users rotation as the configuring principal', () => {
  it("refuses a pending value a tenant put at the rotation's token: the superuser's password is unchanged", async () => {
    const strategy = 'keysafe:rotation:postgres:alternating-users';
    const token = randomUUID();
    // B starts a rotation on a value that fails createSecret (a user name with no room for
    // `_clone`), so the rotation waits for a retry …
    await call(tokens.b, 'CreateSecret', {
      Name: 'team-b/db',
      SecretString: JSON.stringify({ ...connection(), username: 'b'.repeat(60), password: 'x', masterarn: masterArn }),
    });
    await call(tokens.b, 'RotateSecret', {
      SecretId: 'team-b/db',
      RotationLambdaARN: strategy,
      ClientRequestToken: token,
    });
    await server.rotation.idle();
    // … writes her own "pending" value at the rotation's token: the master's superuser, her password …
    const hijack = { ...connection(), username: 'postgres', password: 'Hijacked-by-team-b-1', masterarn: masterArn };
    await call(tokens.b, 'PutSecretValue', {
      SecretId: 'team-b/db',
      ClientRequestToken: token,
      SecretString: JSON.stringify(hijack),
      VersionStages: ['AWSPENDING'],
    });
    // … fixes AWSCURRENT and runs the rotation again with the same token (which pins the new connection).
    await call(tokens.b, 'PutSecretValue', {
      SecretId: 'team-b/db',
      SecretString: JSON.stringify({
        ...connection(),
        username: 'bapp',
        password: 'team-b-password-1',
        masterarn: masterArn,
      }),
    });
    await call(tokens.b, 'RotateSecret', { SecretId: 'team-b/db', ClientRequestToken: token });
    await server.rotation.idle();

    expect(await canLogin('postgres', 'Hijacked-by-team-b-1')).toBe(false);
    expect(await canLogin('postgres', db.password)).toBe(true);
    const message = await lastFailure(tokens.b, 'team-b/db');
    expect(message).toMatch(/^createSecret: version .* holds a value this rotation did not make/);
    expect(message).not.toContain(String(db.port));
    expect(message).not.toContain(db.host);
  });

  it("cannot read another team's master secret: refused and audited as the tenant, no role touched, no host named", async () => {
    await call(tokens.b, 'CreateSecret', {
      Name: 'team-b/db2',
      SecretString: JSON.stringify({
        ...connection(),
        username: 'bapp',
        password: 'team-b-password-1',
        masterarn: masterArn,
      }),
    });
    await call(tokens.b, 'RotateSecret', {
      SecretId: 'team-b/db2',
      RotationLambdaARN: 'keysafe:rotation:postgres:alternating-users',
    });
    await server.rotation.idle();

    expect(await roleExists('bapp_clone')).toBe(false);
    const message = await lastFailure(tokens.b, 'team-b/db2');
    expect(message).toContain('AccessDeniedException');
    expect(message).toContain(`secretsmanager:GetSecretValue on resource: ${masterArn}`);
    expect(message).toContain('assumed-role/team-b/');
    expect(message).not.toContain(String(db.port));
    expect(message).not.toContain(db.host);
    const refused = auditRecords().filter(
      (r) => r.source === 'rotation' && r.resource === masterArn && r.action === 'secretsmanager:GetSecretValue',
    );
    expect(refused).toEqual([
      expect.objectContaining({
        identity: expect.objectContaining({ type: 'role', role: 'team-b' }),
        decision: 'deny',
      }),
    ]);
  });

  it("the master's own team rotates with it, each read audited as that team", async () => {
    await call(tokens.a, 'CreateSecret', {
      Name: 'team-a/db',
      SecretString: JSON.stringify({
        ...connection(),
        username: 'aapp',
        password: 'team-a-password-1',
        masterarn: masterArn,
      }),
    });
    await call(tokens.a, 'RotateSecret', {
      SecretId: 'team-a/db',
      RotationLambdaARN: 'keysafe:rotation:postgres:alternating-users',
    });
    await server.rotation.idle();
    const current = JSON.parse(
      (await call(tokens.a, 'GetSecretValue', { SecretId: 'team-a/db' })).SecretString as string,
    ) as { username: string; password: string };
    expect(current.username).toBe('aapp_clone');
    expect(await canLogin('aapp_clone', current.password)).toBe(true);
    const reads = auditRecords().filter((r) => r.source === 'rotation' && r.resource === masterArn);
    expect(reads).toContainEqual(
      expect.objectContaining({ identity: expect.objectContaining({ role: 'team-a' }), decision: 'allow' }),
    );
  });

  it('a rotation configured by a session that was revoked since does not run', async () => {
    await call(tokens.a, 'CreateSecret', { Name: 'team-a/pw', SecretString: '{"password":"p0"}' });
    await call(tokens.a, 'RotateSecret', {
      SecretId: 'team-a/pw',
      RotationLambdaARN: 'keysafe:rotation:random-password',
      RotateImmediately: false,
      RotationRules: { AutomaticallyAfterDays: 1 },
    });
    await server.directory.revokeSessions('team-a');
    await server.rotation.rotateSecret('team-a/pw', {});
    await server.rotation.idle();
    const secret = await server.secrets.find('team-a/pw');
    expect(secret.rotation?.lastFailure?.message).toMatch(/session that configured this rotation was revoked/);
    expect((await server.secrets.getSecretValue('team-a/pw')).value.string).toBe('{"password":"p0"}');
  });
});

describe("a PostgreSQL rotation's connection is pinned by RotateSecret", () => {
  const ALTERNATING = 'keysafe:rotation:postgres:alternating-users';
  let sm: SecretsManagerClient;
  let bMasterArn = '';
  const scheduled = { RotateImmediately: false, RotationRules: { AutomaticallyAfterDays: 1 } };
  const appValue = (username: string, password: string, master = masterArn) =>
    JSON.stringify({ ...connection(), username, password, masterarn: master });
  /** The scheduler's run at a time the daily schedules are due (the rotation itself runs on the real clock). */
  const runScheduleDue = async () => {
    await server.rotation.runDue(Date.now() + 2 * DAY_MS);
    await server.rotation.idle();
  };

  beforeAll(async () => {
    tokens.a = await login('team-a', 'app'); // the earlier test revoked team A's sessions
    sm = server.secretsClient();
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query("CREATE ROLE asvc LOGIN PASSWORD 'team-a-svc-1'");
    await admin.query("CREATE ROLE anew LOGIN PASSWORD 'team-a-new-1'");
    // Team B's ordinary role, already rotated with alternating users: both of its users exist.
    await admin.query("CREATE ROLE bsvc LOGIN PASSWORD 'team-b-svc-1'");
    await admin.query("CREATE ROLE bsvc_clone LOGIN PASSWORD 'team-b-svc-clone-1' IN ROLE bsvc");
    await admin.end();
    const bMaster = await call(tokens.b, 'CreateSecret', {
      Name: 'team-b/master',
      SecretString: JSON.stringify({ ...connection(), username: 'postgres', password: db.password }),
    });
    bMasterArn = bMaster.ARN as string;
  });

  afterAll(() => sm?.destroy());

  it("a caller with only PutSecretValue cannot point the admin's rotation at another team's master and role", async () => {
    await call(tokens.a, 'CreateSecret', { Name: 'team-a/app-db', SecretString: appValue('asvc', 'team-a-svc-1') });
    await sm.send(new RotateSecretCommand({ SecretId: 'team-a/app-db', RotationLambdaARN: ALTERNATING, ...scheduled }));
    // Team A's deploy job points the secret at team B's master and at B's role's clone (whose
    // password it learned somewhere), so that the rotation, acting as the admin, would set B's password.
    await call(tokens.writer, 'PutSecretValue', {
      SecretId: 'team-a/app-db',
      SecretString: appValue('bsvc_clone', 'team-b-svc-clone-1', bMasterArn),
    });
    await runScheduleDue();

    const message = await lastFailure(tokens.a, 'team-a/app-db');
    expect(message).toBe(
      "createSecret: the secret's connection (host/port/dbname/username/masterarn) changed since RotateSecret (AWSCURRENT: username, masterarn); call RotateSecret again to rotate with the new one",
    );
    expect(await canLogin('bsvc', 'team-b-svc-1')).toBe(true);
    expect(await canLogin('bsvc_clone', 'team-b-svc-clone-1')).toBe(true);
    expect(await canLogin('asvc', 'team-a-svc-1')).toBe(true);
    expect(await roleExists('asvc_clone')).toBe(false);
    expect(auditRecords().filter((r) => r.resource === bMasterArn && r.source === 'rotation')).toEqual([]);
  });

  it("after a legitimate change, the admin's RotateSecret again pins the new connection and rotations succeed", async () => {
    await call(tokens.a, 'CreateSecret', { Name: 'team-a/app-db2', SecretString: appValue('asvc', 'team-a-svc-1') });
    await sm.send(
      new RotateSecretCommand({ SecretId: 'team-a/app-db2', RotationLambdaARN: ALTERNATING, ...scheduled }),
    );
    // Team A moves its app to a new role: until RotateSecret is called again, rotations refuse it.
    await call(tokens.writer, 'PutSecretValue', {
      SecretId: 'team-a/app-db2',
      SecretString: appValue('anew', 'team-a-new-1'),
    });
    await runScheduleDue();
    expect(await lastFailure(tokens.a, 'team-a/app-db2')).toMatch(
      /changed since RotateSecret \(AWSCURRENT: username\); call RotateSecret again/,
    );
    expect(await roleExists('anew_clone')).toBe(false);

    await sm.send(new RotateSecretCommand({ SecretId: 'team-a/app-db2' }));
    await server.rotation.idle();
    const first = JSON.parse(
      (await call(tokens.a, 'GetSecretValue', { SecretId: 'team-a/app-db2' })).SecretString as string,
    ) as { username: string; password: string };
    expect(first.username).toBe('anew_clone');
    expect(await canLogin('anew_clone', first.password)).toBe(true);
    expect(await lastFailure(tokens.a, 'team-a/app-db2')).toBe('');

    // The pin is the pair's base name: the next scheduled rotation switches back to `anew`.
    await runScheduleDue();
    const second = JSON.parse(
      (await call(tokens.a, 'GetSecretValue', { SecretId: 'team-a/app-db2' })).SecretString as string,
    ) as { username: string; password: string };
    expect(second.username).toBe('anew');
    expect(await canLogin('anew', second.password)).toBe(true);
    expect(await canLogin('anew', 'team-a-new-1')).toBe(false);
  });

  it('a rotation recorded with a principal but no pinned connection does not run', async () => {
    await call(tokens.a, 'CreateSecret', { Name: 'team-a/app-db3', SecretString: appValue('asvc', 'team-a-svc-1') });
    await sm.send(
      new RotateSecretCommand({ SecretId: 'team-a/app-db3', RotationLambdaARN: ALTERNATING, ...scheduled }),
    );
    // As a rotation configured before Keysafe pinned connections was stored: written to the database
    // directly, as no operation stores a principal without the pin.
    const store = await openStore(`sqlite:${join(server.dataDir, 'keysafe.db')}`);
    try {
      const s = (await store.secrets.getSecretByName('team-a/app-db3'))!;
      const { connection: _, ...rotation } = s.rotation!;
      expect(await store.secrets.commit({ secret: { ...s, rotation }, events: [] }, Date.now())).toBeDefined();
      server.secrets.invalidate(s.arn);
    } finally {
      await store.close();
    }
    await runScheduleDue();
    expect(await lastFailure(tokens.a, 'team-a/app-db3')).toMatch(
      /^createSecret: the secret's connection \(host\/port\/dbname\/username\/masterarn\) was not pinned .*; call RotateSecret again/,
    );
    expect(await roleExists('asvc_clone')).toBe(false);
    expect(await canLogin('asvc', 'team-a-svc-1')).toBe(true);
  });

  it('RotateSecret with a PostgreSQL strategy is refused when AWSCURRENT names no connection', async () => {
    await call(tokens.a, 'CreateSecret', { Name: 'team-a/app-db4', SecretString: 'not json' });
    await sm.send(new CreateSecretCommand({ Name: 'team-a/app-db5' }));
    for (const [secretId, message] of [
      ['team-a/app-db4', 'RotateSecret: AWSCURRENT is not valid JSON'],
      ['team-a/app-db5', 'The secret has no AWSCURRENT SecretString'],
    ] as const) {
      const refused = await sm
        .send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: ALTERNATING }))
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SecretsManagerServiceException);
      expect(refused).toMatchObject({ name: 'InvalidRequestException', message: expect.stringContaining(message) });
      const described = await call(tokens.a, 'DescribeSecret', { SecretId: secretId });
      expect(described.RotationLambdaARN).toBeUndefined();
    }
  });
});
