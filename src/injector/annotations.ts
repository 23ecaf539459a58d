// Pod annotations (`keysafe.dev/…`) parsed into a typed injection spec; every error names the annotation.
import { ConfigError } from '../core/config-error.js';

export const PREFIX = 'keysafe.dev/';
export const INJECT = `${PREFIX}inject`;
/** Set by the injector on the pods it mutated; a pod carrying it is left alone (idempotence). */
export const STATUS = `${PREFIX}status`;
export const STATUS_INJECTED = 'injected';

export type InjectionMode = 'sidecar' | 'init-only';
export type SecretFormat = 'raw' | 'json' | 'env' | 'template';

export interface SecretSpec {
  /** The file name under the volume, from `secret-<name>`. */
  name: string;
  /** Secret name or ARN. */
  id: string;
  format?: SecretFormat;
  template?: string;
  /** Octal string such as "0400". */
  mode?: string;
  /** For `keysafe exec`: one variable, or {jsonField: ENV_NAME}. */
  env?: string | Record<string, string>;
}

export type OnChange =
  | { kind: 'signal'; signal: string; processName?: string }
  | { kind: 'command'; command: string }
  | { kind: 'http'; url: string }
  | { kind: 'restart'; processName?: string };

export interface ResourceSpec {
  cpuRequest?: string;
  memoryRequest?: string;
  cpuLimit?: string;
  memoryLimit?: string;
}

export interface InjectionSpec {
  role: string;
  secrets: SecretSpec[];
  mode: InjectionMode;
  onChange?: OnChange;
  server?: string;
  image?: string;
  runAsUser?: number;
  resources: ResourceSpec;
  audience?: string;
  tokenExpirationSeconds?: number;
}

/** Annotation suffixes (after the prefix) and what they hold: also the README table's source of truth. */
const SIMPLE_KEYS = new Set([
  'inject',
  'status',
  'role',
  'mode',
  'on-change',
  'server',
  'image',
  'run-as-user',
  'cpu-request',
  'memory-request',
  'cpu-limit',
  'memory-limit',
  'audience',
  'token-expiration-seconds',
]);
const PER_SECRET = /^(secret|format|template|mode|env)-(.+)$/;
/** A file name: no slash, no leading dot (the atomic writer owns `..*`), short enough for a label. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SIGNAL = /^(?:SIG)?([A-Z][A-Z0-9]*)$/;
const PROCESS_NAME = /^[^/\s]{1,64}$/;
const QUANTITY = /^\d+(?:\.\d+)?(?:m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;

/** The error for one annotation: names it and what was expected, never more than the annotation's own value. */
export class AnnotationError extends ConfigError {
  constructor(
    readonly annotation: string,
    message: string,
  ) {
    super(`annotation ${annotation}: ${message}`);
  }
}

/** True when the pod asks for injection (`keysafe.dev/inject: "true"`) and was not injected yet. */
export function wantsInjection(annotations: Readonly<Record<string, string>> | undefined): boolean {
  if (!annotations) return false;
  return isTrue(annotations[INJECT]) && annotations[STATUS] !== STATUS_INJECTED;
}

const isTrue = (v: string | undefined) => v !== undefined && ['true', 'yes', 'on', '1'].includes(v.toLowerCase());

/**
 * Parses the `keysafe.dev/` annotations of a pod that wants injection. Unknown `keysafe.dev/` keys are an
 * error (a typo such as `secrets-db` would otherwise silently deliver nothing).
 */
export function parseAnnotations(annotations: Readonly<Record<string, string>>): InjectionSpec {
  const secrets = parseSecrets(annotations);
  const get = (suffix: string) => {
    const v = annotations[PREFIX + suffix];
    return v === undefined ? undefined : v.trim();
  };
  const role = get('role');
  if (!role) throw new AnnotationError(`${PREFIX}role`, 'required: the Keysafe role the pod logs in as');

  const mode = get('mode') ?? 'sidecar';
  if (mode !== 'sidecar' && mode !== 'init-only') {
    throw new AnnotationError(`${PREFIX}mode`, 'expected sidecar or init-only');
  }
  const spec: InjectionSpec = { role, secrets, mode, resources: {} };
  for (const [suffix, apply] of OPTIONAL) {
    const value = get(suffix);
    if (value !== undefined) apply(spec, value, PREFIX + suffix);
  }
  return spec;
}

