// `keysafe audit verify|tail`: checks the audit log's hash chain, or prints its records.
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { listSegments, verifyAuditLog } from '../audit/index.js';
import { ConfigError } from '../core/config-error.js';
import { DEFAULTS, loadServerConfig } from '../server/config.js';
import { parseFlags, untilSignal } from './args.js';

const USAGE = `usage: keysafe audit verify [--data-dir DIR | --store URL | --config FILE | --dir AUDIT_DIR]
       keysafe audit tail   [same options] [-n N] [--follow]

verify  checks every record's hash and its link to the record before; exit 0 when the chain is
        whole, 1 naming the first broken record (file, line, seq). Safe while the server runs.
tail    prints the last N records (default 20) as JSON lines; --follow keeps printing new ones.

The log is <data-dir>/audit (default ${DEFAULTS.dataDir}/audit), or the config file's audit.dir;
--store sqlite:PATH means the audit directory beside that database file.
`;

const FLAGS = {
  'data-dir': { type: 'string' },
  store: { type: 'string' },
  config: { type: 'string' },
  dir: { type: 'string' },
  n: { type: 'string', short: 'n' },
  follow: { type: 'boolean', short: 'f' },
} as const;

export async function runAudit(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseFlags(rest, FLAGS, USAGE);
  if (values.help || sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  const dir = auditDir(values);
  if (sub === 'verify') return verify(dir);
  if (sub === 'tail') return tail(dir, values.n === undefined ? 20 : Number(values.n), values.follow ?? false);
  throw new ConfigError(`unknown audit command '${sub}'\n\n${USAGE}`);
}

function auditDir(v: { 'data-dir'?: string; store?: string; config?: string; dir?: string }): string {
  if (v.dir) return v.dir;
  if (v.store) {
    if (!v.store.startsWith('sqlite:')) {
      throw new ConfigError('--store: only sqlite:PATH stores exist so far; their audit log is beside the database');
    }
    return join(dirname(v.store.slice('sqlite:'.length)), 'audit');
  }
  if (v.config) return loadServerConfig({ config: v.config }).audit.dir;
  return join(v['data-dir'] ?? DEFAULTS.dataDir, 'audit');
}

function verify(dir: string): number {
  if (listSegments(dir).length === 0) throw new ConfigError(`no audit log in ${dir}`);
  const r = verifyAuditLog(dir);
  if (r.ok) {
    const range = r.firstSeq === undefined ? 'no records' : `records ${r.firstSeq}–${r.lastSeq}`;
    process.stdout.write(
      `audit log ok: ${r.records} records (${range}) in ${r.segments} segment(s); last hash ${r.lastHash}\n`,
    );
    return 0;
  }
  const seq = r.seq === undefined ? '' : ` (seq ${r.seq})`;
  process.stdout.write(
    `audit log BROKEN at ${r.file} line ${r.line}${seq}: ${r.reason}; ${r.records} records before it are intact\n`,
  );
  return 1;
}

async function tail(dir: string, n: number, follow: boolean): Promise<number> {
  if (!Number.isInteger(n) || n < 0) throw new ConfigError('-n: expected a whole number');
  const segments = listSegments(dir);
  if (segments.length === 0) throw new ConfigError(`no audit log in ${dir}`);
  const lines: string[] = [];
  for (let i = segments.length - 1; i >= 0 && lines.length < n; i--) {
    const complete = readFileSync(segments[i]!.path, 'utf8').split('\n').slice(0, -1);
    lines.unshift(...complete.slice(-(n - lines.length)));
  }
  // Nothing at all for a log without records: a blank line would read as one empty record.
  if (n > 0 && lines.length > 0) process.stdout.write(`${lines.slice(-n).join('\n')}\n`);
  if (!follow) return 0;
  // Poll the newest segment for appended records; a new segment is picked up as it appears.
  let current = segments[segments.length - 1]!.path;
  let offset = statSync(current).size;
  const timer = setInterval(() => {
    const newest = listSegments(dir).at(-1)!.path;
    const bytes = readFileSync(current);
    const end = bytes.lastIndexOf(0x0a) + 1;
    if (end > offset) {
      process.stdout.write(bytes.subarray(offset, end));
      offset = end;
    }
    if (newest !== current && end === bytes.length) {
      current = newest;
      offset = 0;
    }
  }, 250);
  await untilSignal();
  clearInterval(timer);
  return 0;
}
