// An in-process secrets engine (and rotation) on a temporary SQLite store with a manual clock: no HTTP.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import type { AccessCheck } from '../../src/core/access.js';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { RootKey, RootKeyring } from '../../src/crypto/index.js';
import { createKmsEngine, type KmsEngine } from '../../src/kms/index.js';
import type { Logger } from '../../src/observability/logger.js';
import {
  createRotation,
  createSecretsEngine,
  type Rotation,
  type RotationPrincipalRecord,
  type SecretsEngine,
} from '../../src/secrets/index.js';
import { openStore, type Store } from '../../src/storage/index.js';
import { tempDir } from './server.js';

export const T0 = Date.UTC(2026, 0, 1);
export const PREFIX = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

export interface EngineOnStore {
  store: Store;
  kms: KmsEngine;
  secrets: SecretsEngine;
  clock: ManualClock;
}

/** A fresh store, KMS engine and secrets engine at T0; closed and removed after the test. */
export async function engineOnStore(): Promise<EngineOnStore> {
  const dir = tempDir();
  const store = await openStore(`sqlite:${join(dir, 'keysafe.db')}`);
  cleanup.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const clock = new ManualClock(T0);
  const partition = { region: 'us-east-1', accountId: '000000000000' };
  const kms = createKmsEngine({
    store: store.kms,
    rootKeys: new RootKeyring(RootKey.fromBytesInsecure(RootKey.generateBytesInsecure())),
    clock,
    partition,
    logger: quietLogger().logger,
  });
  const secrets = createSecretsEngine({ store: store.secrets, kms, clock, partition });
  return { store, kms, secrets, clock };
}

/** A logger that keeps what it was told. */
export function quietLogger() {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, ...(fields && { fields }) });
  };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

/** An authorizer that records each check and refuses those `refuse` names; `gate` may hold a check open. */
export interface FakeAuthorizer {
  checks: AccessCheck[];
  refuse: Set<string>;
  gate?: (check: AccessCheck) => Promise<void> | undefined;
  authorize(principal: RotationPrincipalRecord | undefined, check: AccessCheck): Promise<void>;
}

export function fakeAuthorizer(): FakeAuthorizer {
  const authorizer: FakeAuthorizer = {
    checks: [],
    refuse: new Set(),
    async authorize(_principal, check) {
      authorizer.checks.push(check);
      await authorizer.gate?.(check);
      if (authorizer.refuse.has(check.action)) {
        throw new AppError('AccessDeniedException', `not authorized to perform: ${check.action} on ${check.resource}`);
      }
    },
  };
  return authorizer;
}

/** The engine with rotation, acting through a fake authorizer, with a log to read; `engine` may wrap what rotation calls. */
export async function rotationOnStore(
  options: { engine?: (engine: SecretsEngine) => SecretsEngine } = {},
): Promise<
  EngineOnStore & { rotation: Rotation; authorizer: FakeAuthorizer; lines: ReturnType<typeof quietLogger>['lines'] }
> {
  const parts = await engineOnStore();
  const authorizer = fakeAuthorizer();
  const { logger, lines } = quietLogger();
  const rotation = createRotation({
    engine: options.engine ? options.engine(parts.secrets) : parts.secrets,
    store: parts.store.secrets,
    clock: parts.clock,
    logger,
    authorizer,
    keys: { keyCheck: async () => undefined },
    webhooks: { allow: [], secret: undefined, nowSeconds: () => Math.floor(parts.clock.now() / 1000) },
  });
  cleanup.unshift(() => rotation.idle());
  return { ...parts, rotation, authorizer, lines };
}

/** Stage → version id, as DescribeSecret's VersionIdsToStages reads the other way round. */
export async function stagesOf(secrets: SecretsEngine, id: string): Promise<Record<string, string>> {
  const map: Record<string, string> = {};
  for (const v of (await secrets.listVersions(id)).versions) for (const s of v.stages) map[s] = v.versionId;
  return map;
}

/** Expects the promise to reject with an AppError of `code` (and a message containing `message`). */
export async function expectCode(promise: Promise<unknown>, code: string, message?: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code, ...(message && { message: expect.stringContaining(message) }) });
}
