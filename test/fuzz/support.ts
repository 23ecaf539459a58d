// Shared pieces of the fuzz suite: run counts, hostile-value arbitraries, input mutators and a raw AWS JSON caller.
//
// Short mode (the normal suite): small run counts. Long mode: `npm run fuzz` sets FUZZ_RUNS=5000.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import fc from 'fast-check';
import { expect } from 'vitest';

/** Runs for a pure-function property: FUZZ_RUNS, or `short` in the normal suite. */
export const fuzzRuns = (short = 100): number => Number(process.env.FUZZ_RUNS ?? short);

/**
 * Runs per operation for an HTTP property: `short` in the normal suite; in long mode FUZZ_RUNS / 20
 * (5000 → 250 per operation), since every run is a real request and there are ~90 operations.
 */
export const httpRuns = (short: number): number =>
  process.env.FUZZ_RUNS === undefined ? short : Math.max(short, Math.ceil(Number(process.env.FUZZ_RUNS) / 20));

/** Per-test timeout: the suite's in short mode; long mode (FUZZ_RUNS set) may take many minutes per test. */
export const fuzzTimeout = (): number => (process.env.FUZZ_RUNS === undefined ? 30_000 : 30 * 60_000);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Strings that have broken parsers before: empty, NUL, lone surrogates, BOM, RTL override, prototype names. */
export const EDGE_STRINGS = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\udc00y',
  '\ud83d',
  '\ufeff',
  '\u202e',
  '\u2028',
  '\uffff',
  '\ufffe',
  '\u{10ffff}',
  '💥',
  'e\u0301',
  '\u00a0',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '%s%n%x',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: template-injection text, meant literally
  '${process.exit()}',
  '{{x}}',
  '{{',
  '../../etc/passwd',
  '/',
  '.',
  '..',
  '*',
  'alias/',
  'alias/aws/kms',
  'arn:aws:kms:',
  'arn:aws:kms:us-east-1:000000000000:key/',
  'arn:aws:secretsmanager:us-east-1:000000000000:secret:x',
  'null',
  'true',
  'NaN',
  '-1',
  '1e400',
  '0x10',
  'AAAA',
  'AA==',
  '====',
  'not base64!',
  '{"a":1}',
  '[]',
  '<xml/>',
  "'; DROP TABLE secrets; --",
] as const;

/** One UTF-16 code unit, lone surrogates included (fast-check's own units never produce them). */
export const codeUnit = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

export const unicodeString = (maxLength = 40) => fc.string({ unit: codeUnit, maxLength });

const HUGE_SIZES = [129, 257, 1025, 2049, 4097, 6145, 8193, 20_481, 65_537, 131_073, 200_000];
/** Strings just past the bounds the APIs declare, and much longer. */
export const hugeString = fc
  .tuple(fc.constantFrom(...HUGE_SIZES), fc.constantFrom('x', 'A', '\u00e9', '\ud800', '💥', '{{a}}'))
  .map(([n, c]) => c.repeat(Math.ceil(n / c.length)).slice(0, n));

export const edgeString = fc.constantFrom(...EDGE_STRINGS);

export const anyString = fc.oneof(
  { weight: 3, arbitrary: edgeString },
  { weight: 3, arbitrary: unicodeString() },
  { weight: 1, arbitrary: hugeString },
);

export const edgeNumber = fc.constantFrom(
  0,
  -0,
  -1,
  1,
  1.5,
  -7,
  7,
  31,
  2 ** 31,
  -(2 ** 31),
  2 ** 32 + 1,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  1e21,
  1e308,
  -1e308,
  5e-324,
);

/** Arrays or objects nested `depth` deep around a leaf. */
export function nest(depth: number, kind: 'array' | 'object' | 'mixed', leaf: Json = 1): Json {
  let v: Json = leaf;
  for (let i = 0; i < depth; i++) v = kind === 'array' || (kind === 'mixed' && i % 2 === 0) ? [v] : { a: v };
  return v;
}

/**
 * A deeply nested value that serialises (toJSON) as the nesting but prints short: fast-check's own
 * counterexample printer overflows the stack on the real thing.
 */
export class Deep {
  constructor(
    readonly depth: number,
    readonly kind: 'array' | 'object' | 'mixed',
  ) {}
  toJSON(): Json {
    return nest(this.depth, this.kind);
  }
  [fc.toStringMethod](): string {
    return `nest(${this.depth}, '${this.kind}')`;
  }
}

