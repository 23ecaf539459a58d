// Terraform's http state backend without the HTTP: envelope-encrypted versions, locks, serial and lineage checks.
//
// Each stored version gets a fresh 256-bit data key from the KMS key `alias/keysafe/terraform`
// (encryption context: state name, serial, lineage) and is sealed with AES-256-GCM whose AAD
// binds the same three, so a version moved to another state or serial fails to decrypt. State
// JSON holds every resource attribute in plaintext (sensitive ones included): it is never
// logged, and never part of an error message.
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { openEnvelope, purposeAad, sealEnvelope } from '../crypto/index.js';
import type { KmsEngine } from '../kms/index.js';
import type {
  TerraformLockRecord,
  TerraformPutResult,
  TerraformStateStore,
  TerraformStateVersionInfo,
  TerraformUnlockResult,
} from './store.js';

/** The managed KMS key that encrypts Terraform state. */
export const TERRAFORM_KMS_ALIAS = 'alias/keysafe/terraform';

/** State names: path-like segments, so policies can grant `terraform-state/team-a/*`. */
const STATE_NAME = /^[\w.@=+-]+(\/[\w.@=+-]+)*$/;
export const MAX_STATE_NAME = 256;

export function isValidStateName(name: string): boolean {
  return name.length <= MAX_STATE_NAME && STATE_NAME.test(name);
}

/** Terraform's LockInfo, Go field names; the holder's is what a refused LOCK answers with. */
export interface LockInfo {
  ID: string;
  Operation: string;
  Info: string;
  Who: string;
  Version: string;
  Created: string;
  Path: string;
}

const text = (max: number) => z.string().max(max).optional();
const lockInfoSchema = z.object({
  ID: z.string().min(1).max(256),
  Operation: text(1024),
  Info: text(4096),
  Who: text(1024),
  Version: text(256),
  Created: text(256),
  Path: text(4096),
});

/** Parses a LOCK or UNLOCK body, keeping exactly the LockInfo fields (`Created` defaults to now). */
export function parseLockInfo(body: string, now: number): LockInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new AppError('ValidationException', 'Expected a Terraform LockInfo JSON body.');
  }
  const parsed = lockInfoSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(
      'ValidationException',
      `Invalid LockInfo: ${issue.path.join('.') || '(body)'}: ${issue.message}`,
    );
  }
  const l = parsed.data;
  return {
    ID: l.ID,
    Operation: l.Operation ?? '',
    Info: l.Info ?? '',
    Who: l.Who ?? '',
    Version: l.Version ?? '',
    Created: l.Created ?? new Date(now).toISOString(),
    Path: l.Path ?? '',
  };
}

const stateHeaderSchema = z.object({
  serial: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  lineage: z.string().min(1).max(256),
});

/** The serial and lineage of a state file; the rest stays opaque. */
function stateHeader(body: Buffer): { serial: number; lineage: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AppError('ValidationException', 'Expected a Terraform state JSON body.');
  }
  const parsed = stateHeaderSchema.safeParse(doc);
  if (!parsed.success) {
    throw new AppError('ValidationException', 'A Terraform state needs an integer "serial" and a string "lineage".');
  }
  return parsed.data;
}

/** Binds a stored version to its state, serial and lineage: a version moved elsewhere fails to open. */
export function stateAad(name: string, serial: number, lineage: string): Buffer {
  return purposeAad('keysafe:terraform-state:v1', name, serial, lineage);
}

export interface TerraformStateBackendDeps {
  store: TerraformStateStore;
  /** Only the internal data-key calls: the backend never acts as an API caller. */
  kms: Pick<KmsEngine, 'internal'>;
  /** ARN of the KMS key new versions are encrypted under (created on first use). */
  keyArn: () => Promise<string>;
  now: () => number;
  /** How many versions of each state are kept (the newest ones), for rolling back. */
  keepVersions: number;
}

export type TerraformStateBackend = ReturnType<typeof createTerraformStateBackend>;

