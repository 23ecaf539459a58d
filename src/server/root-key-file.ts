// Loads the root key from the environment or its file, creating the file (0600) on first start.
import {
  closeSync,
  constants,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../core/config-error.js';
import { RootKey } from '../crypto/index.js';

/** Refuses a key file that group or others can read: a leaked root key exposes every key. */
export function assertPrivateFile(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `${path} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
    );
  }
}

/**
 * Writes a new file with mode 0600, failing with EEXIST if it exists; fsynced so it survives a
 * crash. The content is written aside and linked into place, so a process that loses a race to
 * create the file (replicas starting at once) finds it whole, never empty or half-written.
 */
export function writePrivateFileExclusive(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const aside = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(aside, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(aside, path);
  } finally {
    unlinkSync(aside);
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** True for the error of creating a file another process created first. */
export const alreadyExists = (e: unknown): boolean => (e as NodeJS.ErrnoException)?.code === 'EEXIST';

export function readRootKeyFile(path: string): RootKey {
  assertPrivateFile(path);
  const bytes = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (bytes.length !== 32) throw new ConfigError(`${path}: expected a base64-encoded 32-byte root key`);
  return RootKey.fromBytesInsecure(bytes);
}

export function loadOrCreateRootKey(opts: { fromEnv?: Buffer; file: string }): { key: RootKey; created: boolean } {
  if (opts.fromEnv) return { key: RootKey.fromBytesInsecure(opts.fromEnv), created: false };
  let exists = true;
  try {
    statSync(opts.file);
  } catch {
    exists = false;
  }
  if (!exists) {
    try {
      writePrivateFileExclusive(opts.file, `${RootKey.generateBytesInsecure().toString('base64')}\n`);
      return { key: readRootKeyFile(opts.file), created: true };
    } catch (e) {
      if (!alreadyExists(e)) throw e; // another process made it first: use theirs
    }
  }
  return { key: readRootKeyFile(opts.file), created: false };
}
