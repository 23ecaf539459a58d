// keysafe_role: a workload role (trusted issuer, bound subjects/claims, IAM policy) via the admin API.
import { isNotFound, type KeysafeClient } from '../client.js';
import type { CtyObject } from '../cty.js';
import type { ResourceDefinition } from '../definitions.js';
import { attr } from '../schema.js';
import { jsonDiagnostic, sameJsonOr, str, strList, strMap } from './common.js';

interface RoleBody {
  name: string;
  arn: string;
  issuer: string;
  subjects: string[];
  claims?: Record<string, string | string[]>;
  sessionTtl?: string;
  policy: Record<string, unknown>;
}

const path = (name: string) => `/v1/admin/roles/${encodeURIComponent(name)}`;

async function readRole(client: KeysafeClient, name: string, prior: CtyObject): Promise<CtyObject | null> {
  let role: RoleBody;
  try {
    role = await client.admin<RoleBody>('GET', path(name));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
  const claims = role.claims
    ? Object.fromEntries(Object.entries(role.claims).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]))
    : undefined;
  return {
    id: role.name,
    name: role.name,
    arn: role.arn,
    issuer: role.issuer,
    subjects: role.subjects,
    claims: claims && (Object.keys(claims).length > 0 || prior.claims !== null) ? claims : null,
    session_ttl: role.sessionTtl ?? null,
    policy: sameJsonOr(prior.policy, JSON.stringify(role.policy)),
  };
}

async function putRole(client: KeysafeClient, planned: CtyObject): Promise<CtyObject> {
  const name = String(planned.name);
  const claims = strMap(planned.claims);
  const ttl = str(planned.session_ttl);
  await client.admin('PUT', path(name), {
    issuer: String(planned.issuer),
    subjects: strList(planned.subjects) ?? [],
    ...(claims && { claims }),
    ...(ttl !== undefined && { sessionTtl: ttl }),
    policy: JSON.parse(String(planned.policy)) as object,
  });
  const state = await readRole(client, name, planned);
  if (!state) throw new Error(`role ${name} vanished right after it was written`);
  return state;
}

export const role: ResourceDefinition = {
  typeName: 'keysafe_role',
  schema: {
    version: 0,
    description: 'A Keysafe workload role: tokens of a trusted issuer whose subject and claims match log in to it.',
    attributes: {
      id: attr.string('The role name.', { computed: true }),
      name: attr.string('The role name (IAM role name characters, 1–64).', { required: true, forceNew: true }),
      arn: attr.string('The role ARN.', { computed: true }),
      issuer: attr.string('Name of a trusted issuer on the server.', { required: true }),
      subjects: attr.stringList('Glob patterns on the token’s sub claim.', { required: true }),
      claims: attr.stringMap('Claim path → required value (glob).', { optional: true }),
      session_ttl: attr.string('Session lifetime such as 15m or 1h (1m–12h).', { optional: true }),
      policy: attr.string('The role’s IAM policy, JSON.', { required: true }),
    },
  },
  validate(config) {
    const diags = jsonDiagnostic(config, 'policy');
    const name = str(config.name);
    if (name !== undefined && !/^[\w+=,.@-]{1,64}$/.test(name)) {
      diags.push({
        severity: 'error',
        summary: 'Invalid name',
        detail: 'Role names are 1–64 letters, digits or +=,.@_- characters.',
        path: ['name'],
      });
    }
    return diags;
  },
  create: (client, planned) => putRole(client, planned),
  read: (client, state) => readRole(client, String(state.name ?? state.id), state),
  update: (client, _prior, planned) => putRole(client, planned),
  async delete(client, prior) {
    try {
      await client.admin('DELETE', path(String(prior.name)));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
  importState: (id) => ({ id, name: id }),
};
