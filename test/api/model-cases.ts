// From a botocore model: a minimal valid input for an operation, and one violating input per constraint of each
// input member, with the ValidationException clauses AWS answers for it (written here, independently of src/).
import { javaString } from '../../src/core/validation-message.js';
import { patternRegex, type ServiceModel, type Shape } from './aws-model.js';

export interface Violation {
  /** `Op.Member[.Member…]` in the model's names, the key of the exceptions table. */
  member: string;
  what: string;
  input: Record<string, unknown>;
  clauses: string[];
}

/** Valid values where the shape's bounds alone do not give one (patterns, Keysafe's narrower ranges). */
const SAMPLES: Record<string, unknown> = {
  AliasName: 'alias/example',
  ReplicaRegion: 'us-west-2',
  PrimaryRegion: 'us-west-2',
  Region: 'us-west-2',
  'RemoveReplicaRegions.member': 'us-west-2',
  PendingWindowInDays: 7,
  ClientRequestToken: 'EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE',
  RotationToken: 'EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE',
  KeyMaterialId: 'a'.repeat(64),
  Policy: '{"Version":"2012-10-17","Statement":[]}',
  Duration: '2h',
};

const BAD_CHARS = ['!', ' ', '\u0100', '#', 'A'];

const camel = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

export class ModelCases {
  /** `alsoRequired`: members Keysafe requires where the model does not (operation → members). */
  constructor(
    readonly model: ServiceModel,
    readonly alsoRequired: Record<string, string[]> = {},
  ) {}

  shape(name: string): Shape {
    const s = this.model.shapes[name];
    if (!s) throw new Error(`no shape ${name}`);
    return s;
  }

  /** A valid value for a member: the sample, or the shortest value the shape allows. */
  valid(shape: Shape, name: string, depth = 0): unknown {
    if (name in SAMPLES) return SAMPLES[name];
    switch (shape.type) {
      case 'string': {
        if (shape.enum) return shape.enum[0];
        const v = 'a'.repeat(Math.max(shape.min ?? 0, 1));
        if (shape.pattern && !patternRegex(shape.pattern).test(v)) throw new Error(`add a SAMPLES entry for ${name}`);
        return v;
      }
      case 'integer':
      case 'long':
        return shape.min ?? 1;
      case 'boolean':
        return false;
      case 'blob':
        return Buffer.alloc(Math.max(shape.min ?? 0, 1), 1).toString('base64');
      case 'list': {
        const element = this.shape(shape.member?.shape ?? '');
        return Array.from({ length: Math.max(shape.min ?? 0, 1) }, () => this.valid(element, `${name}.member`, depth));
      }
      case 'map':
        return {};
      case 'structure':
        return this.structure(shape, depth + 1, false);
      default:
        return 'a';
    }
  }

