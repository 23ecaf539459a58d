// keysafe_secret: a Secrets Manager secret. Its value comes from the write-only `value_wo` (never in plan
// or state; a new `value_wo_version` stores `value_wo` as a new version) or from the plain sensitive
// `value` (kept in state, for users who accept that). A `rotation` block sets the rotation strategy
// (RotationLambdaARN `keysafe:rotation:<strategy>[?settings]`) and schedule through RotateSecret with
// RotateImmediately false, so applying never rotates by itself; removing the block cancels rotation.
import { isNotFound, type KeysafeClient } from '../client.js';
import { type CtyObject, type CtyValue, ctyEqual, UNKNOWN } from '../cty.js';
import type { Diagnostic, ResourceDefinition } from '../definitions.js';
import { attr } from '../schema.js';
import { num, rangeDiagnostic, str, strMap, tagChanges, tagsState } from './common.js';

interface Described {
  ARN: string;
  Name: string;
  Description?: string;
  KmsKeyId?: string;
  DeletedDate?: number;
  RotationEnabled?: boolean;
  RotationLambdaARN?: string;
  RotationRules?: { AutomaticallyAfterDays?: number; ScheduleExpression?: string; Duration?: string };
  Tags?: { Key: string; Value: string }[];
  VersionIdsToStages?: Record<string, string[]>;
}

export async function describeSecret(client: KeysafeClient, id: string): Promise<Described | null> {
  try {
    const d = await client.sm<Described>('DescribeSecret', { SecretId: id });
    return d.DeletedDate !== undefined ? null : d;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

const STRATEGY_PREFIX = 'keysafe:rotation:';
const STRATEGIES = ['random-password', 'postgres:single-user', 'postgres:alternating-users', 'webhook:<url>'];
/** random-password settings, passed as the strategy URI's query (see rotatorFor in src/secrets/rotation/strategies.ts). */
const RANDOM_PASSWORD_SETTINGS = ['field', 'length', 'exclude-characters', 'exclude-punctuation'];

/** The RotationLambdaARN for a rotation block: `keysafe:rotation:<strategy>[?<settings>]`. */
export function strategyUri(rotation: CtyObject): string {
  const strategy = String(rotation.strategy);
  const base = strategy.startsWith(STRATEGY_PREFIX) ? strategy : `${STRATEGY_PREFIX}${strategy}`;
  const settings = strMap(rotation.settings) ?? {};
  const query = new URLSearchParams(Object.entries(settings).sort(([a], [b]) => a.localeCompare(b))).toString();
  return query ? `${base}?${query}` : base;
}

/** The rotation block as the server describes it; the configured spelling of the strategy is kept. */
function rotationState(d: Described, prior: CtyValue | undefined): CtyValue {
  if (!d.RotationEnabled || !d.RotationLambdaARN) return null;
  const p = prior !== null && typeof prior === 'object' && !Array.isArray(prior) ? (prior as CtyObject) : undefined;
  const [base, query] = d.RotationLambdaARN.split('?', 2) as [string, string | undefined];
  const settings = Object.fromEntries(new URLSearchParams(query ?? ''));
  const priorStrategy = str(p?.strategy);
  const strategy =
    priorStrategy !== undefined && (priorStrategy === base || `${STRATEGY_PREFIX}${priorStrategy}` === base)
      ? priorStrategy
      : base.startsWith(STRATEGY_PREFIX)
        ? base.slice(STRATEGY_PREFIX.length)
        : base;
  const rules = d.RotationRules ?? {};
  return {
    strategy,
    settings: Object.keys(settings).length === 0 && (p?.settings ?? null) === null ? null : settings,
    schedule_expression: rules.ScheduleExpression ?? null,
    automatically_after_days: rules.AutomaticallyAfterDays ?? null,
    duration: rules.Duration ?? null,
  };
}

function rotationRules(rotation: CtyObject) {
  const days = num(rotation.automatically_after_days);
  return {
    ...(str(rotation.schedule_expression) !== undefined && { ScheduleExpression: str(rotation.schedule_expression) }),
    ...(days !== undefined && { AutomaticallyAfterDays: days }),
    ...(str(rotation.duration) !== undefined && { Duration: str(rotation.duration) }),
  };
}

/** Brings the server's rotation in line with the block: RotateSecret (not immediately) or CancelRotateSecret. */
async function applyRotation(client: KeysafeClient, id: string, rotation: CtyValue | undefined, had: boolean) {
  if (rotation !== null && rotation !== undefined && typeof rotation === 'object' && !Array.isArray(rotation)) {
    await client.sm('RotateSecret', {
      SecretId: id,
      RotationLambdaARN: strategyUri(rotation as CtyObject),
      RotationRules: rotationRules(rotation as CtyObject),
      RotateImmediately: false,
    });
  } else if (had) {
    await client.sm('CancelRotateSecret', { SecretId: id });
  }
}

function rotationDiagnostics(config: CtyObject): Diagnostic[] {
  const r = config.rotation;
  if (r === null || r === undefined || typeof r !== 'object' || Array.isArray(r)) return [];
  const rotation = r as CtyObject;
  const diags: Diagnostic[] = [];
  const strategy = str(rotation.strategy);
  if (strategy !== undefined) {
    const name = strategy.startsWith(STRATEGY_PREFIX) ? strategy.slice(STRATEGY_PREFIX.length) : strategy;
    const known =
      name === 'random-password' ||
      name === 'postgres:single-user' ||
      name === 'postgres:alternating-users' ||
      /^webhook:https?:\/\/\S+$/.test(name);
    if (!known) {
      diags.push({
        severity: 'error',
        summary: 'Invalid rotation strategy',
        detail: `strategy must be one of ${STRATEGIES.join(', ')}; got "${strategy}".`,
        path: ['rotation', 'strategy'],
      });
    }
    const settings = Object.keys(strMap(rotation.settings) ?? {});
    const allowed = name === 'random-password' ? RANDOM_PASSWORD_SETTINGS : [];
    const unknown = settings.filter((k) => !allowed.includes(k));
    if (known && unknown.length > 0) {
      diags.push({
        severity: 'error',
        summary: 'Invalid rotation settings',
        detail:
          allowed.length > 0
            ? `The ${name} strategy takes the settings ${allowed.join(', ')}; got ${unknown.join(', ')}.`
            : `The ${name} strategy takes no settings; got ${unknown.join(', ')}.`,
        path: ['rotation', 'settings'],
      });
    }
  }
  if ((rotation.schedule_expression === null) === (rotation.automatically_after_days === null)) {
    diags.push({
      severity: 'error',
      summary: 'Invalid rotation schedule',
      detail: 'Set exactly one of schedule_expression (rate(…) or cron(…)) and automatically_after_days.',
      path: ['rotation'],
    });
  }
  const days = num(rotation.automatically_after_days);
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 1000)) {
    diags.push({
      severity: 'error',
      summary: 'Invalid automatically_after_days',
      detail: `automatically_after_days must be an integer from 1 to 1000, got ${days}.`,
      path: ['rotation', 'automatically_after_days'],
    });
  }
  return diags;
}

