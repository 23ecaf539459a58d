// Resolves the resources an operation declares to access checks: each one's ARN and resource policy.
//
// A reference to nothing that exists is checked against the ARN it names, so a caller without
// access learns nothing about what exists; one with access then gets the operation's not-found.
import type { AccessCheck, ConditionKeys, GrantScope, LocalResourceRef, ResourceRef } from '../core/access.js';
import { aliasArn, keyArn, type Partition, parseKeyRef } from '../core/arn.js';
import { AppError } from '../core/errors.js';
import { GRANT_OPERATIONS, type KeyRecord, type KmsEngine } from '../kms/index.js';
import type { SecretRecord, SecretsEngine } from '../secrets/index.js';

/** The check a declared resource asks for, or undefined when there is nothing to check. */
export type ResolveResource = (ref: ResourceRef) => Promise<AccessCheck | undefined>;

/** The same, for one region's resources (a region's engines). */
export type ResolveLocal = (ref: LocalResourceRef) => Promise<AccessCheck | undefined>;

/**
 * A request's resolver: its region's resources there, an `in-region` one in the region it names. Every
 * check carries aws:RequestedRegion, the region it is decided in (a global IAM condition key).
 */
export function acrossRegions(region: string, resolveIn: (region: string) => ResolveLocal): ResolveResource {
  return async (ref) => {
    const [where, local] = ref.kind === 'in-region' ? [ref.region, ref.resource] : [region, ref];
    const check = await resolveIn(where)(local);
    return check && { ...check, context: { ...check.context, 'aws:requestedregion': where } };
  };
}

/**
 * What resolving reads: the region's engines (none for a region not built, which holds nothing), its
 * partition, and the service name a secret's key is used through.
 */
interface Lookup {
  engines?: { kms: KmsEngine; secrets: SecretsEngine };
  partition: Partition;
  viaService: string;
}

export function createResourceResolver(kms: KmsEngine, secrets: SecretsEngine): ResolveLocal {
  return resolverOf({ engines: { kms, secrets }, partition: kms.partition });
}

/**
 * The resolver of a region not built: nothing exists there, so every check names the resource as
 * given; deciding it builds no engines (a caller refused there costs the server nothing).
 */
export function createEmptyRegionResolver(partition: Partition): ResolveLocal {
  return resolverOf({ partition });
}

function resolverOf(lookup: Omit<Lookup, 'viaService'>): ResolveLocal {
  const e: Lookup = { ...lookup, viaService: `secretsmanager.${lookup.partition.region}.amazonaws.com` };
  const { partition } = e;
  return async (ref) => {
    switch (ref.kind) {
      case 'any':
        return ref.context
          ? { action: ref.action, resource: '*', context: ref.context }
          : { action: ref.action, resource: '*' };
      case 'arn':
        return { action: ref.action, resource: ref.arn };
      case 'key':
        return keyResource(e, ref);
      case 'alias':
        return { action: ref.action, resource: aliasArn(partition, ref.alias) };
      case 'alias-target': {
        const key = await findKey(e, ref.alias);
        return key && keyCheck(e, ref.action, key, undefined);
      }
      case 'secret':
        return secretResource(e, ref);
      case 'secret-key':
        return secretKey(e, ref);
    }
  };
}

async function findKey({ engines }: Lookup, ref: string): Promise<KeyRecord | undefined> {
  if (!engines) return undefined;
  try {
    return await engines.kms.cachedKey(ref);
  } catch (e) {
    if (e instanceof AppError && e.code === 'NotFoundException') return undefined;
    throw e;
  }
}

async function findSecret({ engines }: Lookup, id: string): Promise<SecretRecord | undefined> {
  if (!engines) return undefined;
  try {
    return await engines.secrets.cachedSecret(id);
  } catch (e) {
    if (e instanceof AppError && e.code === 'ResourceNotFoundException') return undefined;
    throw e;
  }
}

function keyCheck(
  { partition }: Lookup,
  action: string,
  key: KeyRecord,
  context: ConditionKeys | undefined,
): AccessCheck {
  const check: AccessCheck = {
    action,
    resource: keyArn(partition, key.keyId),
    resourcePolicy: { document: key.policy, kind: 'kms-key' },
  };
  if (context) check.context = context;
  return check;
}