export const deepValue = fc
  .tuple(fc.integer({ min: 20, max: 3000 }), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array'>)
  .map(([d, k]) => new Deep(d, k) as unknown as Json);

/** structuredClone, except for Deep (a class instance clones to a plain object, losing toJSON). */
const cloneJson = (v: Json): Json => (v instanceof Deep ? v : structuredClone(v));

/** Any JSON value a hostile client could send in a field. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: anyString },
  { weight: 2, arbitrary: edgeNumber },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom([], {}, [''], [null], JSON.parse('{"__proto__":"x"}')) as fc.Arbitrary<Json>,
  },
  { weight: 1, arbitrary: deepValue },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  // Containers of short strings: with huge ones a body could pass maxBodyBytes (protocol.test.ts covers that).
  { weight: 1, arbitrary: fc.array(fc.oneof(edgeString, unicodeString()), { maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.oneof(edgeString, unicodeString(10)), fc.oneof(edgeString, unicodeString()), {
      maxKeys: 8,
    }),
  },
);

/** Base64 that is wrong in one of the ways base64 can be wrong. */
export const badBase64 = (valid: string) =>
  fc.oneof(
    fc.constantFrom('', '=', 'A', 'AB', 'ABC', 'A===', '====', '@@@@', 'AA AA', 'AA\nAA', 'AA==AA==', '-_-_', 'ABC=D'),
    fc.constant(valid.replace(/=+$/, '')),
    fc.constant(`${valid}=`),
    fc.constant(` ${valid}`),
    fc.constant(valid.replaceAll('+', '-').replaceAll('/', '_')),
    fc.constant(valid.slice(0, Math.max(0, valid.length - 1))),
    fc.nat({ max: Math.max(0, valid.length - 1) }).map((i) => `${valid.slice(0, i)}!${valid.slice(i + 1)}`),
    fc.nat({ max: Math.max(0, valid.length - 1) }).map((i) => `${valid.slice(0, i)}\ud800${valid.slice(i + 1)}`),
    fc.uint8Array({ maxLength: 9000 }).map((b) => Buffer.from(b).toString('base64')),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64url')),
  );

/** One change to an AWS-shaped input object. */
export type Mutation =
  | { kind: 'drop'; field: string }
  | { kind: 'set'; field: string; value: Json }
  | { kind: 'b64'; field: string; value: string }
  | { kind: 'ref'; field: string; value: string }
  | { kind: 'whole'; value: Json };

export interface MutationSpace {
  /** The op's fields plus every field name the API defines (wrong-op fields are extra fields). */
  fields: readonly string[];
  /** Fields holding base64 blobs. */
  blobFields: readonly string[];
  /** Fields naming a resource, and the pool of names (valid, other kinds, missing, malformed). */
  refFields: readonly string[];
  refs: readonly string[];
  /** Valid-but-other values per field (enum members, edge counts): semantic combinations, not just garbage. */
  alternatives?: Readonly<Record<string, readonly Json[]>>;
}

export function mutationArb(valid: Record<string, Json>, space: MutationSpace): fc.Arbitrary<Mutation> {
  const own = Object.keys(valid);
  const field = fc.oneof(
    { weight: 3, arbitrary: own.length ? fc.constantFrom(...own) : fc.constantFrom(...space.fields) },
    { weight: 2, arbitrary: fc.constantFrom(...space.fields) },
    { weight: 1, arbitrary: fc.oneof(edgeString, unicodeString(12)) },
  );
  const options: fc.Arbitrary<Mutation>[] = [
    field.map((f) => ({ kind: 'drop' as const, field: f })),
    fc.record({ kind: fc.constant('set' as const), field, value: hostileValue }),
    fc.record({ kind: fc.constant('set' as const), field, value: hostileValue }),
    hostileValue.map((value) => ({ kind: 'whole' as const, value })),
  ];
  const blobs = space.blobFields.filter((f) => typeof valid[f] === 'string');
  if (blobs.length) {
    const f = fc.constantFrom(...blobs);
    options.push(
      f.chain((field) => badBase64(valid[field] as string).map((value) => ({ kind: 'b64' as const, field, value }))),
    );
  }
  const refs = space.refFields.filter((f) => f in valid);
  if (refs.length && space.refs.length) {
    options.push(
      fc.record({
        kind: fc.constant('ref' as const),
        field: fc.constantFrom(...refs),
        value: fc.constantFrom(...space.refs),
      }),
    );
  }
  const alternatives = Object.entries(space.alternatives ?? {}).filter(([, values]) => values.length > 0);
  const alt = (entries: typeof alternatives) =>
    fc
      .constantFrom(...entries)
      .chain(([field, values]) =>
        fc.constantFrom(...values).map((value) => ({ kind: 'set' as const, field, value: cloneJson(value) })),
      );
  if (alternatives.length) options.push(alt(alternatives));
  // Mostly other values for the op's own fields: that is where the semantic bugs are.
  const ownAlternatives = alternatives.filter(([f]) => f in valid);
  if (ownAlternatives.length) options.push(alt(ownAlternatives), alt(ownAlternatives));
  return fc.oneof(...options);
}

export function applyMutations(valid: Record<string, Json>, mutations: readonly Mutation[]): Json {
  let out: Json = structuredClone(valid);
  for (const m of mutations) {
    if (m.kind === 'whole') {
      out = cloneJson(m.value);
      continue;
    }
    if (out === null || typeof out !== 'object' || Array.isArray(out)) out = {};
    const o = out as Record<string, Json>;
    // defineProperty: a "__proto__" field must become an own member, as JSON.parse makes it.
    if (m.kind === 'drop') delete o[m.field];
    else Object.defineProperty(o, m.field, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A valid input and 0–3 mutations of it (0: the valid input itself, so success paths run too). */
export function mutatedInput(valid: Record<string, Json>, space: MutationSpace): fc.Arbitrary<Json> {
  return fc
    .oneof(
      { weight: 1, arbitrary: fc.constant([] as Mutation[]) },
      { weight: 6, arbitrary: fc.array(mutationArb(valid, space), { minLength: 1, maxLength: 3 }) },
    )
    .map((ms) => applyMutations(valid, ms));
}

/**
 * Every capitalised member name in an API's source files (a folder stands for the .ts files in it): the
 * universe of fields the API reads.
 */
export function fieldNamesIn(...sources: string[]): string[] {
  const files = sources.flatMap((source) => {
    const url = new URL(`../../${source}`, import.meta.url);
    if (!statSync(url).isDirectory()) return [url];
    return readdirSync(url)
      .filter((name) => name.endsWith('.ts'))
      .map((name) => new URL(`${source}/${name}`, new URL('../../', import.meta.url)));
  });
  const text = files.map((file) => readFileSync(file, 'utf8')).join('\n');
  return [...new Set([...text.matchAll(/\b([A-Z][A-Za-z0-9]+):/g)].map((m) => m[1]!))].sort();
}

export const AWS_JSON = 'application/x-amz-json-1.1';

export interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown> | undefined;
}

export interface Endpoint {
  url: string;
  admin: { token: string };
}

/** POST / as an AWS SDK would, bearer-authenticated as the admin unless headers say otherwise. */
export async function awsCall(
  server: Endpoint,
  target: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<Answer> {
  let status: number;
  let text: string;
  try {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: {
        'x-amz-target': target,
        'content-type': AWS_JSON,
        authorization: `Bearer ${server.admin.token}`,
        ...headers,
      },
      body,
    });
    status = res.status;
    text = await res.text();
  } catch (e) {
    // Only the server going away (a crash, a reset) gets here: say which request did it.
    throw new Error(`${target}: no answer to a ${body.length}-unit body: ${(e as Error).message}`, { cause: e });
  }
  let json: Record<string, unknown> | undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
  } catch {}
  return { status, text, json };
}

/** Calls `target` with `input` JSON-encoded (lone surrogates travel as \\ud800 escapes, as JSON allows). */
export const awsJson = (server: Endpoint, target: string, input: unknown) =>
  awsCall(server, target, JSON.stringify(input) ?? 'null');

/** The AWS JSON error envelope: never 5xx, a JSON object whose `__type` is one of `codes`, a string message. */
export function expectWellFormed(a: Answer, codes: ReadonlySet<string>, what: string): void {
  expect(a.status, `${what}: ${a.text.slice(0, 300)}`).toBeLessThan(500);
  expect(a.json, `${what}: body is not a JSON object: ${a.text.slice(0, 200)}`).toBeDefined();
  if (a.status === 200) return;
  expect(codes.has(String(a.json!.__type)), `${what}: undocumented __type ${String(a.json!.__type)}`).toBe(true);
  // AWS leaves the message out of a few errors (src/core/http-errors.ts awsErrorBody).
  const message = a.json!.message;
  expect(
    typeof message === 'string' || (message === undefined && MESSAGELESS.has(String(a.json!.__type))),
    `${what}: message`,
  ).toBe(true);
}

/** The errors AWS answers without a message. */
const MESSAGELESS = new Set(['KMSInvalidSignatureException', 'KMSInvalidMacException', 'NotAuthorizedException']);

/** Errors every AWS JSON service answers (auth, framing, throttling), from src/core/errors.ts. */
export const COMMON_CODES = [
  'ValidationException',
  'SerializationException',
  'UnknownOperationException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'AccessDeniedException',
  'ThrottlingException',
  'RequestEntityTooLargeException',
  'ExpiredTokenException',
] as const;

/** KMS's documented exceptions that Keysafe answers (src/core/errors.ts), minus the 5xx ones. */
export const KMS_CODES: ReadonlySet<string> = new Set([
  ...COMMON_CODES,
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'KMSInvalidSignatureException',
  'KMSInvalidMacException',
  'AlreadyExistsException',
  'LimitExceededException',
  'TagException',
  'UnsupportedOperationException',
  'InvalidArnException',
  'InvalidAliasNameException',
  'NotAuthorizedException',
  'InvalidMarkerException',
  'InvalidGrantTokenException',
  'InvalidGrantIdException',
  'MalformedPolicyDocumentException',
  'DryRunOperationException',
  'ConflictException',
  'InvalidImportTokenException',
  'ExpiredImportTokenException',
  'IncorrectKeyMaterialException',
]);

/** Secrets Manager's documented exceptions, plus UnsupportedOperationException for replication (README). */
export const SECRETS_CODES: ReadonlySet<string> = new Set([
  ...COMMON_CODES,
  'ResourceNotFoundException',
  'ResourceExistsException',
  'InvalidRequestException',
  'InvalidParameterException',
  'InvalidNextTokenException',
  'EncryptionFailure',
  'DecryptionFailure',
  'PreconditionNotMetException',
  'PublicPolicyException',
  'MalformedPolicyDocumentException',
  'LimitExceededException',
  'UnsupportedOperationException',
]);

/** Every code a caller of either service may see on a framing or auth failure. */
export const ANY_SERVICE_CODES: ReadonlySet<string> = new Set([...KMS_CODES, ...SECRETS_CODES]);

/** A pure-function outcome: the value, or the error's class name and code. */
export function outcomeOf<T>(f: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Fails if `error` is a runtime fault (TypeError, RangeError, stack overflow …) rather than `allowed`. */
export function expectTypedError(error: unknown, allowed: readonly (abstract new (...args: never[]) => Error)[]): void {
  const ok = allowed.some((c) => error instanceof c);
  if (!ok) {
    const e = error as Error;
    throw new Error(`untyped failure ${e?.name}: ${e?.message}\n${e?.stack ?? ''}`);
  }
}

/** Every path (object keys, array indexes) inside a JSON document, the root included. */
export function pathsOf(doc: Json, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [at];
  if (Array.isArray(doc)) {
    for (const [i, v] of doc.entries()) out.push(...pathsOf(v, [...at, i]));
  } else if (doc && typeof doc === 'object')
    for (const [k, v] of Object.entries(doc)) out.push(...pathsOf(v, [...at, k]));
  return out;
}

type DeepMutation =
  | { kind: 'set'; path: (string | number)[]; value: Json }
  | { kind: 'drop'; path: (string | number)[] }
  | { kind: 'add'; path: (string | number)[]; key: string; value: Json };

/** Mutations anywhere in a nested document (configs): replace, delete, or add a member at any depth. */
export function deepMutatedInput(valid: Json, values: fc.Arbitrary<Json> = hostileValue): fc.Arbitrary<Json> {
  const paths = pathsOf(valid);
  const path = fc.constantFrom(...paths);
  const mutation: fc.Arbitrary<DeepMutation> = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), path, value: values }),
    path.map((p) => ({ kind: 'drop' as const, path: p })),
    fc.record({
      kind: fc.constant('add' as const),
      path,
      key: fc.oneof(edgeString, unicodeString(10), fc.constantFrom('__proto__', 'constructor')),
      value: values,
    }),
  );
  return fc
    .oneof(
      { weight: 1, arbitrary: fc.constant([] as DeepMutation[]) },
      { weight: 6, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) },
    )
    .map((ms) => {
      let doc: Json = structuredClone(valid);
      for (const m of ms) {
        if (m.path.length === 0) {
          if (m.kind === 'set') doc = cloneJson(m.value);
          else if (m.kind === 'drop') doc = null;
          else if (doc && typeof doc === 'object' && !Array.isArray(doc)) define(doc, m.key, cloneJson(m.value));
          continue;
        }
        const parent = m.path
          .slice(0, -1)
          .reduce<Json | undefined>(
            (v, k) => (v && typeof v === 'object' ? (v as Record<string, Json>)[k as string] : undefined),
            doc,
          );
        if (!parent || typeof parent !== 'object') continue;
        const last = m.path[m.path.length - 1]!;
        const target = parent as Record<string, Json>;
        if (m.kind === 'set') define(target, String(last), cloneJson(m.value));
        else if (m.kind === 'drop') {
          if (Array.isArray(parent)) parent.splice(Number(last), 1);
          else delete target[last as string];
        } else {
          const child = target[last as string];
          if (child && typeof child === 'object' && !Array.isArray(child)) define(child, m.key, cloneJson(m.value));
          else if (Array.isArray(child)) child.push(cloneJson(m.value));
        }
      }
      return doc;
    });
}

function define(o: object, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}
