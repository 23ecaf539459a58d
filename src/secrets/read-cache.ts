// The GetSecretValue read caches, grouped per secret so a write drops all of a secret's entries at once.
import type { SecretValue } from '../core/secret-value.js';
import type { SecretRecord, SecretVersionRecord } from './store.js';

interface Entry {
  record?: { secret: SecretRecord; at: number };
  /** Stage → the version it labelled when read. */
  stages: Map<string, { version: SecretVersionRecord; at: number }>;
  /** Version id → its decrypted value (versions are immutable: no expiry). */
  values: Map<string, SecretValue>;
}

/**
 * Records and stage lookups expire after `ttlMs` (another replica's writes show within it);
 * decrypted values live until the secret is written. At most `maxSecrets` secrets are held,
 * the least recently added first out.
 */
export class SecretReadCache {
  readonly #bySecret = new Map<string, Entry>();
  /** Name or ARN as the caller gave it → the secret's ARN. */
  readonly #arnById = new Map<string, string>();
  #generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxSecrets: number,
    private readonly now: () => number,
  ) {}

  record(id: string): SecretRecord | undefined {
    const arn = this.#arnById.get(id);
    const hit = arn === undefined ? undefined : this.#bySecret.get(arn)?.record;
    return hit && this.now() - hit.at <= this.ttlMs ? hit.secret : undefined;
  }

  /**
   * Changes at every invalidation: a lookup started before a write must not cache what it read
   * after the write dropped the entry. Take it before reading, give it to put*.
   */
  stamp(): number {
    return this.#generation;
  }

  putRecord(id: string, secret: SecretRecord, stamp = this.#generation): void {
    if (stamp !== this.#generation) return;
    if (this.#arnById.size >= this.maxSecrets * 4) this.#arnById.clear();
    this.#arnById.set(id, secret.arn);
    this.#entry(secret.arn).record = { secret, at: this.now() };
  }

  version(arn: string, stage: string): SecretVersionRecord | undefined {
    const hit = this.#bySecret.get(arn)?.stages.get(stage);
    return hit && this.now() - hit.at <= this.ttlMs ? hit.version : undefined;
  }

  putVersion(arn: string, stage: string, version: SecretVersionRecord, stamp = this.#generation): void {
    if (stamp !== this.#generation) return;
    this.#entry(arn).stages.set(stage, { version, at: this.now() });
  }

  value(arn: string, versionId: string): SecretValue | undefined {
    return this.#bySecret.get(arn)?.values.get(versionId);
  }

  putValue(arn: string, versionId: string, value: SecretValue): void {
    this.#entry(arn).values.set(versionId, value);
  }

  /** Forgets everything about a secret (after any write to it). */
  invalidate(arn: string): void {
    this.#generation++;
    this.#bySecret.delete(arn);
  }

  /** Forgets everything (changes may have been missed). */
  clear(): void {
    this.#generation++;
    this.#bySecret.clear();
    this.#arnById.clear();
  }

  #entry(arn: string): Entry {
    let entry = this.#bySecret.get(arn);
    if (!entry) {
      if (this.#bySecret.size >= this.maxSecrets) this.#bySecret.delete(this.#bySecret.keys().next().value!);
      entry = { stages: new Map(), values: new Map() };
      this.#bySecret.set(arn, entry);
    }
    return entry;
  }
}
