// AWS's ValidationException sentence for constraint failures, built from zod issues and the schema they came from.
//
// The rules (AWS's Coral validation, as observed in AWS answers; see test/api/model-constraints.test.ts):
// - `N validation error(s) detected: ` then one clause per failure, joined by `; `, in the order of the
//   schema's members (our schemas follow the model's member order);
// - a clause is `Value '<v>' at '<path>' failed to satisfy constraint: Member must …`; a missing member is
//   `Value null at '<path>' … Member must not be null`;
// - paths are lowerCamel member names; a list of structures is entered as `filters.1.member.key` (1-based);
//   a failing element of a list of strings is reported at the list, with every constraint of the element:
//   `Value '[a, b]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: [Member must …]`;
// - values: strings and numbers as written, lists as `[a, b]`; a blob shows only its size, as AWS's Java
//   servers print it (`java.nio.HeapByteBuffer[pos=0 lim=N cap=N]`), never its bytes; a member the model
//   marks `sensitive` (plaintexts, secret values, rotation tokens) shows no value at all: `Value at 'x'`.
import { z } from 'zod';

/** Members the models mark sensitive (checked against the models by the model-constraints test). */
export const SENSITIVE_MEMBERS: ReadonlySet<string> = new Set([
  'Plaintext',
  'Message',
  'SecretString',
  'SecretBinary',
  'RotationToken',
  'KeyStorePassword',
]);

const blobs = new WeakSet<z.core.$ZodType>();
const patterns = new WeakMap<RegExp, string>();
const enumSets = new WeakMap<z.core.$ZodType, readonly string[]>();

/** Marks a schema as a blob member (its value is shown as a byte buffer, never as its content). */
export function markBlob<S extends z.ZodType>(schema: S): S {
  blobs.add(schema);
  return schema;
}

/** The enum value set AWS prints for an enum member: the model's values, in the model's order. */
export const enumSetText = (values: readonly string[]) => `Member must satisfy enum value set: [${values.join(', ')}]`;

/** Marks an enum schema with the model's value set (named when a list element breaks it). */
export function markEnum<S extends z.ZodType>(schema: S, model: readonly string[]): S {
  enumSets.set(schema, model);
  return schema;
}

/**
 * A model pattern as a regular expression. AWS matches the whole value (Java's `matches()`), and names
 * the model's pattern text in its message.
 */
export function modelPattern(pattern: string): { regex: RegExp; message: string } {
  const regex = new RegExp(`^(?:${pattern})$`);
  patterns.set(regex, pattern);
  return { regex, message: `Member must satisfy regular expression pattern: ${pattern}` };
}

const camel = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** The schema a member path leads to, through optional, default and pipe wrappers. */
type Schema = z.core.$ZodType;

function unwrap(schema: Schema): Schema {
  let s = schema;
  for (;;) {
    if (blobs.has(s)) return s;
    if (s instanceof z.core.$ZodOptional || s instanceof z.core.$ZodNullable || s instanceof z.core.$ZodDefault) {
      s = s._zod.def.innerType;
    } else if (s instanceof z.core.$ZodPipe) s = s._zod.def.in;
    else return s;
  }
}

function child(schema: Schema | undefined, key: PropertyKey): Schema | undefined {
  const s = schema && unwrap(schema);
  if (s instanceof z.ZodObject && typeof key === 'string') return s.shape[key];
  if (s instanceof z.ZodArray && typeof key === 'number') return s.element;
  return undefined;
}

const isScalar = (s: Schema | undefined) => !(s && unwrap(s) instanceof z.ZodObject);

/** Where AWS reports an issue: the member path, cut at a list of scalars (reported as a whole). */
function reportPoint(schema: Schema, path: readonly PropertyKey[]) {
  let s: Schema | undefined = schema;
  for (let i = 0; i < path.length; i++) {
    const next = child(s, path[i] as PropertyKey);
    if (typeof path[i] === 'number' && isScalar(next)) return { path: path.slice(0, i), element: next };
    s = next;
  }
  return { path, schema: s };
}

function awsPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `${p + 1}.member` : camel(String(p)))).join('.');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** A value as AWS's Java servers print it (toString of the deserialized member). */
export function javaString(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(javaString).join(', ')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${javaString(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

function shown(value: unknown, path: readonly PropertyKey[], schema: Schema | undefined): string {
  const name = path.findLast((p) => typeof p === 'string');
  if (typeof name === 'string' && SENSITIVE_MEMBERS.has(name)) return 'Value';
  if (schema && blobs.has(unwrap(schema)) && typeof value === 'string') {
    const n = Buffer.from(value, 'base64').length;
    return `Value 'java.nio.HeapByteBuffer[pos=0 lim=${n} cap=${n}]'`;
  }
  return `Value '${javaString(value)}'`;
}

/** Every constraint of a list element, as AWS lists them inside `Member must satisfy constraint: [...]`. */
function elementConstraints(element: Schema | undefined): string[] {
  const s = element && unwrap(element);
  const out: string[] = [];
  if (s instanceof z.ZodString) {
    if (s.maxLength !== null) out.push(`Member must have length less than or equal to ${s.maxLength}`);
    if (s.minLength !== null) out.push(`Member must have length greater than or equal to ${s.minLength}`);
    for (const check of s.def.checks ?? []) {
      const def = check._zod.def;
      if (def.check === 'string_format' && 'pattern' in def && def.pattern instanceof RegExp) {
        const text = patterns.get(def.pattern);
        if (text !== undefined) out.push(`Member must satisfy regular expression pattern: ${text}`);
      }
    }
  } else if (s instanceof z.ZodEnum) {
    out.push(enumSetText(enumSets.get(s) ?? s.options.map(String)));
  }
  return out;
}

function constraintText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_big':
      return issue.origin === 'number'
        ? `Member must have value less than or equal to ${issue.maximum}`
        : `Member must have length less than or equal to ${issue.maximum}`;
    case 'too_small':
      return issue.origin === 'number'
        ? `Member must have value greater than or equal to ${issue.minimum}`
        : `Member must have length greater than or equal to ${issue.minimum}`;
    case 'invalid_value':
      return issue.message.startsWith('Member must') ? issue.message : enumSetText(issue.values.map(String));
    case 'invalid_format':
      // A pattern given to zod directly (not through str()): named by its source.
      if (issue.format === 'regex' && !issue.message.startsWith('Member must')) {
        return `Member must satisfy regular expression pattern: ${issue.pattern?.replace(/^\/|\/[a-z]*$/g, '')}`;
      }
      return issue.message;
    case 'custom':
      return issue.message;
    default:
      return 'Member must not be null';
  }
}

const isMissing = (v: unknown) => v === undefined || v === null;

/** The clauses of AWS's sentence for these issues, one per failure (a list of scalars counts once). */
export function validationClauses(schema: Schema, issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const clauses: string[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    const point = reportPoint(schema, issue.path);
    const path = awsPath(point.path);
    const value = valueAt(input, point.path);
    let clause: string;
    if (isMissing(value)) {
      clause = `Value null at '${path}' failed to satisfy constraint: Member must not be null`;
    } else if ('element' in point) {
      const all = elementConstraints(point.element);
      clause = `${shown(value, point.path, undefined)} at '${path}' failed to satisfy constraint: Member must satisfy constraint: [${all.join(', ')}]`;
    } else {
      clause = `${shown(value, point.path, point.schema)} at '${path}' failed to satisfy constraint: ${constraintText(issue)}`;
    }
    if (!seen.has(clause)) clauses.push(clause);
    seen.add(clause);
  }
  return clauses;
}

/** `N validation error(s) detected: …; …` */
export function validationSentence(clauses: readonly string[]): string {
  return `${clauses.length} validation error${clauses.length === 1 ? '' : 's'} detected: ${clauses.join('; ')}`;
}
