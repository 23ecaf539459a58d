// Whether a KMS grant allows a request the policies did not: AWS's grant semantics, pure.
//
// A grant allows its operations on its key to its grantee principal: the action kms:<Operation>
// only (a Decrypt grant does not allow Encrypt). Its encryption-context constraint must hold for
// operations that take a context (Equals: the request's context is exactly the constraint's;
// Subset: it contains every pair of it); DescribeKey and RetireGrant ignore the constraint, any
// other operation under a constraint is refused. CreateGrant in a grant allows creating grants
// with a subset of its operations and an equally strict or stricter constraint. A grant is
// retired by its retiring principal, or by its grantee when it lists RetireGrant. A grant to an
// account (arn:…:root or the account id) needs the caller's role policy to allow the action too.
import { type AccessCheck, encryptionContextOf, type GrantAllowance } from '../core/access.js';

/** The operations whose requests carry an encryption context. */
const WITH_CONTEXT = new Set([
  'Encrypt',
  'Decrypt',
  'ReEncryptFrom',
  'ReEncryptTo',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
]);

/** Who the caller is to a grant: the ARNs it is known by, and its account (honoured if `delegated`). */
export interface GrantCaller {
  arns: readonly string[];
  account: readonly string[];
  /** The caller's role policy allows the action (a grant to an account needs that). */
  delegated: boolean;
}

export function grantsAllow(req: AccessCheck, caller: GrantCaller): boolean {
  const grants = req.grant?.grants;
  if (!grants || !req.action.startsWith('kms:')) return false;
  const operation = req.action.slice(4);
  return grants.some((g) => grantAllows(g, operation, req, caller));
}

function names(principal: string | undefined, c: GrantCaller): boolean {
  if (principal === undefined) return false;
  return c.arns.includes(principal) || (c.delegated && c.account.includes(principal));
}

function grantAllows(g: GrantAllowance, operation: string, req: AccessCheck, caller: GrantCaller): boolean {
  if (operation === 'RetireGrant') {
    return (
      names(g.retiringPrincipal, caller) || (names(g.granteePrincipal, caller) && g.operations.includes(operation))
    );
  }
  if (!names(g.granteePrincipal, caller) || !g.operations.includes(operation)) return false;
  if (operation === 'DescribeKey') return true;
  if (operation === 'CreateGrant') return req.grant?.requested !== undefined && isNarrower(req.grant.requested, g);
  if (g.constraints === undefined) return true;
  if (!WITH_CONTEXT.has(operation)) return false;
  return contextSatisfies(encryptionContextOf(req.context), g.constraints);
}

type Constraints = NonNullable<GrantAllowance['constraints']>;
type Pairs = Readonly<Record<string, string>>;

/** Every pair of `part` is in `whole`. */
const contains = (whole: Pairs, part: Pairs): boolean =>
  Object.entries(part).every(([k, v]) => Object.hasOwn(whole, k) && whole[k] === v);
const same = (a: Pairs, b: Pairs): boolean => Object.keys(a).length === Object.keys(b).length && contains(a, b);

export function contextSatisfies(context: Pairs, c: Constraints): boolean {
  if (c.EncryptionContextEquals !== undefined && !same(context, c.EncryptionContextEquals)) return false;
  if (c.EncryptionContextSubset !== undefined && !contains(context, c.EncryptionContextSubset)) return false;
  return true;
}

/**
 * `child` asks for no operation `parent` lacks, under constraints at least as strict as each of
 * `parent`'s (a parent may set both Equals and Subset: the child must honour both).
 */
export function isNarrower(child: GrantAllowance, parent: GrantAllowance): boolean {
  if (!child.operations.every((op) => parent.operations.includes(op))) return false;
  const p = parent.constraints ?? {};
  const c = child.constraints ?? {};
  if (p.EncryptionContextEquals !== undefined) {
    if (c.EncryptionContextEquals === undefined || !same(c.EncryptionContextEquals, p.EncryptionContextEquals)) {
      return false;
    }
  }
  if (p.EncryptionContextSubset !== undefined) {
    // Either child constraint confines every context it allows to one holding its pairs.
    const parts = [c.EncryptionContextEquals, c.EncryptionContextSubset];
    if (!parts.some((x) => x !== undefined && contains(x, p.EncryptionContextSubset!))) return false;
  }
  return true;
}
