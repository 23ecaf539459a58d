// PostgreSQL rotation strategies, following AWS's SecretsManagerRDSPostgreSQLRotationSingleUser and
// SecretsManagerRDSPostgreSQLRotationMultiUser Lambda templates.
//
// The secret value is AWS's JSON shape:
//   {"engine":"postgres","host":"…","port":5432,"username":"…","password":"…","dbname":"…","masterarn":"…","ssl":true}
// dbname defaults to "postgres", port to 5432; masterarn is needed only by the alternating-users strategy.
//
// A pending value is always the server's own (createSecret copies AWSCURRENT's connection fields and
// sets a fresh password; a value a caller put at the rotation's token is refused), and the only
// roles a rotation may touch are AWSCURRENT's user and, alternating, its `_clone`. Which server,
// database, user and master secret those are is pinned by RotateSecret (connectionOf): the runner
// refuses every step whose AWSCURRENT or AWSPENDING names another (a later PutSecretValue). Failure
// messages name no host, port or database and carry no server message: only SQLSTATE or error codes.
//
// Passwords never reach the server in clear text when it can be avoided: like libpq's
// PQencryptPasswordConn (psql's \password), the new password is hashed on the client into the
// verifier format the server's password_encryption asks for, so it cannot show up in server logs
// (log_statement, log_min_error_statement) or pg_stat_statements.
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { AppError } from '../../core/errors.js';
import { md5PasswordVerifier, scramSha256Verifier } from '../../crypto/index.js';
import { CLONE_SUFFIX, connectionPinOf, type DbSecret, parseSecret } from './postgres-connection.js';
import { type RotationContext, RotationStepError, type Rotator } from './types.js';

/** Characters that break connection strings / URLs, as in the AWS templates' EXCLUDE_CHARACTERS default. */
const EXCLUDE_CHARACTERS = '/@"\'\\';
const CONNECT_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 30_000;
/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently truncated. */
const MAX_IDENTIFIER_BYTES = 63;

type Step = 'createSecret' | 'setSecret' | 'testSecret';

async function readVersion(
  ctx: RotationContext,
  step: Step,
  selector: { stage: string } | { versionId: string },
  what: string,
): Promise<DbSecret | undefined> {
  const value = await ctx.getValue(selector);
  return value === undefined ? undefined : parseSecret(step, what, value);
}

async function readCurrent(ctx: RotationContext, step: Step): Promise<DbSecret> {
  const current = await readVersion(ctx, step, { stage: 'AWSCURRENT' }, 'AWSCURRENT');
  if (!current) throw new RotationStepError(`${step}: the secret has no AWSCURRENT value`);
  return current;
}

async function readPending(ctx: RotationContext, step: Step): Promise<DbSecret> {
  const value = await ctx.getPendingValue();
  if (value === undefined) {
    throw new RotationStepError(`${step}: the secret has no AWSPENDING value for version ${ctx.token}`);
  }
  return parseSecret(step, 'AWSPENDING', value);
}

/**
 * A description of a database or network error that is safe to show a caller: its SQLSTATE or
 * Node error code only. Messages are left out: pg's and Node's name hosts, ports, databases and
 * roles ("connect ECONNREFUSED 10.0.0.5:5432", "database \"x\" does not exist"), which would make
 * a rotation a probe of the server's network or of another team's database.
 */
function describeError(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'error';
}

/**
 * What an error reading through the rotation context says: Keysafe's own errors carry their code
 * and message (an AccessDeniedException names the action and the ARN, never a value).
 */