type Apply = (spec: InjectionSpec, value: string, key: string) => void;

const quantity =
  (field: keyof ResourceSpec): Apply =>
  (spec, v, key) => {
    if (!QUANTITY.test(v)) throw new AnnotationError(key, 'expected a Kubernetes quantity such as 50m or 64Mi');
    spec.resources[field] = v;
  };

/** The optional annotations, in the order they are checked: each validates its (trimmed) value into the spec. */
const OPTIONAL: readonly (readonly [suffix: string, apply: Apply])[] = [
  [
    'on-change',
    (spec, v, key) => {
      if (spec.mode === 'init-only') {
        throw new AnnotationError(key, 'needs mode sidecar: an init-only agent exits before any change');
      }
      spec.onChange = parseOnChange(v);
    },
  ],
  [
    'server',
    (spec, v, key) => {
      let ok = false;
      try {
        const url = new URL(v);
        ok = url.protocol === 'http:' || url.protocol === 'https:';
      } catch {}
      if (!ok) throw new AnnotationError(key, 'expected an http:// or https:// URL');
      spec.server = v;
    },
  ],
  [
    'image',
    (spec, v, key) => {
      if (v === '' || /\s/.test(v)) throw new AnnotationError(key, 'expected an image reference');
      spec.image = v;
    },
  ],
  [
    'run-as-user',
    (spec, v, key) => {
      if (!/^\d{1,10}$/.test(v) || Number(v) === 0 || Number(v) > 2 ** 31 - 1) {
        throw new AnnotationError(key, 'expected a non-zero uid (the agent never runs as root)');
      }
      spec.runAsUser = Number(v);
    },
  ],
  ['cpu-request', quantity('cpuRequest')],
  ['memory-request', quantity('memoryRequest')],
  ['cpu-limit', quantity('cpuLimit')],
  ['memory-limit', quantity('memoryLimit')],
  [
    'audience',
    (spec, v, key) => {
      if (v === '') throw new AnnotationError(key, 'must not be empty');
      spec.audience = v;
    },
  ],
  [
    'token-expiration-seconds',
    (spec, v, key) => {
      const n = /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
      if (!(n >= 600)) throw new AnnotationError(key, 'expected a number of seconds, at least 600');
      spec.tokenExpirationSeconds = n;
    },
  ],
];

/** The `secret-<name>` annotations and their `format-`, `template-`, `mode-` and `env-` companions, by file name. */
function parseSecrets(annotations: Readonly<Record<string, string>>): SecretSpec[] {
  const { secrets, extras } = collectSecrets(annotations);
  for (const extra of extras) applyExtra(secrets, extra);
  for (const secret of secrets.values()) {
    const at = `${PREFIX}template-${secret.name}`;
    if (secret.template !== undefined && secret.format === undefined) secret.format = 'template';
    if (secret.format === 'template' && secret.template === undefined) {
      throw new AnnotationError(at, `required when ${PREFIX}format-${secret.name} is template`);
    }
    if (secret.template !== undefined && secret.format !== 'template') {
      throw new AnnotationError(at, `only allowed when ${PREFIX}format-${secret.name} is template`);
    }
  }
  if (secrets.size === 0) {
    throw new AnnotationError(
      `${PREFIX}secret-<name>`,
      'at least one secret is required (e.g. keysafe.dev/secret-db: app/db)',
    );
  }
  return [...secrets.values()].sort((a, b) => a.name.localeCompare(b.name));
}

interface Extra {
  kind: string;
  name: string;
  key: string;
  value: string;
}

