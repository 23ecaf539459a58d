// Resolves the resources an operation declares to access checks: each one's ARN and resource policy.
//
// A reference to nothing that exists is checked against the ARN it names, so a caller without
// access learns nothing about what exists; one with access then gets the operation's not-found.
import type { AccessCheck, ConditionKeys, GrantScope, ResourceRef } from '../core/access.js';
import { aliasArn, keyArn, parseKeyRef } from '../core/arn.js';
import { AppError } from '../core/errors.js';
import { GRANT_OPERATIONS, type KeyRecord, type KmsEngine } from '../kms/index.js';
import type { SecretRecord, SecretsEngine } from '../secrets/index.js';

/** The check a declared resource asks for, or undefined when there is nothing to check. */
export type ResolveResource = (ref: ResourceRef) => Promise<AccessCheck | undefined>;

/** What resolving reads: the engines, and the service name a secret's key is used through. */
interface Lookup {
  kms: KmsEngine;
  secrets: SecretsEngine;
  viaService: string;
}

export function createResourceResolver(kms: KmsEngine, secrets: SecretsEngine): ResolveResource {
  const e: Lookup = { kms, secrets, viaService: `secretsmanager.${kms.partition.region}.amazonaws.com` };
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
        return { action: ref.action, resource: aliasArn(kms.partition, ref.alias) };
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

async function findKey({ kms }: Lookup, ref: string): Promise<KeyRecord | undefined> {
  try {
    return await kms.cachedKey(ref);
  } catch (e) {
    if (e instanceof AppError && e.code === 'NotFoundException') return undefined;
    throw e;
  }
}

async function findSecret({ secrets }: Lookup, id: string): Promise<SecretRecord | undefined> {
  try {
    return await secrets.cachedSecret(id);
  } catch (e) {
    if (e instanceof AppError && e.code === 'ResourceNotFoundException') return undefined;
    throw e;
  }
}

function keyCheck({ kms }: Lookup, action: string, key: KeyRecord, context: ConditionKeys | undefined): AccessCheck {
  const check: AccessCheck = {
    action,
    resource: kms.arnOf(key.keyId),
    resourcePolicy: { document: key.policy, kind: 'kms-key' },
  };
  if (context) check.context = context;
  return check;
}

/** The ARN a key reference names, for a key that does not exist. */
function refArn({ kms }: Lookup, ref: string): string {
  const parsed = parseKeyRef(kms.partition, ref);
  if (parsed.kind === 'key') return keyArn(kms.partition, parsed.keyId);
  if (parsed.kind === 'alias') return aliasArn(kms.partition, parsed.name);
  // Checked as named: a caller allowed on it learns it is not served here, others are refused.
  if (parsed.kind === 'elsewhere') return parsed.arn;
  return '*';
}

/** A key by id, ARN or alias: its own ARN and policy, noting the name the caller used when it differs. */
async function keyResource(e: Lookup, ref: Extract<ResourceRef, { kind: 'key' }>): Promise<AccessCheck> {
  if (ref.key === undefined) return { action: ref.action, resource: '*', ...(ref.context && { context: ref.context }) };
  const key = await findKey(e, ref.key);
  const named = refArn(e, ref.key);
  if (!key) return { action: ref.action, resource: named, ...(ref.context && { context: ref.context }) };
  const check = keyCheck(e, ref.action, key, ref.context);
  if (named !== check.resource) check.named = named;
  if (GRANTABLE.has(ref.action)) check.grant = grantScope(e, check.resource, ref);
  return check;
}

/** The actions a grant can allow (kms:<GrantOperation>). */
const GRANTABLE = new Set(GRANT_OPERATIONS.map((op) => `kms:${op}`));

/**
 * The key's grants, read only if the policies refuse: those to the caller as grantee; RetireGrant:
 * only the grant retired (its retiring principal or its grantee may retire it).
 */
function grantScope({ kms }: Lookup, keyArn: string, ref: Extract<ResourceRef, { kind: 'key' }>): GrantScope {
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
  const named = e.secrets.arnForMissing(ref.secret);
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
  const { kms, secrets } = e;
  const secret = await findSecret(e, ref.secret);
  let keyRef = ref.key;
  if (keyRef === undefined && secret) {
    keyRef = ref.version
      ? await secrets.versionKey(secret.arn, ref.version.versionId, ref.version.versionStage)
      : secret.kmsKeyId;
  }
  if (keyRef === undefined) return undefined;
  const key = await findKey(e, keyRef);
  if (!key) return { action: ref.action, resource: refArn(e, keyRef) };
  if (kms.arnOf(key.keyId) === (await secrets.defaultKey())) return undefined;
  const context: Record<string, string> = { 'kms:viaservice': e.viaService };
  if (secret) context['kms:encryptioncontext:SecretARN'] = secret.arn;
  return keyCheck(e, ref.action, key, context);
}
