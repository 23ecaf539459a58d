// The PostgreSQL rotation strategies against a real PostgreSQL server, checked with real logins.
import { randomInt, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAlternatingUsers, postgresSingleUser } from '../../src/secrets/rotators/postgres.js';
import { type RotationContext, RotationStepError, type Rotator } from '../../src/secrets/rotators/types.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

let pg: TestPostgres;
let admin: Client;

beforeAll(async () => {
  pg = await startPostgres();
  admin = new Client({ connectionString: pg.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end().catch(() => {});
  await pg?.stop();
});

const MASTER_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:pg-master-AbCdEf';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

function randomPassword(options: { length?: number; excludeCharacters?: string } = {}): string {
  const chars = [...ALPHABET].filter((c) => !(options.excludeCharacters ?? '').includes(c));
  return Array.from({ length: options.length ?? 32 }, () => chars[randomInt(chars.length)]).join('');
}

/** An in-memory secret with versions and staging labels, standing in for Secrets Manager. */
class FakeSecret {
  readonly versions = new Map<string, { value: string; stages: Set<string> }>();
  readonly generatedOptions: unknown[] = [];
  /** Versions written through putPendingValue (the rotation's own); others stand for a caller's PutSecretValue. */
  readonly made = new Set<string>();

  constructor(
    initial: Record<string, unknown>,
    private readonly others: Record<string, string> = {},
  ) {
    this.versions.set(randomUUID(), { value: JSON.stringify(initial), stages: new Set(['AWSCURRENT']) });
  }

  byStage(stage: string): { id: string; value: string } | undefined {
    for (const [id, v] of this.versions) if (v.stages.has(stage)) return { id, value: v.value };
    return undefined;
  }

  json(stage: string): Record<string, unknown> {
    return JSON.parse(this.byStage(stage)!.value) as Record<string, unknown>;
  }

  context(token: string): RotationContext {
    return {
      secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app-XyZ123',
      token,
      getValue: async (selector) =>
        'versionId' in selector ? this.versions.get(selector.versionId)?.value : this.byStage(selector.stage)?.value,
      getPendingValue: async () => {
        const version = this.versions.get(token);
        if (version === undefined) return undefined;
        if (!this.made.has(token))
          throw new RotationStepError(`version ${token} holds a value this rotation did not make`);
        return version.value;
      },
      getOtherSecretValue: async (id) => {
        const value = this.others[id];
        if (value === undefined) throw new Error(`ResourceNotFoundException: ${id}`);
        return value;
      },
      putPendingValue: async (value) => {
        const existing = this.versions.get(token);
        if (existing && existing.value !== value) throw new Error('ResourceExistsException');
        for (const v of this.versions.values()) v.stages.delete('AWSPENDING');
        this.versions.set(token, { value, stages: new Set([...(existing?.stages ?? []), 'AWSPENDING']) });
        this.made.add(token);
      },
      generatePassword: (options) => {
        this.generatedOptions.push(options);
        return randomPassword(options);
      },
    };
  }

  /** finishSecret: AWSCURRENT moves to the token's version, AWSPREVIOUS to the old current. */
  finish(token: string): void {
    const old = this.byStage('AWSCURRENT')!;
    for (const v of this.versions.values()) v.stages.delete('AWSPREVIOUS');
    const oldVersion = this.versions.get(old.id)!;
    oldVersion.stages.delete('AWSCURRENT');
    oldVersion.stages.add('AWSPREVIOUS');
    const next = this.versions.get(token)!;
    next.stages.delete('AWSPENDING');
    next.stages.add('AWSCURRENT');
  }
}

/** Drives one full rotation; with `twice`, every step runs twice (as after a crash and retry). */
async function rotate(rotator: Rotator, secret: FakeSecret, twice = false): Promise<string> {
  const token = randomUUID();
  const ctx = secret.context(token);
  for (const step of [rotator.createSecret, rotator.setSecret, rotator.testSecret]) {
    await step(ctx);
    if (twice) await step(ctx);
  }
  secret.finish(token);
  return token;
}

/** true when `user` logs in with `password`, false when the server rejects the password. */
async function canLogin(user: string, password: string): Promise<boolean> {
  const client = new Client({ host: pg.host, port: pg.port, user, password, database: 'postgres' });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '28P01') return false;
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

async function stepError(promise: Promise<unknown>): Promise<RotationStepError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RotationStepError);
  return err as RotationStepError;
}