export function createTerraformStateBackend(deps: TerraformStateBackendDeps) {
  const { store } = deps;
  return {
    /** The newest state (or the kept `version`), decrypted; undefined when there is none. */
    async read(name: string, version?: number): Promise<{ body: Buffer; info: TerraformStateVersionInfo } | undefined> {
      const v = version === undefined ? await store.getState(name) : await store.getStateVersion(name, version);
      if (!v) return undefined;
      const { wrappedKey: _w, ciphertext: _c, ...info } = v;
      return { body: await openVersion(deps, v), info };
    },

    versions: (name: string): Promise<TerraformStateVersionInfo[]> => store.listStateVersions(name),

    /** Stores a new version unless the lock, lineage or serial forbid it. */
    write: (name: string, body: Buffer, lockId: string | undefined): Promise<TerraformPutResult> =>
      writeVersion(deps, name, body, lockId),

    remove: (name: string, lockId: string | undefined) => store.deleteState(name, lockId),

    /** Takes the lock for the LockInfo in `body`; the holder's record when someone else has it. */
    async lock(
      name: string,
      body: string,
    ): Promise<{ acquired: true; info: string } | { acquired: false; holder: TerraformLockRecord }> {
      const info = parseLockInfo(body, deps.now());
      const record: TerraformLockRecord = { name, id: info.ID, info: JSON.stringify(info), createdAt: deps.now() };
      const result = await store.lock(record);
      return result.acquired ? { acquired: true, info: record.info } : result;
    },

    /** Releases the lock named by the LockInfo in `body` (the one this holder sent on LOCK). */
    unlock(name: string, body: string): Promise<TerraformUnlockResult> {
      return store.unlock(name, parseLockInfo(body, deps.now()).ID);
    },

    /** Removes any lock: `terraform force-unlock`, which sends no LockInfo. Returns what was removed. */
    forceUnlock: (name: string): Promise<TerraformLockRecord | undefined> => store.forceUnlock(name),
  };
}

/** The KMS encryption context of a version's data key. */
const stateContext = (name: string, serial: number, lineage: string) => ({
  TerraformState: name,
  TerraformStateSerial: String(serial),
  TerraformStateLineage: lineage,
});

async function openVersion(
  { kms }: TerraformStateBackendDeps,
  v: { name: string; serial: number; lineage: string; wrappedKey: Buffer; ciphertext: Buffer },
): Promise<Buffer> {
  const { plaintext: dataKey } = await kms.internal.decrypt(v.wrappedKey, stateContext(v.name, v.serial, v.lineage));
  try {
    return openEnvelope(dataKey, v.ciphertext, stateAad(v.name, v.serial, v.lineage));
  } catch {
    throw new AppError('DecryptionFailure', `The stored state ${v.name} failed authentication.`);
  }
}

async function writeVersion(
  deps: TerraformStateBackendDeps,
  name: string,
  body: Buffer,
  lockId: string | undefined,
): Promise<TerraformPutResult> {
  const { store, kms } = deps;
  const { serial, lineage } = stateHeader(body);
  // Refuse cheaply before spending a data key when the answer is already known.
  const lock = await store.getLock(name);
  if (lock && lock.id !== lockId) return { ok: false, reason: 'locked', lock };
  const dataKey = await kms.internal.generateDataKey(await deps.keyArn(), 32, stateContext(name, serial, lineage));
  const ciphertext = sealEnvelope(dataKey.plaintext, body, stateAad(name, serial, lineage));
  const result = await store.putState(
    {
      name,
      serial,
      lineage,
      createdAt: deps.now(),
      size: body.length,
      kmsKeyArn: dataKey.keyId,
      wrappedKey: dataKey.ciphertext,
      ciphertext,
    },
    { ...(lockId !== undefined && { lockId }), keep: deps.keepVersions },
  );
  // The same serial again is a retry (a lost response) only if the content is the same too;
  // otherwise it is a stale copy that Terraform re-numbered (`state push -force`).
  if (!result.ok && result.reason === 'stale-serial' && result.serial === serial) {
    const latest = await store.getState(name);
    if (latest?.serial === serial && latest.lineage === lineage && (await openVersion(deps, latest)).equals(body)) {
      return { ok: true, version: latest.version };
    }
  }
  return result;
}
