// The PostgreSQL secret's JSON shape, parsed, and the connection a rotation pins from it (pure, no I/O).
import type { RotationConnectionPin } from '../store.js';
import { RotationStepError } from './types.js';

export const CLONE_SUFFIX = '_clone';
const SUPPORTED_ENGINES = new Set(['postgres', 'aurora-postgresql']);

/** The parsed secret JSON. `raw` keeps every field (unknown ones included) so createSecret copies them through. */
export interface DbSecret {
  raw: Record<string, unknown>;
  host: string;
  port: number;
  username: string;
  password: string;
  dbname: string;
  ssl: boolean;
  masterarn: string | undefined;
}

/** Parses a value; a failure names `where` (a step or RotateSecret), `what` (a stage) and the field, never a value. */
export function parseSecret(where: string, what: string, value: string): DbSecret {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw new RotationStepError(`${where}: ${what} is not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RotationStepError(`${where}: ${what} is not a JSON object`);
  }
  const obj = raw as Record<string, unknown>;
  if (typeof obj.engine !== 'string' || !SUPPORTED_ENGINES.has(obj.engine)) {
    throw new RotationStepError(`${where}: ${what} must have "engine": "postgres"`);
  }
  for (const field of ['host', 'username', 'password'] as const) {
    if (typeof obj[field] !== 'string' || obj[field] === '') {
      throw new RotationStepError(`${where}: ${what} has no "${field}" string`);
    }
  }
  const port = obj.port === undefined ? 5432 : Number(obj.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RotationStepError(`${where}: ${what} has an invalid "port"`);
  }
  if (obj.dbname !== undefined && (typeof obj.dbname !== 'string' || obj.dbname === '')) {
    throw new RotationStepError(`${where}: ${what} has an invalid "dbname"`);
  }
  if (obj.masterarn !== undefined && typeof obj.masterarn !== 'string') {
    throw new RotationStepError(`${where}: ${what} has an invalid "masterarn"`);
  }
  return {
    raw: obj,
    host: obj.host as string,
    port,
    username: obj.username as string,
    password: obj.password as string,
    dbname: (obj.dbname as string | undefined) ?? 'postgres',
    ssl: obj.ssl === true || obj.ssl === 'true',
    masterarn: obj.masterarn as string | undefined,
  };
}

/** The pair an alternating-users rotation switches between is `<base>` and `<base>_clone`. */
export function baseUsername(username: string): string {
  return username.endsWith(CLONE_SUFFIX) && username.length > CLONE_SUFFIX.length
    ? username.slice(0, -CLONE_SUFFIX.length)
    : username;
}

/**
 * The fields of a value that decide where and on whom a rotation acts. Alternating users pin the
 * pair's base name (AWSCURRENT is `<base>` or `<base>_clone`) and the master secret; single user
 * pins the user itself and ignores `masterarn`, which it never reads.
 */
export function connectionPinOf(secret: DbSecret, alternating: boolean): RotationConnectionPin {
  return {
    host: secret.host,
    port: secret.port,
    dbname: secret.dbname,
    username: alternating ? baseUsername(secret.username) : secret.username,
    ssl: secret.ssl,
    ...(alternating && secret.masterarn !== undefined && { masterarn: secret.masterarn }),
  };
}

const PIN_FIELDS = ['host', 'port', 'dbname', 'username', 'masterarn', 'ssl'] as const;

/** The names of the fields that differ between two pins (never their values). */
export function changedPinFields(pinned: RotationConnectionPin, now: RotationConnectionPin): string[] {
  return PIN_FIELDS.filter((field) => pinned[field] !== now[field]);
}
