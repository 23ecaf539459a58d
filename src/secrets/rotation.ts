// Secret rotation: RotateSecret, the scheduler's due rotations, and the crash-safe four-step runner,
// composed from rotation/ (start, runner, steps, the strategies' context, failures, pins, principal).
//
// A rotation is persisted on the secret as `rotation.inProgress = {token, step, attempts,
// nextAttemptAt}`. Before running a step the runner claims it by pushing nextAttemptAt one lease
// ahead (a revision-checked write, so only one replica wins); after the step it records the next
// step. A crash leaves the claim to expire and the step runs again: steps are idempotent, as AWS
// requires of rotation Lambdas. A failed step keeps AWSCURRENT untouched, records the failure and
// retries with backoff; after MAX_ATTEMPTS it is abandoned and AWSPENDING removed. Every write is
// one of the engine's named rotation operations.
//
// A rotation acts as the principal that called RotateSecret last (recorded on the secret), never
// with the server's rights: every read and write a step makes goes through the injected
// authorizer, which evaluates that principal's policy as it stands now and audits the decision.
//
// A strategy that acts on a destination named in the value (PostgreSQL: server, database, user,
// master secret) has it pinned by that same RotateSecret, read as its caller; every step refuses an
// AWSCURRENT or AWSPENDING that names another (rotation/pin.ts).
import { createContextFor } from './rotation/context.js';
import type { RotationDeps } from './rotation/ports.js';
import { createPrincipalReads } from './rotation/principal.js';
import { createRotationRunner } from './rotation/runner.js';
import { type RotateSecretInput, startRotation } from './rotation/start.js';
import { createStepRunner } from './rotation/steps.js';
import type { SecretRecord } from './store.js';

export { MAX_ATTEMPTS } from './rotation/failure.js';
export {
  DEFAULT_ROTATION_LEASE_MS,
  type RotationAuthorizer,
  type RotationDeps,
  type RotationKeys,
} from './rotation/ports.js';
export { rotationPrincipalOf } from './rotation/principal.js';
export { rotatorFor } from './rotation/strategies.js';

export type Rotation = ReturnType<typeof createRotation>;

export function createRotation(deps: RotationDeps) {
  const reads = createPrincipalReads(deps);
  const runner = createRotationRunner(deps, createStepRunner(deps, createContextFor(deps, reads)));
  const rotateSecret = (secretId: string, input: RotateSecretInput) =>
    startRotation(deps, reads, runner.kick, secretId, input);

  return {
    rotateSecret,
    cancelRotateSecret: (secretId: string): Promise<{ secret: SecretRecord; versionId?: string }> =>
      deps.engine.cancelRotation(secretId),
    /** Starts due scheduled rotations and resumes due steps (after a crash or a failure's backoff). */
    runDue: (now: number, limit = 100): Promise<number> => runner.runDue(now, limit, (arn) => rotateSecret(arn, {})),
    /** Waits for the rotations this process is running (tests and graceful shutdown). */
    idle: runner.idle,
  };
}
