// The key policy lockout safety check of PutKeyPolicy and CreateKey: a new policy must let the caller change it again.
import { accountRootAllowed } from '../../auth/index.js';
import type { Access } from '../../core/access.js';
import { AppError } from '../../core/errors.js';
import type { KmsEngine } from '../engine.js';

const LOCKOUT = 'The new key policy will not allow you to update the key policy in the future.';

/**
 * Refuses a key policy under which the caller could no longer call PutKeyPolicy on the key, unless
 * `BypassPolicyLockoutSafetyCheck` is set: a role through Keysafe's whole decision (its own policy and
 * the new key policy), the admin as AWS treats the account root. `resource` is the key's ARN.
 */
export function refuseLockout(
  engine: KmsEngine,
  access: Access,
  resource: string,
  document: string,
  bypass: boolean | undefined,
): void {
  if (bypass) return;
  const action = 'kms:PutKeyPolicy';
  const allowed =
    access.identity.kind === 'admin'
      ? accountRootAllowed(document, action, resource, engine.partition.accountId)
      : access.refusal({ action, resource, resourcePolicy: { document, kind: 'kms-key' } }) === undefined;
  if (!allowed) throw new AppError('MalformedPolicyDocumentException', LOCKOUT);
}
