// What rotation is built from: the engine's reads and named rotation writes, read-only store access, the
// authorizer that acts as the rotation's principal, KMS key checks, the webhook policy, logs and metrics.
import type { AccessCheck } from '../../core/access.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { SecretsEngine } from '../engine.js';
import type { WebhookPolicy } from '../rotators/webhook.js';
import type { RotationPrincipalRecord, SecretsStore } from '../store.js';

export const DEFAULT_ROTATION_LEASE_MS = 5 * 60_000;

/** Authorizes one check as a rotation's principal and appends its audit record (source `rotation`). */
export interface RotationAuthorizer {
  /**
   * Resolves when `principal` may, by its policy as it stands now; otherwise (or with no principal,
   * or when the decision cannot be audited) throws an AppError whose message names the action and
   * the resource, never a value.
   */
  authorize(principal: RotationPrincipalRecord | undefined, check: AccessCheck): Promise<void>;
}

/** The KMS key checks a rotation needs: the key's ARN and policy, or undefined when there is no such key. */
export interface RotationKeys {
  keyCheck(ref: string): Promise<{ resource: string; policy: string } | undefined>;
}

/** The engine as rotation sees it: lookups, and its writes only through the named rotation operations. */
export type RotationEngine = Pick<
  SecretsEngine,
  | 'findLive'
  | 'cachedSecret'
  | 'arnForMissing'
  | 'startRotation'
  | 'cancelRotation'
  | 'claimRotationStep'
  | 'advanceRotationStep'
  | 'putPendingValue'
  | 'promotePending'
  | 'recordRotationFailure'
  | 'readRotationValue'
>;

/** Rotation reads the store directly (uncached, a claim must see the latest revision) and never writes it. */
export type RotationReads = Pick<SecretsStore, 'getSecretByArn' | 'getVersion' | 'getVersionByStage' | 'dueSecrets'>;

export interface RotationDeps {
  engine: RotationEngine;
  store: RotationReads;
  clock: Clock;
  logger: Logger;
  authorizer: RotationAuthorizer;
  keys: RotationKeys;
  webhooks: Omit<WebhookPolicy, 'logFailure'>;
  metrics?: Metrics;
  /** How long a claimed step may run before another runner may take it over (after a crash). */
  leaseMs?: number;
}