function describeReadError(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`;
  if (err instanceof RotationStepError) return err.message;
  return describeError(err);
}

/** SQLSTATE class 28: invalid authorization (wrong password, no such role, rejected by pg_hba.conf). */
function isLoginRefused(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('28');
}

/**
 * Connects with the secret's credentials. Returns undefined when the server refuses the login (like the
 * AWS templates' get_connection returning None); throws RotationStepError when the server cannot be reached.
 */
async function connect(step: Step, secret: DbSecret, what: string): Promise<Client | undefined> {
  const client = new Client({
    host: secret.host,
    port: secret.port,
    user: secret.username,
    password: secret.password,
    database: secret.dbname,
    ssl: secret.ssl ? { rejectUnauthorized: true } : false,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: 'keysafe-rotation',
  });
  // A connection dropped while idle is reported as an 'error' event; unhandled, it would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    if (isLoginRefused(err)) return undefined;
    throw new RotationStepError(`${step}: cannot connect to the database server of ${what} (${describeError(err)})`);
  }
}

async function runQuery(
  step: Step,
  client: Client,
  sql: string,
  params: unknown[],
  action: string,
): Promise<{ rows: Record<string, unknown>[] }> {
  try {
    return await client.query(sql, params);
  } catch (err) {
    throw new RotationStepError(`${step}: ${action} failed (${describeError(err)})`);
  }
}

// --- client-side password hashing (mirrors libpq's PQencryptPasswordConn; the verifiers are in src/crypto) ---

/**
 * The `PASSWORD '…'` literal for `role`: a verifier in the server's password_encryption format, or the
 * password itself when the server wants something else or the password is not plain ASCII (the server
 * would SASLprep-normalize it; for ASCII SASLprep is the identity, so the client-side hash is exact).
 */
async function passwordLiteral(step: Step, client: Client, role: string, password: string): Promise<string> {
  const printableAscii = /^[\x20-\x7e]*$/.test(password);
  if (printableAscii) {
    const { rows } = await runQuery(step, client, 'SHOW password_encryption', [], 'SHOW password_encryption');
    const method = String(rows[0]?.password_encryption ?? '');
    if (method === 'scram-sha-256') return escapeLiteral(scramSha256Verifier(password));
    if (method === 'md5') return escapeLiteral(md5PasswordVerifier(password, role));
  }
  return escapeLiteral(password);
}

async function setPassword(
  step: Step,
  client: Client,
  verb: 'ALTER USER' | 'ALTER ROLE',
  role: string,
  password: string,
): Promise<void> {
  const literal = await passwordLiteral(step, client, role, password);
  await runQuery(
    step,
    client,
    `${verb} ${escapeIdentifier(role)} WITH PASSWORD ${literal}`,
    [],
    `setting the password of ${role}`,
  );
}

// --- steps shared by both strategies ---

/** The pending value is made here, from AWSCURRENT: same connection fields, the next user, a fresh password. */
async function createPending(ctx: RotationContext, nextUsername: (current: string) => string): Promise<void> {
  if ((await ctx.getPendingValue()) !== undefined) return;
  const current = await readCurrent(ctx, 'createSecret');
  const next = {
    ...current.raw,
    username: nextUsername(current.username),
    password: ctx.generatePassword({ excludeCharacters: EXCLUDE_CHARACTERS }),
  };
  await ctx.putPendingValue(JSON.stringify(next));
}

async function testPending(ctx: RotationContext): Promise<void> {
  const pending = await readPending(ctx, 'testSecret');
  const client = await connect('testSecret', pending, 'AWSPENDING');
  if (!client) {
    throw new RotationStepError(`testSecret: cannot log in as ${pending.username} with AWSPENDING`);
  }
  try {
    await runQuery('testSecret', client, 'SELECT 1', [], 'SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

/** True (and the connection closed) when the pending credentials already log in: setSecret has nothing to do. */
async function pendingAlreadySet(pending: DbSecret): Promise<boolean> {
  const client = await connect('setSecret', pending, 'AWSPENDING');
  if (!client) return false;
  await client.end().catch(() => {});
  return true;
}

function sameServer(a: DbSecret, b: DbSecret): boolean {
  return a.host === b.host && a.port === b.port;
}

/**
 * AWSPENDING must be AWSCURRENT's connection with one of the users this strategy may touch.
 * createSecret makes it so; AWSCURRENT may have been changed since, and then nothing is touched.
 */
function requirePendingMatches(current: DbSecret, pending: DbSecret, usernames: readonly string[]): void {
  if (!sameServer(current, pending) || current.dbname !== pending.dbname) {
    throw new RotationStepError('setSecret: AWSPENDING is not for the same database server as AWSCURRENT');
  }
  if (!usernames.includes(pending.username)) {
    throw new RotationStepError(
      `setSecret: AWSPENDING's user is not one this rotation may change (${usernames.join(' or ')})`,
    );
  }
}

// --- single user ---

async function setSingleUser(ctx: RotationContext): Promise<void> {
  const current = await readCurrent(ctx, 'setSecret');
  const pending = await readPending(ctx, 'setSecret');
  const previous = await readVersion(ctx, 'setSecret', { stage: 'AWSPREVIOUS' }, 'AWSPREVIOUS');
  requirePendingMatches(current, pending, [current.username]);

  if (await pendingAlreadySet(pending)) return;

  let client = await connect('setSecret', current, 'AWSCURRENT');
  if (
    !client &&
    previous &&
    previous.username === pending.username &&
    sameServer(previous, pending) &&
    previous.dbname === pending.dbname
  ) {
    client = await connect('setSecret', previous, 'AWSPREVIOUS');
  }
  if (!client) {
    throw new RotationStepError(
      `setSecret: cannot log in as ${pending.username} with AWSCURRENT, AWSPENDING or AWSPREVIOUS`,
    );
  }
  try {
    await setPassword('setSecret', client, 'ALTER USER', pending.username, pending.password);
  } finally {
    await client.end().catch(() => {});
  }
}

