// The issuers and roles in force: the config file's, plus those managed through the admin API.
//
// Reads are synchronous from memory (every request needs its role's policy). Admin writes go to
// the store and show here at once; another replica's writes show on its change notification
// (PostgreSQL), or at the latest after one refresh interval.
import { coalesced } from '../core/coalesce.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import { type ApiIssuerConfig, apiIssuerSchema, type IssuerConfig, TrustedIssuer } from './issuers.js';
import { compileRole, type Role, type RoleConfig, roleSchema } from './roles.js';
import type { AuthEntryKind, AuthStore } from './store.js';

export interface DirectoryDeps {
  store: AuthStore;
  issuers: readonly IssuerConfig[];
  roles: readonly RoleConfig[];
  accountId: string;
  logger: Logger;
  /** seconds since the epoch, for token times */
  nowSeconds: () => number;
  /** ms since the epoch */
  now: () => number;
  refreshMs: number;
}

interface Entry<T> {
  value: T;
  source: 'config' | 'api';
  doc: string;
}

export type Directory = Awaited<ReturnType<typeof createDirectory>>;

/** The entries in force, as the directory holds them in memory. */
interface Entries {
  issuers: Map<string, Entry<TrustedIssuer>>;
  roles: Map<string, Entry<Role>>;
  revocations: Map<string, number>;
  /** Stored issuer documents already reported as invalid (refresh runs every second). */
  refusedIssuers: Set<string>;
}

export async function createDirectory(deps: DirectoryDeps) {
  const entries: Entries = { issuers: new Map(), roles: new Map(), revocations: new Map(), refusedIssuers: new Set() };
  const { issuers, roles } = entries;
  await loadConfigured(deps, entries);

  /** Brings the API-managed entries in line with the store; runs never overlap. */
  const refresh = coalesced(async (): Promise<void> => {
    await syncIssuers(deps, entries);
    await syncRoles(deps, entries);
    entries.revocations = await deps.store.listRevocations();
  });

  await refresh();
  const timer = setInterval(() => {
    refresh().catch((e: unknown) => deps.logger.warn('auth directory refresh failed', { error: (e as Error).message }));
  }, deps.refreshMs);
  timer.unref();

  async function put(kind: AuthEntryKind, name: string, doc: object): Promise<void> {
    requireApiManaged(entries, kind, name);
    await deps.store.putAuthEntry({ kind, name, doc: JSON.stringify(doc), updatedAt: deps.now() });
    await refresh();
  }

  return {
    issuer: (name: string): TrustedIssuer | undefined => issuers.get(name)?.value,
    role: (name: string): Role | undefined => roles.get(name)?.value,

    /** ms before which the role's sessions are refused; undefined when the role does not exist. */
    revokedBefore: (role: string): number | undefined =>
      roles.has(role) ? (entries.revocations.get(role) ?? 0) : undefined,

    listIssuers: () => [...issuers.values()].map((e) => ({ ...e.value.config, source: e.source })),
    listRoles: () => [...roles.values()].map((e) => ({ ...e.value.config, source: e.source })),

    /**
     * Stores and applies an issuer (create or replace). Never one of the config file's: that one keeps
     * its file options bound to it, and an API issuer has none (apiIssuerSchema).
     */
    async putIssuer(config: ApiIssuerConfig): Promise<void> {
      await put('issuer', config.name, config);
    },

    /** Validates (policy included), stores and applies a role (create or replace). */
    async putRole(config: RoleConfig): Promise<void> {
      compileRole(config, deps.accountId);
      await put('role', config.name, config);
    },

    async remove(kind: AuthEntryKind, name: string): Promise<void> {
      requireApiManaged(entries, kind, name);
      if (!(await deps.store.deleteAuthEntry(kind, name))) {
        throw new AppError('ResourceNotFoundException', `No ${kind} named ${name}.`);
      }
      // A role made again under the same name must not revive the old one's sessions.
      if (kind === 'role') await deps.store.revokeSessions(name, deps.now());
      await refresh();
    },

    /** Ends every session of `role` issued until now. */
    async revokeSessions(role: string): Promise<number> {
      if (!roles.has(role)) throw new AppError('ResourceNotFoundException', `No role named ${role}.`);
      const at = deps.now();
      await deps.store.revokeSessions(role, at);
      await refresh();
      return at;
    },

    refresh,

    async close(): Promise<void> {
      clearInterval(timer);
      for (const e of issuers.values()) await e.value.close();
    },
  };
}