/** The ARN a secret name or ARN names when no such secret exists (no random suffix), as the engine's. */
const missingSecretArn = (p: Partition, id: string): string =>
  id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${p.region}:${p.accountId}:secret:${id}`;

/** The ARN a key reference names, for a key that does not exist. */
function refArn({ partition }: Lookup, ref: string): string {
  const parsed = parseKeyRef(partition, ref);
  if (parsed.kind === 'key') return keyArn(partition, parsed.keyId);
  if (parsed.kind === 'alias') return aliasArn(partition, parsed.name);
  // Checked as named: a caller allowed on it learns it is not served here, others are refused.
  if (parsed.kind === 'elsewhere') return parsed.arn;
  return '*';
}

/** A key policy allowing no one: what a role meets on another region's key, whose policy is not read here. */
const NO_KEY_POLICY = { document: '{"Version":"2012-10-17","Statement":[]}', kind: 'kms-key' } as const;

/**
 * The check for a key that does not exist in this region. Another region's key ARN is refused to
 * roles, not decided on their role policy alone: its key policy (which may deny them) lives there.
 */
function missingKey(e: Lookup, action: string, ref: string, context: ConditionKeys | undefined): AccessCheck {
  const check: AccessCheck = { action, resource: refArn(e, ref), ...(context && { context }) };
  const parsed = parseKeyRef(e.partition, ref);
  if (parsed.kind === 'elsewhere' && parsed.region !== e.partition.region) check.resourcePolicy = NO_KEY_POLICY;
  return check;
}

/** A key by id, ARN or alias: its own ARN and policy, noting the name the caller used when it differs. */
async function keyResource(e: Lookup, ref: Extract<ResourceRef, { kind: 'key' }>): Promise<AccessCheck> {
  if (ref.key === undefined) return { action: ref.action, resource: '*', ...(ref.context && { context: ref.context }) };
  const key = await findKey(e, ref.key);
  if (!key) return missingKey(e, ref.action, ref.key, ref.context);
  const named = refArn(e, ref.key);
  const check = keyCheck(e, ref.action, key, ref.context);
  if (named !== check.resource) check.named = named;
  if (GRANTABLE.has(ref.action) && e.engines) check.grant = grantScope(e.engines.kms, check.resource, ref);
  return check;
}

/** The actions a grant can allow (kms:<GrantOperation>). */
const GRANTABLE = new Set(GRANT_OPERATIONS.map((op) => `kms:${op}`));

/**
 * The key's grants, read only if the policies refuse: those to the caller as grantee; RetireGrant:
 * only the grant retired (its retiring principal or its grantee may retire it).
 */
function grantScope(kms: KmsEngine, keyArn: string, ref: Extract<ResourceRef, { kind: 'key' }>): GrantScope {
  const { grantId } = ref;
  const scope: GrantScope = {
    lookup: async (principals) => {
      if (ref.action !== 'kms:RetireGrant') return kms.grantsFor(keyArn, principals);
      const g = grantId === undefined ? undefined : await kms.grantOf(keyArn, grantId);
      return g ? [g] : [];
    },
  };
  if (ref.requestedGrant) scope.requested = ref.requestedGrant;
  return scope;
}

/** A secret by name or ARN: its ARN and resource policy, noting the name the caller used when it differs. */
async function secretResource(e: Lookup, ref: Extract<ResourceRef, { kind: 'secret' }>): Promise<AccessCheck> {
  const secret = await findSecret(e, ref.secret);
  const named = missingSecretArn(e.partition, ref.secret);
  const check: AccessCheck = { action: ref.action, resource: secret ? secret.arn : named };
  if (secret && named !== secret.arn) check.named = named;
  if (secret?.resourcePolicy !== undefined) check.resourcePolicy = { document: secret.resourcePolicy, kind: 'secret' };
  if (ref.context) check.context = ref.context;
  return check;
}

/** The customer-managed key protecting a secret's version (or its next one); none under the default key. */
async function secretKey(
  e: Lookup,
  ref: Extract<ResourceRef, { kind: 'secret-key' }>,
): Promise<AccessCheck | undefined> {
  const secret = await findSecret(e, ref.secret);
  let keyRef = ref.key;
  if (keyRef === undefined && secret && e.engines) {
    keyRef = ref.version
      ? await e.engines.secrets.versionKey(secret.arn, ref.version.versionId, ref.version.versionStage)
      : secret.kmsKeyId;
  }
  if (keyRef === undefined) return undefined;
  const key = await findKey(e, keyRef);
  if (!key || !e.engines) return missingKey(e, ref.action, keyRef, undefined);
  if (keyArn(e.partition, key.keyId) === (await e.engines.secrets.defaultKey())) return undefined;
  const context: Record<string, string> = { 'kms:viaservice': e.viaService };
  if (secret) context['kms:encryptioncontext:SecretARN'] = secret.arn;
  return keyCheck(e, ref.action, key, context);
}
