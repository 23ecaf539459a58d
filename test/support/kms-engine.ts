// A KMS engine on a fresh SQLite store in a temp dir, with a manual clock: the fixture of the in-process KMS tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { RootKey, RootKeyring } from '../../src/crypto/index.js';
import { createKmsEngine } from '../../src/kms/index.js';
import { openStore } from '../../src/storage/index.js';

export const PARTITION = { region: 'us-east-1', accountId: '000000000000' };

/** Call inside a test: the store is closed and its directory removed when the test ends. */
export async function kmsOnTempStore() {
  const dir = mkdtempSync(join(tmpdir(), 'keysafe-kms-'));
  const store = await openStore(`sqlite:${join(dir, 'keysafe.db')}`);
  onTestFinished(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const rootKeys = new RootKeyring(RootKey.fromBytesInsecure(RootKey.generateBytesInsecure()));
  const kms = createKmsEngine({ store: store.kms, rootKeys, clock, partition: PARTITION });
  return { kms, store, clock, rootKeys };
}

/** Matches an AppError by its stable code. */
export const withCode = (code: string) => expect.objectContaining({ code });
