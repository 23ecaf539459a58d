// Root key rotation: a new root key file, every key version re-wrapped under it, old key retired.
//
// Crash-safe order: (1) write <file>.next (0600, fsynced); (2) re-wrap all material under it
// while the old key stays in the keyring, so reads never stop; (3) rename .next over the file
// and fsync the directory; (4) forget the old key. A restart that finds .next resumes at (2).
import { closeSync, fsyncSync, openSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from '../core/errors.js';
import { RootKey, type RootKeyring } from '../crypto/index.js';
import type { KmsEngine } from '../kms/index.js';
import type { Logger } from '../observability/logger.js';
import { readRootKeyFile, writePrivateFileExclusive } from './root-key-file.js';

export interface RootKeyRotation {
  kms: KmsEngine;
  rootKeys: RootKeyring;
  file: string;
  logger: Logger;
  /** Only finish an interrupted rotation; don't start one. */
  resumeOnly: boolean;
  /** The root key came from KEYSAFE_ROOT_KEY: there is no file to rotate. */
  fromEnv: boolean;
}

let running: Promise<{ rewrapped: number; rootKeyId: string }> | undefined;

export function rotateRootKeyFile(r: RootKeyRotation): Promise<{ rewrapped: number; rootKeyId: string }> {
  running ??= rotate(r).finally(() => {
    running = undefined;
  });
  return running;
}

async function rotate(r: RootKeyRotation): Promise<{ rewrapped: number; rootKeyId: string }> {
  const next = `${r.file}.next`;
  const pending = exists(next);
  if (r.fromEnv) {
    if (r.resumeOnly) return { rewrapped: 0, rootKeyId: r.rootKeys.current.id };
    throw new AppError(
      'UnsupportedOperationException',
      'The root key comes from KEYSAFE_ROOT_KEY; root key rotation needs a root key file (--root-key-file).',
    );
  }
  if (!pending) {
    if (r.resumeOnly) return { rewrapped: 0, rootKeyId: r.rootKeys.current.id };
    writePrivateFileExclusive(next, `${RootKey.generateBytesInsecure().toString('base64')}\n`);
  }
  const nextKey = readRootKeyFile(next);
  r.rootKeys.promote(nextKey);
  r.logger.info(pending ? 'resuming root key rotation' : 'rotating root key', { rootKeyId: nextKey.id });
  const rewrapped = await r.kms.rewrapUnderCurrentRootKey();
  renameSync(next, r.file);
  const dir = openSync(dirname(r.file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  r.rootKeys.retireOthers();
  r.logger.info('root key rotated', { rootKeyId: nextKey.id, rewrapped });
  return { rewrapped, rootKeyId: nextKey.id };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
