// Starts a real, throwaway PostgreSQL server (initdb + pg_ctl) on a free loopback port for tests.
//
// Binaries: $KEYSAFE_TEST_PG_BINDIR if set, else the first PATH entry holding both initdb and pg_ctl,
// else the newest /usr/lib/postgresql/<version>/bin (Debian/Ubuntu) or /usr/pgsql-<version>/bin (RHEL).
// As root, PostgreSQL refuses to run, so initdb and pg_ctl run as the `postgres` OS user via runuser.
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);

export interface TestPostgres {
  host: '127.0.0.1';
  port: number;
  superuser: 'postgres';
  password: string;
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  /** Stops the server (immediate shutdown) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops the server as a crash would (immediate shutdown), keeping its data: an outage. */
  pause(): Promise<void>;
  /** Starts it again on the same port after pause(). */
  resume(): Promise<void>;
}

interface PgBin {
  initdb: string;
  pgCtl: string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function binIn(dir: string): PgBin | undefined {
  const initdb = join(dir, 'initdb');
  const pgCtl = join(dir, 'pg_ctl');
  return isExecutable(initdb) && isExecutable(pgCtl) ? { initdb, pgCtl } : undefined;
}

/** Version-named subdirectories of `parent` (e.g. "15", "pgsql-16"), newest first. */
function versionDirs(parent: string, prefix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+(\.\d+)?$/.test(n.slice(prefix.length)))
    .sort((a, b) => Number.parseFloat(b.slice(prefix.length)) - Number.parseFloat(a.slice(prefix.length)))
    .map((n) => join(parent, n));
}

let cachedBin: PgBin | undefined;

export function findPostgresBinaries(): PgBin {
  if (cachedBin) return cachedBin;
  const override = process.env.KEYSAFE_TEST_PG_BINDIR;
  if (override) {
    const bin = binIn(override);
    if (!bin) throw new Error(`KEYSAFE_TEST_PG_BINDIR=${override} does not contain executable initdb and pg_ctl`);
    cachedBin = bin;
    return bin;
  }
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
    ...versionDirs('/usr/lib/postgresql', '').map((d) => join(d, 'bin')),
    ...versionDirs('/usr', 'pgsql-').map((d) => join(d, 'bin')),
  ];
  for (const dir of candidates) {
    const bin = binIn(dir);
    if (bin) {
      cachedBin = bin;
      return bin;
    }
  }
  throw new Error(
    'PostgreSQL is not installed: no directory on PATH or under /usr/lib/postgresql/*/bin has both initdb and pg_ctl. ' +
      'Install the PostgreSQL server package (e.g. `apt-get install postgresql`) or set KEYSAFE_TEST_PG_BINDIR.',
  );
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok, fail) => {
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', ok);
  });
  const { port } = srv.address() as { port: number };
  await new Promise((ok) => srv.close(ok));
  return port;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Command and arguments that run `file args` as the postgres OS user when we are root, else directly. */
function asPostgres(file: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

function pgEnv(): NodeJS.ProcessEnv {
  // A clean environment: no PGDATA/PGPORT/PGHOST etc. leaking in from the developer's shell.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
}

async function run(dir: string, file: string, args: string[], what: string): Promise<void> {
  const [cmd, argv] = asPostgres(file, args);
  try {
    await execFile(cmd, argv, { cwd: dir, env: pgEnv(), timeout: 60_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${what} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`.trim());
  }
}

const running = new Set<{ pgCtl: string; dir: string; data: string }>();
let exitHookInstalled = false;

/** Best effort: never leave a postmaster behind when a test process exits without calling stop(). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const r of running) {
      try {
        const [cmd, argv] = asPostgres(r.pgCtl, ['-D', r.data, '-m', 'immediate', '-w', 'stop']);
        execFileSync(cmd, argv, { cwd: r.dir, env: pgEnv(), stdio: 'ignore', timeout: 10_000 });
      } catch {}
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'keysafe-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  const pwfile = join(dir, 'pwfile');
  const password = randomBytes(18).toString('base64url');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  let started = false;
  try {
    if (isRoot) {
      try {
        execFileSync('chown', ['-R', 'postgres:', dir], { stdio: 'pipe' });
      } catch (err) {
        throw new Error(
          `running as root, PostgreSQL must run as the "postgres" OS user, but chown to it failed: ${(err as Error).message}`,
        );
      }
    }
    await run(
      dir,
      bin.initdb,
      [
        '-D',
        data,
        '--auth-host=scram-sha-256',
        '--auth-local=trust',
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ],
      'initdb',
    );
    rmSync(pwfile, { force: true });

    // The port is free when we check; another process may take it before the postmaster binds it, so retry.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3 && !started; attempt++) {
      const port = await freePort();
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB`;
      try {
        await run(dir, bin.pgCtl, ['-D', data, '-l', log, '-o', opts, '-w', '-t', '30', 'start'], 'pg_ctl start');
        started = true;
        const entry = { pgCtl: bin.pgCtl, dir, data };
        running.add(entry);
        installExitHook();
        let stopped: Promise<void> | undefined;
        const stop = (): Promise<void> => {
          stopped ??= (async () => {
            try {
              await run(dir, bin.pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], 'pg_ctl stop');
            } finally {
              running.delete(entry);
              rmSync(dir, { recursive: true, force: true });
            }
          })();
          return stopped;
        };
        return {
          host: '127.0.0.1',
          port,
          superuser: 'postgres',
          password,
          url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
          stop,
          pause: () => run(dir, bin.pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], 'pg_ctl stop'),
          resume: () =>
            run(dir, bin.pgCtl, ['-D', data, '-l', log, '-o', opts, '-w', '-t', '30', 'start'], 'pg_ctl start'),
        };
      } catch (err) {
        const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '';
        lastError = new Error(`${(err as Error).message}\n--- ${log} (tail) ---\n${tail}`);
      }
    }
    throw lastError;
  } finally {
    if (!started) rmSync(dir, { recursive: true, force: true });
  }
}
