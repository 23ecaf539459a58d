// The key policy lockout check's view of the account root: whether a resource policy still lets it act. Pure.
import { compilePolicy, evaluatePolicy } from './policy.js';

/**
 * Whether `document` (a key policy) lets the account root do `action` on `resource`: allowed to the
 * root or the account directly (IAM allows the root everything) and denied by no statement. The
 * admin stands for the root here, as AWS's lockout check treats the account's root user.
 */
export function accountRootAllowed(document: string, action: string, resource: string, accountId: string): boolean {
  const verdict = evaluatePolicy(compilePolicy(document, 'resource', accountId), {
    action,
    resource,
    principals: [`arn:aws:iam::${accountId}:root`],
    lookup: () => undefined,
  });
  return !verdict.deny && (verdict.allow || verdict.delegated);
}
