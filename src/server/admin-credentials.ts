// The admin's credentials: SigV4 keys for AWS clients and a bearer token, created on first start.
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../core/config-error.js';
import { randomBase32, randomToken } from '../crypto/index.js';
import { alreadyExists, assertPrivateFile, writePrivateFileExclusive } from './root-key-file.js';

export interface AdminCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  token: string;
}

const schema = z.object({
  accessKeyId: z.string().min(16),
  secretAccessKey: z.string().min(30),
  token: z.string().min(30),
});

export function loadOrCreateAdminCredentials(path: string): AdminCredentials {
  let exists = true;
  try {
    statSync(path);
  } catch {
    exists = false;
  }
  if (!exists) {
    const created: AdminCredentials = {
      accessKeyId: `AKIA${randomBase32(16)}`,
      secretAccessKey: randomToken(30),
      token: `ks_admin_${randomToken(32)}`,
    };
    try {
      writePrivateFileExclusive(path, `${JSON.stringify(created, null, 2)}\n`);
      return created;
    } catch (e) {
      if (!alreadyExists(e)) throw e; // another replica made it first: use theirs
    }
  }
  assertPrivateFile(path);
  const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new ConfigError(`${path}: expected {"accessKeyId","secretAccessKey","token"}`);
  return parsed.data;
}