/** A fresh role `app` (and no `app_clone`) with the given password. */
async function resetApp(password: string): Promise<void> {
  for (const role of ['app_clone', 'app']) {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (rowCount) {
      await admin.query(`DROP OWNED BY ${admin.escapeIdentifier(role)}`);
      await admin.query(`DROP ROLE ${admin.escapeIdentifier(role)}`);
    }
  }
  await admin.query(`CREATE ROLE app WITH LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
}

function appSecret(password: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    engine: 'postgres',
    host: pg.host,
    port: pg.port,
    username: 'app',
    password,
    dbname: 'postgres',
    ...extra,
  };
}

describe('postgresSingleUser', () => {
  const rotator = postgresSingleUser();
  let oldPassword: string;

  beforeAll(async () => {
    oldPassword = randomPassword({ excludeCharacters: '/@"\'\\' });
    await resetApp(oldPassword);
  });

  it('rotates the password: the new one logs in, the old one no longer does', async () => {
    const secret = new FakeSecret(appSecret(oldPassword, { note: 'kept' }));
    const token = await rotate(rotator, secret);

    const current = secret.json('AWSCURRENT');
    expect(secret.byStage('AWSCURRENT')!.id).toBe(token);
    expect(current.username).toBe('app');
    expect(current.note).toBe('kept');
    expect(current.password).not.toBe(oldPassword);
    expect(secret.generatedOptions).toEqual([{ excludeCharacters: '/@"\'\\' }]);
    expect(await canLogin('app', current.password as string)).toBe(true);
    expect(await canLogin('app', oldPassword)).toBe(false);
  });

  it('is idempotent: every step run twice gives one new password', async () => {
    const startPassword = randomPassword({ excludeCharacters: '/@"\'\\' });
    await admin.query(`ALTER ROLE app WITH PASSWORD ${admin.escapeLiteral(startPassword)}`);
    const secret = new FakeSecret(appSecret(startPassword));
    await rotate(rotator, secret, true);

    expect(secret.versions.size).toBe(2);
    expect(secret.generatedOptions).toHaveLength(1);
    const current = secret.json('AWSCURRENT');
    expect(await canLogin('app', current.password as string)).toBe(true);
    expect(await canLogin('app', startPassword)).toBe(false);
  });

  it('logs in with AWSPREVIOUS when AWSCURRENT no longer works', async () => {
    const dbPassword = randomPassword({ excludeCharacters: '/@"\'\\' });
    await admin.query(`ALTER ROLE app WITH PASSWORD ${admin.escapeLiteral(dbPassword)}`);
    const secret = new FakeSecret(appSecret(dbPassword));
    // Make a secret whose AWSCURRENT is wrong but whose AWSPREVIOUS is what the database has.
    const wrong = secret.context(randomUUID());
    await wrong.putPendingValue(JSON.stringify(appSecret('not-the-password')));
    secret.finish(wrong.token);

    await rotate(rotator, secret);
    expect(await canLogin('app', secret.json('AWSCURRENT').password as string)).toBe(true);
  });

  it('setSecret fails without leaking passwords when no credential works', async () => {
    const secret = new FakeSecret(appSecret('wrong-current'));
    const token = randomUUID();
    const ctx = secret.context(token);
    await rotator.createSecret(ctx);
    const pendingPassword = JSON.parse(secret.versions.get(token)!.value).password as string;

    const err = await stepError(rotator.setSecret(ctx));
    expect(err.message).toBe('setSecret: cannot log in as app with AWSCURRENT, AWSPENDING or AWSPREVIOUS');
    expect(err.message).not.toContain(pendingPassword);
  });

  it('testSecret fails without leaking the password when the pending password is wrong', async () => {
    const password = randomPassword({ excludeCharacters: '/@"\'\\' });
    const secret = new FakeSecret(appSecret(password));
    const token = randomUUID();
    const ctx = secret.context(token);
    await ctx.putPendingValue(JSON.stringify(appSecret('Wr0ng-pending-Pa55word')));

    const err = await stepError(rotator.testSecret(ctx));
    expect(err.message).toMatch(/^testSecret: cannot log in as app with AWSPENDING/);
    expect(err.message).not.toContain('Wr0ng-pending-Pa55word');
  });

  it('reports an unreachable server without the password', async () => {
    const secret = new FakeSecret(appSecret('whatever', { port: 1 }));
    const token = randomUUID();
    const ctx = secret.context(token);
    await rotator.createSecret(ctx);
    const err = await stepError(rotator.testSecret(ctx));
    expect(err.message).toBe('testSecret: cannot connect to the database server of AWSPENDING (ECONNREFUSED)');
    expect(err.message).not.toContain(JSON.parse(secret.versions.get(token)!.value).password);
  });
});

describe('postgresAlternatingUsers', () => {
  const rotator = postgresAlternatingUsers();
  let appPassword: string;
  let secret: FakeSecret;

  beforeAll(async () => {
    appPassword = randomPassword({ excludeCharacters: '/@"\'\\' });
    await resetApp(appPassword);
    await admin.query('CREATE TABLE app_data (v int)');
    await admin.query('INSERT INTO app_data VALUES (42)');
    await admin.query('ALTER TABLE app_data OWNER TO app');
    const master = JSON.stringify({
      engine: 'postgres',
      host: pg.host,
      port: pg.port,
      username: pg.superuser,
      password: pg.password,
    });
    secret = new FakeSecret(appSecret(appPassword, { masterarn: MASTER_ARN }), { [MASTER_ARN]: master });
  });

  it('first rotation creates app_clone with the new password; app keeps its old one', async () => {
    await rotate(rotator, secret, true);

    const current = secret.json('AWSCURRENT');
    expect(current.username).toBe('app_clone');
    expect(current.masterarn).toBe(MASTER_ARN);
    expect(secret.json('AWSPREVIOUS').username).toBe('app');
    expect(await canLogin('app_clone', current.password as string)).toBe(true);
    expect(await canLogin('app', appPassword)).toBe(true);

    // app_clone has app's privileges by membership.
    const clone = new Client({
      host: pg.host,
      port: pg.port,
      user: 'app_clone',
      password: current.password as string,
      database: 'postgres',
    });
    await clone.connect();
    try {
      expect((await clone.query('SELECT v FROM app_data')).rows).toEqual([{ v: 42 }]);
    } finally {
      await clone.end();
    }
  });

  it('second rotation rotates app back; app_clone keeps working', async () => {
    const clonePassword = secret.json('AWSCURRENT').password as string;
    await rotate(rotator, secret);

    const current = secret.json('AWSCURRENT');
    expect(current.username).toBe('app');
    expect(current.password).not.toBe(appPassword);
    expect(await canLogin('app', current.password as string)).toBe(true);
    expect(await canLogin('app', appPassword)).toBe(false);
    expect(await canLogin('app_clone', clonePassword)).toBe(true);
  });

  it('setSecret fails without leaking passwords when the master secret does not log in', async () => {
    const badMaster = JSON.stringify({
      engine: 'postgres',
      host: pg.host,
      port: pg.port,
      username: 'postgres',
      password: 'bad-master-pw',
    });
    const current = secret.json('AWSCURRENT');
    const other = new FakeSecret(current, { [MASTER_ARN]: badMaster });
    const ctx = other.context(randomUUID());
    await rotator.createSecret(ctx);

    const err = await stepError(rotator.setSecret(ctx));
    expect(err.message).toBe('setSecret: cannot log in with the master secret');
    expect(err.message).not.toContain('bad-master-pw');
    expect(err.message).not.toContain(current.password as string);
  });

  const masterValue = () =>
    JSON.stringify({ engine: 'postgres', host: pg.host, port: pg.port, username: pg.superuser, password: pg.password });

  it("setSecret refuses a pending user that is neither AWSCURRENT's nor its clone, and touches no role", async () => {
    const other = new FakeSecret(secret.json('AWSCURRENT'), { [MASTER_ARN]: masterValue() });
    const ctx = other.context(randomUUID());
    await ctx.putPendingValue(
      JSON.stringify({ ...other.json('AWSCURRENT'), username: 'postgres', password: 'Hijack3d' }),
    );

    const err = await stepError(rotator.setSecret(ctx));
    expect(err.message).toMatch(/^setSecret: AWSPENDING's user is not one this rotation may change/);
    expect(await canLogin('postgres', pg.password)).toBe(true);
    expect(await canLogin('postgres', 'Hijack3d')).toBe(false);
  });

  it('createSecret refuses a value a caller put at the rotation token instead of using it', async () => {
    const other = new FakeSecret(secret.json('AWSCURRENT'), { [MASTER_ARN]: masterValue() });
    const token = randomUUID();
    other.versions.set(token, {
      value: JSON.stringify({ ...other.json('AWSCURRENT'), username: 'postgres', password: 'Hijack3d' }),
      stages: new Set(['AWSPENDING']),
    });
    await stepError(rotator.createSecret(other.context(token)));
    await stepError(rotator.setSecret(other.context(token)));
    expect(await canLogin('postgres', pg.password)).toBe(true);
  });

  it("never sets the master's own user or a superuser's password, even when AWSCURRENT names its clone", async () => {
    await admin.query("CREATE ROLE boss WITH LOGIN SUPERUSER PASSWORD 'boss-password-1'");
    await admin.query("CREATE ROLE boss_clone WITH LOGIN PASSWORD 'clone-password-1'");
    await admin.query("CREATE ROLE postgres_clone WITH LOGIN PASSWORD 'clone-password-2'");
    try {
      for (const [user, password, target] of [
        ['postgres_clone', 'clone-password-2', 'postgres'],
        ['boss_clone', 'clone-password-1', 'boss'],
      ] as const) {
        const other = new FakeSecret(appSecret(password, { username: user, masterarn: MASTER_ARN }), {
          [MASTER_ARN]: masterValue(),
        });
        const ctx = other.context(randomUUID());
        await rotator.createSecret(ctx);
        expect(other.json('AWSPENDING').username).toBe(target);
        const err = await stepError(rotator.setSecret(ctx));
        expect(err.message).toMatch(
          /^setSecret: (a rotation never changes the master secret's own user|refusing to change the password of superuser boss)$/,
        );
      }
      expect(await canLogin('postgres', pg.password)).toBe(true);
      expect(await canLogin('boss', 'boss-password-1')).toBe(true);
    } finally {
      await admin.query('DROP ROLE boss, boss_clone, postgres_clone');
    }
  });

  it('names no host, port or database in any failure', async () => {
    const elsewhere = JSON.stringify({
      engine: 'postgres',
      host: '127.0.0.1',
      port: 1,
      username: 'postgres',
      password: 'x',
    });
    const cases: [Record<string, unknown>, Record<string, string>][] = [
      [appSecret(appPassword, { masterarn: MASTER_ARN, port: 1, dbname: 'secretdb' }), { [MASTER_ARN]: masterValue() }],
      [secret.json('AWSCURRENT'), { [MASTER_ARN]: elsewhere }],
      [appSecret(appPassword, { masterarn: MASTER_ARN, dbname: 'secretdb' }), { [MASTER_ARN]: masterValue() }],
    ];
    for (const [current, others] of cases) {
      const other = new FakeSecret(current, others);
      const ctx = other.context(randomUUID());
      await rotator.createSecret(ctx);
      for (const step of [rotator.setSecret, rotator.testSecret]) {
        const err = await stepError(step(ctx));
        expect(err.message).not.toMatch(/127\.0\.0\.1|secretdb|:1\b/);
        expect(err.message).not.toContain(String(pg.port));
      }
    }
  });
});