const newIssuer = (deps: DirectoryDeps, c: IssuerConfig) =>
  new TrustedIssuer(c, { logger: deps.logger, now: deps.nowSeconds });

/** The config file's issuers (started) and roles. */
async function loadConfigured(deps: DirectoryDeps, { issuers, roles }: Entries): Promise<void> {
  for (const c of deps.issuers) {
    const issuer = newIssuer(deps, c);
    await issuer.start();
    issuers.set(c.name, { value: issuer, source: 'config', doc: JSON.stringify(c) });
  }
  for (const c of deps.roles) {
    roles.set(c.name, { value: compileRole(c, deps.accountId), source: 'config', doc: JSON.stringify(c) });
  }
}

/** The stored issuers, started when new or changed; API issuers no longer stored are closed. */
async function syncIssuers(deps: DirectoryDeps, { issuers, refusedIssuers }: Entries): Promise<void> {
  const storedIssuers = await deps.store.listAuthEntries('issuer');
  const seen = new Set<string>();
  for (const e of storedIssuers) {
    seen.add(e.name);
    const current = issuers.get(e.name);
    if (current?.source === 'config' || current?.doc === e.doc) continue;
    // Stored issuers come from the admin API and get its rules: a stored file option (an older
    // version's, or a database writer's) would make the server read and send its own files.
    const parsed = apiIssuerSchema.safeParse(parseJson(e.doc));
    if (!parsed.success) {
      const key = `${e.name}\n${e.doc}`;
      if (!refusedIssuers.has(key)) {
        refusedIssuers.add(key);
        deps.logger.warn('ignoring a stored issuer that no longer validates', { issuer: e.name });
      }
      continue;
    }
    const issuer = newIssuer(deps, parsed.data);
    await issuer.start();
    await current?.value.close();
    issuers.set(e.name, { value: issuer, source: 'api', doc: e.doc });
  }
  for (const [name, entry] of issuers) {
    if (entry.source === 'api' && !seen.has(name)) {
      issuers.delete(name);
      await entry.value.close();
    }
  }
}

/** The stored roles, compiled when new or changed; API roles no longer stored are dropped. */
async function syncRoles(deps: DirectoryDeps, { roles }: Entries): Promise<void> {
  const storedRoles = await deps.store.listAuthEntries('role');
  const seen = new Set<string>();
  for (const e of storedRoles) {
    seen.add(e.name);
    const current = roles.get(e.name);
    if (current?.source === 'config' || current?.doc === e.doc) continue;
    try {
      roles.set(e.name, {
        value: compileRole(roleSchema.parse(JSON.parse(e.doc)), deps.accountId),
        source: 'api',
        doc: e.doc,
      });
    } catch {
      deps.logger.warn('ignoring a stored role that no longer validates', { role: e.name });
    }
  }
  for (const [name, entry] of roles) if (entry.source === 'api' && !seen.has(name)) roles.delete(name);
}

function requireApiManaged({ issuers, roles }: Entries, kind: AuthEntryKind, name: string): void {
  const entry = kind === 'issuer' ? issuers.get(name) : roles.get(name);
  if (entry?.source === 'config') {
    throw new AppError(
      'ValidationException',
      `The ${kind} ${name} is defined in the server config file; change it there.`,
    );
  }
}

/** A stored document, or undefined when it is not JSON (then it fails validation like any other bad entry). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
