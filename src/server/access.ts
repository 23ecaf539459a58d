// One request's authorization: resolves each declared resource, decides it against the caller's role
// and the resource's policy, and remembers what was decided for the audit record.
import { type Directory, decide, grantCaller, type Identity } from '../auth/index.js';
import type { Access, AccessCheck, ResourceRef } from '../core/access.js';
import { AppError } from '../core/errors.js';
import type { ResolveResource } from './resources.js';

export class RequestAccess implements Access {
  /** The first check made, or the one refused: what the audit record names. */
  action: string | undefined;
  resource: string | undefined;
  decision: 'allow' | 'deny' | 'none' = 'none';

  constructor(
    readonly identity: Identity,
    private readonly directory: Directory,
    private readonly accountId: string,
    private readonly resolve: ResolveResource,
  ) {}

  refusal(check: AccessCheck): AppError | undefined {
    const { identity } = this;
    const policy = identity.kind === 'role' ? this.directory.role(identity.role)?.policy : undefined;
    const d = decide(identity, policy, check, this.accountId);
    if (this.action === undefined) {
      this.action = check.action;
      this.resource = check.resource;
    }
    if (d.allowed) return undefined;
    const why = d.reason === 'explicit-deny' ? 'with an explicit deny in a policy' : 'because no policy allows it';
    return new AppError(
      'AccessDeniedException',
      `User: ${identity.arn} is not authorized to perform: ${check.action} on resource: ${check.named ?? check.resource} ${why}`,
    );
  }

  require(check: AccessCheck): void {
    const refused = this.refusal(check);
    if (refused) {
      this.action = check.action;
      this.resource = check.resource;
      this.decision = 'deny';
      throw refused;
    }
    if (this.decision === 'none') this.decision = 'allow';
  }

  /** A key check the policies refuse, with the key's grants naming the caller: they may allow it. */
  private async withGrants(check: AccessCheck): Promise<AccessCheck> {
    const { identity } = this;
    if (!check.grant || identity.kind !== 'role') return check;
    const policy = this.directory.role(identity.role)?.policy;
    if (decide(identity, policy, check, this.accountId).reason !== 'implicit-deny') return check;
    const caller = grantCaller(identity, this.accountId);
    const grants = await check.grant.lookup([...caller.arns, ...caller.account]);
    return { ...check, grant: { ...check.grant, grants } };
  }

  async authorize(resources: readonly ResourceRef[]): Promise<void> {
    for (const ref of resources) {
      const check = await this.resolve(ref);
      if (check) this.require(await this.withGrants(check));
    }
  }

  async refusalOf(resources: readonly ResourceRef[]): Promise<AppError | undefined> {
    for (const ref of resources) {
      const check = await this.resolve(ref);
      const refused = check && this.refusal(await this.withGrants(check));
      if (refused) return refused;
    }
    return undefined;
  }
}