/** The secrets named, and the per-secret annotations to apply once all are known; unknown keys refused. */
function collectSecrets(annotations: Readonly<Record<string, string>>) {
  const own = Object.entries(annotations).filter(([k]) => k.startsWith(PREFIX));
  const secrets = new Map<string, SecretSpec>();
  const extras: Extra[] = [];
  for (const [key, value] of own) {
    const suffix = key.slice(PREFIX.length);
    if (SIMPLE_KEYS.has(suffix)) continue;
    const m = PER_SECRET.exec(suffix);
    if (!m) throw new AnnotationError(key, 'unknown keysafe.dev annotation (see the README table)');
    const [, kind, name] = m as unknown as [string, string, string];
    if (!FILE_NAME.test(name)) {
      throw new AnnotationError(key, `"${name}" is not a valid file name ([A-Za-z0-9][A-Za-z0-9._-]*)`);
    }
    if (kind === 'secret') {
      if (value.trim() === '') throw new AnnotationError(key, 'must name a secret (name or ARN)');
      secrets.set(name, { name, id: value.trim() });
    } else {
      extras.push({ kind, name, key, value });
    }
  }
  return { secrets, extras };
}

function applyExtra(secrets: Map<string, SecretSpec>, { kind, name, key, value }: Extra): void {
  const secret = secrets.get(name);
  if (!secret) throw new AnnotationError(key, `no ${PREFIX}secret-${name} annotation to go with it`);
  if (kind === 'format') {
    if (!['raw', 'json', 'env', 'template'].includes(value)) {
      throw new AnnotationError(key, 'expected raw, json, env or template');
    }
    secret.format = value as SecretFormat;
  } else if (kind === 'template') {
    secret.template = value;
  } else if (kind === 'mode') {
    if (!/^0?[0-7]{3}$/.test(value)) throw new AnnotationError(key, 'expected an octal mode such as "0400"');
    secret.mode = value;
  } else {
    secret.env = parseEnv(key, value);
  }
}

/** `DB_URL`, or `username=DB_USER,password=DB_PASSWORD` taking fields of a JSON secret. */
function parseEnv(key: string, value: string): string | Record<string, string> {
  const v = value.trim();
  if (!v.includes('=')) {
    if (!ENV_NAME.test(v)) throw new AnnotationError(key, 'expected a variable name or field=NAME pairs');
    return v;
  }
  const map: Record<string, string> = {};
  for (const pair of v.split(',')) {
    const [field, name, ...rest] = pair.split('=').map((s) => s.trim());
    if (!field || !name || rest.length > 0 || !ENV_NAME.test(name)) {
      throw new AnnotationError(key, 'expected field=NAME pairs separated by commas');
    }
    // A plain object drops this key on assignment: refuse it rather than lose the mapping silently.
    if (field === '__proto__') throw new AnnotationError(key, 'a field named __proto__ is not supported');
    map[field] = name;
  }
  return map;
}

/** `signal:HUP[:process]`, `command:<shell command>`, `http:<url>`, `restart[:process]`. */
function parseOnChange(value: string): OnChange {
  const key = `${PREFIX}on-change`;
  const colon = value.indexOf(':');
  const kind = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? '' : value.slice(colon + 1).trim();
  if (kind === 'signal') {
    const [sig = '', processName, ...more] = rest.split(':');
    const m = SIGNAL.exec(sig.trim().toUpperCase());
    if (!m || more.length > 0)
      throw new AnnotationError(key, 'expected signal:<NAME>[:<process name>], e.g. signal:HUP');
    const out: OnChange = { kind: 'signal', signal: `SIG${m[1]}` };
    if (processName !== undefined) out.processName = processNameOf(key, processName);
    return out;
  }
  if (kind === 'command') {
    if (rest === '') throw new AnnotationError(key, 'expected command:<shell command>');
    return { kind: 'command', command: rest };
  }
  if (kind === 'http') {
    try {
      const url = new URL(rest);
      if (url.protocol === 'http:' || url.protocol === 'https:') return { kind: 'http', url: rest };
    } catch {}
    throw new AnnotationError(key, 'expected http:<url>, e.g. http:http://127.0.0.1:8080/-/reload');
  }
  if (kind === 'restart') {
    const out: OnChange = { kind: 'restart' };
    if (rest !== '') out.processName = processNameOf(key, rest);
    return out;
  }
  throw new AnnotationError(key, 'expected signal:<NAME>, command:<cmd>, http:<url> or restart');
}

function processNameOf(key: string, name: string): string {
  const n = name.trim();
  if (!PROCESS_NAME.test(n)) throw new AnnotationError(key, 'a process name has no "/" or spaces');
  return n;
}
