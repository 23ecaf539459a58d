// `keysafe rotate-root-key`: asks the running server to re-wrap all material under a new root key.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { send } from '../client/http.js';
import { ConfigError } from '../core/config-error.js';
import { DEFAULTS } from '../server/config.js';
import { parseFlags } from './args.js';

const USAGE = `usage: keysafe rotate-root-key [--server URL] [--data-dir DIR]

Rotates the root key of a running server online: a new root key file is written, every key
version is re-wrapped under it, and the old root key is discarded. Reads keep working meanwhile.
  --server URL     default http://${DEFAULTS.listen}
  --data-dir DIR   where admin-credentials.json is (default ${DEFAULTS.dataDir})
`;

export async function runRotateRootKey(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { server: { type: 'string' }, 'data-dir': { type: 'string' } }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dataDir = values['data-dir'] ?? DEFAULTS.dataDir;
  let token: string;
  try {
    token = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')).token;
  } catch {
    throw new ConfigError(`cannot read ${join(dataDir, 'admin-credentials.json')}; pass --data-dir`);
  }
  const server = values.server ?? `http://${DEFAULTS.listen}`;
  // As fetch did before: redirects followed, no answer within 300 s a failure.
  const res = await send(new URL('/v1/admin/rotate-root-key', server), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    redirect: 'follow',
    timeoutMs: 300_000,
  });
  const body = JSON.parse(await res.text()) as Record<string, unknown>;
  if (res.status < 200 || res.status > 299) {
    process.stderr.write(`keysafe: root key rotation failed: ${body.__type}: ${body.message}\n`);
    return 1;
  }
  process.stdout.write(
    `root key rotated: ${body.rewrapped} key versions re-wrapped under root key ${body.rootKeyId}\n`,
  );
  return 0;
}