  /** A structure with its required members (at the top) or all of its members (nested: lists of tags, filters). */
  structure(shape: Shape, depth: number, requiredOnly: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      if (requiredOnly && !shape.required?.includes(name)) continue;
      if (depth > 3) continue;
      out[name] = this.valid(this.shape(ref.shape), name, depth);
    }
    return out;
  }

  validInput(op: string): Record<string, unknown> {
    const ref = this.model.operations[op]?.input;
    if (!ref) return {};
    const shape = this.shape(ref.shape);
    const out = this.structure(shape, 0, true);
    for (const name of this.alsoRequired[op] ?? []) {
      out[name] = this.valid(this.shape(shape.members?.[name]?.shape ?? ''), name);
    }
    return out;
  }

  /** Every violation of every constrained member of `op`'s input, nested structures included. */
  violations(op: string): Violation[] {
    const ref = this.model.operations[op]?.input;
    if (!ref) return [];
    const base = this.validInput(op);
    const out: Violation[] = [];
    this.walk(this.shape(ref.shape), [], [], (v) => out.push({ ...v, member: `${op}.${v.member}` }), base);
    return out;
  }

  /** Visits each member of `shape` found at `path` (input keys) / `awsPath` (AWS's path words). */
  private walk(
    shape: Shape,
    path: (string | number)[],
    awsPath: string[],
    emit: (v: Violation) => void,
    base: Record<string, unknown>,
  ): void {
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      const member = this.shape(ref.shape);
      const at = [...path, name];
      const aws = [...awsPath, camel(name)];
      const id = at.filter((p) => typeof p === 'string').join('.');
      const put = (value: unknown) => setAt(base, path, name, value);
      const emitOne = (what: string, value: unknown, clauses: string[]) =>
        emit({ member: id, what, input: put(value), clauses });
      if (shape.required?.includes(name)) {
        emitOne('missing', undefined, [
          `Value null at '${aws.join('.')}' failed to satisfy constraint: Member must not be null`,
        ]);
      }
      for (const [what, value] of this.badValues(member, name)) {
        const failing = this.failures(member, value);
        const shown = this.display(member, value);
        emitOne(
          what,
          value,
          failing.map((c) => `${shown} at '${aws.join('.')}' failed to satisfy constraint: ${c}`),
        );
      }
      if (member.type === 'list') {
        const element = this.shape(member.member?.shape ?? '');
        if (element.type === 'structure') {
          // Enter the first element: `tags.1.member.tagKey`.
          const entered = setAt(base, path, name, [this.structure(element, 1, false)]);
          this.walk(element, [...at, 0], [...aws, '1', 'member'], emit, entered);
        } else {
          for (const [what, bad] of this.badValues(element, `${name}.member`)) {
            const list = [bad];
            const all = this.allConstraints(element);
            emitOne(`element ${what}`, list, [
              `Value '[${list.map(String).join(', ')}]' at '${aws.join('.')}' failed to satisfy constraint: Member must satisfy constraint: [${all.join(', ')}]`,
            ]);
          }
        }
      }
      if (member.type === 'map') {
        const k = this.shape(member.key?.shape ?? '');
        const v = this.shape(member.value?.shape ?? '');
        if (this.allConstraints(k).length + this.allConstraints(v).length > 0) {
          throw new Error(`${id}: map key/value constraints are not modelled by this test yet`);
        }
      }
      if (member.type === 'structure') {
        this.walk(member, at, aws, emit, setAt(base, path, name, this.structure(member, 1, false)));
      }
    }
  }

  /** Values breaking one constraint each (they may break others too: `failures` lists them all). */
  private badValues(shape: Shape, name: string): [string, unknown][] {
    const out: [string, unknown][] = [];
    const sample = this.valid(shape, name);
    switch (shape.type) {
      case 'string': {
        if (shape.enum) return [['enum', 'NOT_A_MODEL_VALUE']];
        const fill = (n: number) =>
          String(sample)
            .repeat(n + 1)
            .slice(0, n);
        if (shape.min !== undefined && shape.min > 0) out.push(['min length', fill(shape.min - 1)]);
        if (shape.max !== undefined) out.push(['max length', fill(shape.max + 1)]);
        if (shape.pattern) {
          const re = patternRegex(shape.pattern);
          const bad = BAD_CHARS.map((c) => c + String(sample).slice(1)).find((v) => !re.test(v));
          if (bad === undefined) throw new Error(`no value breaks ${name}'s pattern ${shape.pattern}`);
          out.push(['pattern', bad]);
        }
        return out;
      }
      case 'integer':
      case 'long':
        if (shape.min !== undefined) out.push(['min value', shape.min - 1]);
        if (shape.max !== undefined) out.push(['max value', shape.max + 1]);
        return out;
      case 'blob':
        if (shape.min !== undefined && shape.min > 0)
          out.push(['min length', Buffer.alloc(shape.min - 1, 1).toString('base64')]);
        if (shape.max !== undefined) out.push(['max length', Buffer.alloc(shape.max + 1, 1).toString('base64')]);
        return out;
      case 'list': {
        const one = (this.valid(shape, name) as unknown[])[0];
        if (shape.min !== undefined && shape.min > 0) out.push(['min items', Array(shape.min - 1).fill(one)]);
        if (shape.max !== undefined) out.push(['max items', Array(shape.max + 1).fill(one)]);
        return out;
      }
      default:
        return out;
    }
  }

  /** The constraints `value` breaks, in the order AWS reports them: length, then pattern, then enum. */
  private failures(shape: Shape, value: unknown): string[] {
    const out: string[] = [];
    const size =
      shape.type === 'blob'
        ? Buffer.from(String(value), 'base64').length
        : Array.isArray(value)
          ? value.length
          : undefined;
    const length = typeof value === 'string' && shape.type === 'string' ? value.length : size;
    if (typeof value === 'number') {
      if (shape.min !== undefined && value < shape.min)
        out.push(`Member must have value greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && value > shape.max)
        out.push(`Member must have value less than or equal to ${shape.max}`);
      return out;
    }
    if (length !== undefined) {
      if (shape.min !== undefined && length < shape.min)
        out.push(`Member must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && length > shape.max)
        out.push(`Member must have length less than or equal to ${shape.max}`);
    }
    if (shape.pattern && typeof value === 'string' && !patternRegex(shape.pattern).test(value)) {
      out.push(`Member must satisfy regular expression pattern: ${shape.pattern}`);
    }
    if (shape.enum && !shape.enum.includes(String(value))) {
      out.push(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
    }
    return out;
  }

  /** Every constraint of a list element, as AWS lists them: max, min, pattern, enum. */
  allConstraints(shape: Shape): string[] {
    const out: string[] = [];
    if (shape.max !== undefined) out.push(`Member must have length less than or equal to ${shape.max}`);
    if (shape.min !== undefined) out.push(`Member must have length greater than or equal to ${shape.min}`);
    if (shape.pattern) out.push(`Member must satisfy regular expression pattern: ${shape.pattern}`);
    if (shape.enum) out.push(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
    return out;
  }

  /** How AWS shows a value: nothing for sensitive members, a blob's size, lists as Java prints them. */
  private display(shape: Shape, value: unknown): string {
    if (shape.sensitive) return 'Value';
    if (shape.type === 'blob') {
      const n = Buffer.from(String(value), 'base64').length;
      return `Value 'java.nio.HeapByteBuffer[pos=0 lim=${n} cap=${n}]'`;
    }
    return `Value '${javaString(value)}'`;
  }
}

/** A copy of `base` with `name` set to `value` (or removed) inside the structure at `path`. */
function setAt(base: Record<string, unknown>, path: (string | number)[], name: string, value: unknown) {
  const copy: Record<string, unknown> = structuredClone(base);
  let node: unknown = copy;
  for (const key of path) node = (node as Record<string | number, unknown>)[key];
  const target = node as Record<string, unknown>;
  if (value === undefined) delete target[name];
  else target[name] = value;
  return copy;
}
