// The agent's secrets in memory: AWSCURRENT of each configured secret, and of a bounded number asked for on demand.
import type { FetchedSecret } from './client.js';

/** Secrets fetched for a local caller that are kept beyond the configured ones (the AWS agent's default cache size). */
export const ON_DEMAND_MAX = 1_000;

export interface CachedSecret {
  /** GetSecretValue's JSON for AWSCURRENT, and pre-serialized for the endpoint. */
  body: Record<string, unknown>;
  json: string;
  versionId: string;
  /** When the value was last known current (fetched, or confirmed by a live watch). */
  fetchedAt: number;
}

/** A fetched secret as kept, serialized once for the endpoint. */
export function cachedSecret(fetched: FetchedSecret, fetchedAt: number): CachedSecret {
  return { body: fetched.body, json: JSON.stringify(fetched.body), versionId: fetched.versionId, fetchedAt };
}

export class SecretCache {
  readonly #entries = new Map<string, CachedSecret>();
  /** The configured secrets' ids, in config order: always kept. */
  readonly #configured: readonly string[];
  readonly #configuredSet: ReadonlySet<string>;
  /** Secrets kept because a local caller asked for them, least recently asked first. */
  readonly #onDemand = new Set<string>();

  constructor(configuredIds: readonly string[]) {
    this.#configured = configuredIds;
    this.#configuredSet = new Set(configuredIds);
  }

  get(secretId: string): CachedSecret | undefined {
    return this.#entries.get(secretId);
  }

  has(secretId: string): boolean {
    return this.#entries.has(secretId);
  }

  set(secretId: string, entry: CachedSecret): void {
    this.#entries.set(secretId, entry);
  }

  /** Every secret the agent keeps current: the configured ones first, then those asked for. */
  ids(): string[] {
    return [...new Set([...this.#configured, ...this.#entries.keys()])];
  }

  /** A local caller asked again for a kept secret: it goes last in line for eviction. */
  touch(secretId: string): void {
    if (this.#onDemand.delete(secretId)) this.#onDemand.add(secretId);
  }

  /**
   * Keeps a secret a local caller asked for (and refreshes it with the others), as the AWS agent's cache
   * does, but no more than ON_DEMAND_MAX beyond the configured ones: the least recently asked goes first.
   */
  keep(secretId: string, entry: CachedSecret): void {
    this.#entries.set(secretId, entry);
    if (this.#configuredSet.has(secretId)) return;
    this.#onDemand.delete(secretId);
    this.#onDemand.add(secretId);
    if (this.#onDemand.size > ON_DEMAND_MAX) {
      const oldest = this.#onDemand.values().next().value!;
      this.#onDemand.delete(oldest);
      this.#entries.delete(oldest);
    }
  }
}