// --- alternating users ---

function alternateUsername(current: string): string {
  if (current.endsWith(CLONE_SUFFIX) && current.length > CLONE_SUFFIX.length) {
    return current.slice(0, -CLONE_SUFFIX.length);
  }
  const clone = current + CLONE_SUFFIX;
  if (Buffer.byteLength(clone, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new RotationStepError(
      `createSecret: cannot clone user ${current}: with ${CLONE_SUFFIX} appended the name exceeds ${MAX_IDENTIFIER_BYTES} bytes`,
    );
  }
  return clone;
}

async function setAlternatingUsers(ctx: RotationContext): Promise<void> {
  const current = await readCurrent(ctx, 'setSecret');
  const pending = await readPending(ctx, 'setSecret');
  requirePendingMatches(current, pending, [current.username, alternateUsername(current.username)]);

  if (await pendingAlreadySet(pending)) return;

  // As in the AWS template: make sure AWSCURRENT is valid before touching anything.
  const check = await connect('setSecret', current, 'AWSCURRENT');
  if (!check) {
    throw new RotationStepError(`setSecret: cannot log in as ${current.username} with AWSCURRENT`);
  }
  await check.end().catch(() => {});

  if (!current.masterarn) {
    throw new RotationStepError('setSecret: AWSCURRENT has no "masterarn" (the superuser secret this strategy needs)');
  }
  const masterArn = current.masterarn;
  let masterValue: string;
  try {
    // Authorized and audited as the rotation's principal: GetSecretValue on the master (and
    // kms:Decrypt on its key). A principal that may not read it gets nothing done with it.
    masterValue = await ctx.getOtherSecretValue(masterArn);
  } catch (err) {
    throw new RotationStepError(`setSecret: cannot read the master secret: ${describeReadError(err)}`);
  }
  const masterParsed = parseSecret('setSecret', 'the master secret', masterValue);
  // Log in to the user's database (the AWS template uses the current secret's dbname for the master too).
  const master: DbSecret = { ...masterParsed, dbname: current.dbname };
  if (!sameServer(current, master)) {
    throw new RotationStepError("setSecret: AWSCURRENT's database server is not the master secret's");
  }
  if (pending.username === master.username) {
    throw new RotationStepError("setSecret: a rotation never changes the master secret's own user");
  }

  const client = await connect('setSecret', master, 'the master secret');
  if (!client) {
    throw new RotationStepError('setSecret: cannot log in with the master secret');
  }
  try {
    const { rows } = await runQuery(
      'setSecret',
      client,
      'SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1',
      [pending.username],
      `looking up role ${pending.username}`,
    );
    if (rows.length === 0) {
      // A new login role that is a member of the current user's role, so it has the same privileges.
      const literal = await passwordLiteral('setSecret', client, pending.username, pending.password);
      await runQuery(
        'setSecret',
        client,
        `CREATE ROLE ${escapeIdentifier(pending.username)} WITH LOGIN PASSWORD ${literal} IN ROLE ${escapeIdentifier(current.username)}`,
        [],
        `creating role ${pending.username}`,
      );
    } else {
      // A user secret's roles are ordinary ones: a superuser is rotated by its own single-user secret.
      if (rows[0]?.rolsuper === true) {
        throw new RotationStepError(`setSecret: refusing to change the password of superuser ${pending.username}`);
      }
      await setPassword('setSecret', client, 'ALTER ROLE', pending.username, pending.password);
    }
  } finally {
    await client.end().catch(() => {});
  }
}

// --- public API ---

/** Rotates the password of the secret's own user, logging in as that user (AWS single-user strategy). */
export function postgresSingleUser(): Rotator {
  return {
    createSecret: (ctx) => createPending(ctx, (username) => username),
    setSecret: setSingleUser,
    testSecret: testPending,
    connectionOf: (value, where, what) => connectionPinOf(parseSecret(where, what, value), false),
  };
}

/**
 * Alternates between `<user>` and `<user>_clone` (AWS multi-user strategy): each rotation sets a new
 * password on the user that is not current, so the current credentials keep working until they
 * expire one rotation later. Needs `masterarn`, a secret with credentials allowed to create roles.
 */
export function postgresAlternatingUsers(): Rotator {
  return {
    createSecret: (ctx) => createPending(ctx, alternateUsername),
    setSecret: setAlternatingUsers,
    testSecret: testPending,
    connectionOf: (value, where, what) => connectionPinOf(parseSecret(where, what, value), true),
  };
}
