// Readiness and health: whether the change stream is live, the last error, and each configured secret's state and age.
import type { AgentSecretConfig } from './config.js';
import type { ReloadStatus } from './reload.js';
import type { CachedSecret } from './secret-cache.js';

export interface AgentStatus {
  ready: boolean;
  server: string;
  connected: boolean;
  lastError?: string;
  secrets: Record<string, { versionId?: string; ageSeconds?: number; written: boolean; error?: string }>;
  reload?: ReloadStatus;
}

/** What the status reads from the other parts of the agent. */
export interface StatusSources {
  secrets: readonly AgentSecretConfig[];
  cached: (secretId: string) => CachedSecret | undefined;
  /** Secrets whose files were written at least once. */
  written: ReadonlySet<string>;
  /** Why a secret is not current, by id. */
  problems: ReadonlyMap<string, string>;
  server: string;
  reload?: ReloadStatus;
}

export class AgentHealth {
  #connected = false;
  /** When the stream last went down (or the agent started): ages count from here while it is down. */
  #disconnectedAt: number;
  #lastError: string | undefined;

  constructor(private readonly now: () => number) {
    this.#disconnectedAt = now();
  }

  get connected(): boolean {
    return this.#connected;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Something failed (login, stream, file write): shown in the status until the stream is live again. */
  fail(error: string): void {
    this.#lastError = error;
  }

  streamUp(): void {
    this.#connected = true;
    this.#lastError = undefined;
  }

  streamDown(): void {
    if (this.#connected) this.#disconnectedAt = this.now();
    this.#connected = false;
  }

  /** Seconds since `fetchedAt`, or 0 while the watch stream is live. */
  ageSeconds(secret: CachedSecret): number {
    if (this.#connected) return 0;
    return Math.max(0, Math.floor((this.now() - Math.max(secret.fetchedAt, this.#disconnectedAt)) / 1000));
  }

  /** Ready once every configured secret was written (or fetched, for those without a file). */
  status(from: StatusSources): AgentStatus {
    const secrets: AgentStatus['secrets'] = {};
    for (const s of from.secrets) {
      const c = from.cached(s.id);
      secrets[s.id] = {
        written: s.path ? from.written.has(s.id) : c !== undefined,
        ...(c && { versionId: c.versionId, ageSeconds: this.ageSeconds(c) }),
        ...(from.problems.has(s.id) && { error: from.problems.get(s.id) }),
      };
    }
    return {
      ready: Object.values(secrets).every((s) => s.written),
      server: from.server,
      connected: this.#connected,
      ...(this.#lastError !== undefined && { lastError: this.#lastError }),
      secrets,
      ...(from.reload && { reload: from.reload }),
    };
  }
}