/** The AWSCURRENT value, for drift detection of the plain `value`. */
async function currentValue(client: KeysafeClient, id: string): Promise<string | null> {
  try {
    const v = await client.sm<{ SecretString?: string }>('GetSecretValue', { SecretId: id });
    return v.SecretString ?? null;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

async function readSecret(client: KeysafeClient, id: string, prior: CtyObject): Promise<CtyObject | null> {
  const d = await describeSecret(client, id);
  if (!d) return null;
  const current = Object.entries(d.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'));
  const priorKey = str(prior.kms_key_id);
  const sameKey =
    priorKey !== undefined &&
    d.KmsKeyId !== undefined &&
    (priorKey === d.KmsKeyId || d.KmsKeyId.endsWith(`/${priorKey}`) || priorKey.endsWith(`/${d.KmsKeyId}`));
  return {
    id: d.ARN,
    arn: d.ARN,
    name: d.Name,
    description: d.Description ?? null,
    kms_key_id: sameKey ? priorKey : (d.KmsKeyId ?? null),
    recovery_window_in_days: prior.recovery_window_in_days ?? null,
    tags: tagsState(Object.fromEntries((d.Tags ?? []).map((t) => [t.Key, t.Value])), prior.tags),
    value_wo: null,
    value_wo_version: prior.value_wo_version ?? null,
    // The plain value is read back only when it is managed (in state): that is what drift means for it.
    value: typeof prior.value === 'string' ? await currentValue(client, d.ARN) : null,
    version_id: current?.[0] ?? null,
    rotation: rotationState(d, prior.rotation),
  };
}

export const secret: ResourceDefinition = {
  typeName: 'keysafe_secret',
  schema: {
    version: 0,
    description: 'A Keysafe (Secrets Manager) secret. The value is write-only: it never reaches plan or state.',
    attributes: {
      id: attr.string('The secret ARN.', { computed: true }),
      arn: attr.string('The secret ARN.', { computed: true }),
      name: attr.string('The secret name.', { required: true, forceNew: true }),
      description: attr.string('Description.', { optional: true }),
      kms_key_id: attr.string('KMS key (id, ARN or alias) that encrypts the value; default the server’s.', {
        optional: true,
      }),
      recovery_window_in_days: attr.number('Days (7–30) a destroyed secret can be restored; 0 deletes at once.', {
        optional: true,
      }),
      tags: attr.stringMap('Tags.', { optional: true }),
      value_wo: attr.string('The secret value (write-only, Terraform ≥ 1.11): never stored in plan or state.', {
        optional: true,
        writeOnly: true,
      }),
      value_wo_version: attr.number('Change it to store value_wo again as a new version.', { optional: true }),
      value: attr.string('The secret value, stored in plan and state (sensitive); prefer value_wo.', {
        optional: true,
        sensitive: true,
      }),
      version_id: attr.string('The AWSCURRENT version id.', { computed: true }),
    },
    blocks: {
      rotation: {
        description: 'Automatic rotation: a Keysafe strategy and a schedule. Applying never rotates at once.',
        attributes: {
          strategy: attr.string(
            'random-password, postgres:single-user, postgres:alternating-users or webhook:<url> (keysafe:rotation: prefix optional).',
            { required: true },
          ),
          settings: attr.stringMap(
            'Strategy settings; random-password takes field, length, exclude-characters, exclude-punctuation.',
            { optional: true },
          ),
          schedule_expression: attr.string('rate(N days|hours) or cron(…), UTC.', { optional: true }),
          automatically_after_days: attr.number('Rotate every N days (1–1000).', { optional: true }),
          duration: attr.string('Length of the rotation window, e.g. 3h.', { optional: true }),
        },
      },
    },
  },
  validate(config) {
    const diags = [];
    const window = num(config.recovery_window_in_days);
    if (window !== 0) diags.push(...rangeDiagnostic(config, 'recovery_window_in_days', 7, 30));
    if (config.value_wo !== null && config.value_wo_version === null) {
      diags.push({
        severity: 'error' as const,
        summary: 'Missing value_wo_version',
        detail:
          'value_wo is write-only, so Terraform cannot see it change: set value_wo_version, and bump it to store a new value.',
        path: ['value_wo_version'],
      });
    }
    if (config.value !== null && config.value_wo !== null) {
      diags.push({
        severity: 'error' as const,
        summary: 'Conflicting value and value_wo',
        detail: 'Set either value (kept in state) or value_wo (write-only, never in state), not both.',
        path: ['value'],
      });
    }
    diags.push(...rotationDiagnostics(config));
    return diags;
  },
  modifyPlan({ prior, planned }) {
    if (
      prior &&
      (num(prior.value_wo_version) !== num(planned.value_wo_version) ||
        (typeof planned.value === 'string' && planned.value !== prior.value))
    ) {
      planned.version_id = UNKNOWN;
    }
  },
  async create(client, planned, config) {
    const tags = strMap(planned.tags);
    const value = str(config.value_wo) ?? str(planned.value);
    const created = await client.sm<{ ARN: string }>('CreateSecret', {
      Name: String(planned.name),
      ...(str(planned.description) !== undefined && { Description: str(planned.description) }),
      ...(str(planned.kms_key_id) !== undefined && { KmsKeyId: str(planned.kms_key_id) }),
      ...(value !== undefined && { SecretString: value }),
      ...(tags && { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
    });
    await applyRotation(client, created.ARN, planned.rotation, false);
    const state = await readSecret(client, created.ARN, planned);
    if (!state) throw new Error(`secret ${String(planned.name)} vanished right after it was created`);
    return state;
  },
  read: (client, state) => readSecret(client, String(state.id), state),
  async update(client, prior, planned, config) {
    const id = String(prior.id);
    if (planned.description !== prior.description || planned.kms_key_id !== prior.kms_key_id) {
      await client.sm('UpdateSecret', {
        SecretId: id,
        Description: str(planned.description) ?? '',
        ...(str(planned.kms_key_id) !== undefined && { KmsKeyId: str(planned.kms_key_id) }),
      });
    }
    const value = str(config.value_wo);
    if (value !== undefined && num(planned.value_wo_version) !== num(prior.value_wo_version)) {
      await client.sm('PutSecretValue', { SecretId: id, SecretString: value });
    }
    const plain = str(planned.value);
    if (plain !== undefined && plain !== prior.value) {
      await client.sm('PutSecretValue', { SecretId: id, SecretString: plain });
    }
    if (!ctyEqual(prior.rotation, planned.rotation)) {
      await applyRotation(client, id, planned.rotation, prior.rotation !== null);
    }
    const { set, removed } = tagChanges(prior.tags, planned.tags);
    if (set.length > 0) {
      await client.sm('TagResource', { SecretId: id, Tags: set.map(([Key, Value]) => ({ Key, Value })) });
    }
    if (removed.length > 0) await client.sm('UntagResource', { SecretId: id, TagKeys: removed });
    const state = await readSecret(client, id, planned);
    if (!state) throw new Error(`secret ${id} is gone`);
    return state;
  },
  async delete(client, prior) {
    const window = num(prior.recovery_window_in_days);
    try {
      await client.sm('DeleteSecret', {
        SecretId: String(prior.id),
        ...(window === 0
          ? { ForceDeleteWithoutRecovery: true }
          : window !== undefined
            ? { RecoveryWindowInDays: window }
            : {}),
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
};
