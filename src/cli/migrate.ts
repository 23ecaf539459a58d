// `keysafe migrate`: moves a stopped server's SQLite store into a new PostgreSQL database.
import { join } from 'node:path';
import { ConfigError } from '../core/config-error.js';
import { DEFAULTS, loadServerConfig } from '../server/config.js';
import { migrateSqliteToPostgres } from '../storage/index.js';
import { parseFlags } from './args.js';

const USAGE = `usage: keysafe migrate --to postgres://… [--from sqlite:PATH | --data-dir DIR] [--config FILE] [--region REGION]

Copies every key, alias, secret, label, event, issuer, role and Terraform state from a SQLite
store into an empty PostgreSQL database, in one transaction. Stop the server first. Values stay
encrypted: start the PostgreSQL servers with the same root key (root.key or KEYSAFE_ROOT_KEY)
and admin credentials.
  --to URL         the PostgreSQL store (postgres://user:password@host:port/database)
  --from URL       the SQLite store (default sqlite:<data-dir>/keysafe.db)
  --data-dir DIR   default ${DEFAULTS.dataDir}
  --config FILE    the server's config file: its region: is the default of --region
  --region REGION  the server's default region (region:), which the data of a store written
                   before regions belongs to; default the region: of --config, else ${DEFAULTS.region}
`;

export async function runMigrate(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      to: { type: 'string' },
      from: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      region: { type: 'string' },
    },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const to = values.to;
  if (!to || !/^postgres(ql)?:\/\//.test(to)) throw new ConfigError(`--to postgres://… is required\n\n${USAGE}`);
  const from = values.from ?? `sqlite:${join(values['data-dir'] ?? DEFAULTS.dataDir, 'keysafe.db')}`;
  if (!from.startsWith('sqlite:')) throw new ConfigError(`--from must be a sqlite: store URL\n\n${USAGE}`);
  // The server's own region:, its config file read as the server reads it.
  const server = () => loadServerConfig({ ...(values.config && { config: values.config }) }, process.env).region;
  const options = { defaultRegion: values.region ?? server() };
  const counts = await migrateSqliteToPostgres(from.slice('sqlite:'.length), to, options).catch((e: unknown) => {
    if ((e as { code?: string }).code === 'SQLITE_CANTOPEN') throw new ConfigError(`cannot open ${from}`);
    throw e;
  });
  for (const [table, n] of Object.entries(counts)) process.stdout.write(`${table.padEnd(26)} ${n}\n`);
  process.stdout.write('migrated; start the servers with --store on the PostgreSQL URL and the same root key\n');
  return 0;
}
