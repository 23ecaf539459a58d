// Terraform state and lock bodies under fuzzing. Pure: parseLockInfo takes any text to a LockInfo or a
// ValidationException. Over HTTP: random sequences of GET/POST/DELETE/LOCK/UNLOCK with mutated state
// and LockInfo bodies, checked step by step against a model of the backend (serial, lineage, lock
// holder): never a 5xx, every refusal a documented code, a refused write changes nothing, GET returns
// exactly the last accepted state, and no state content (a CANARY password) is in any error or log line.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { parseLockInfo } from '../../src/terraform/state-backend.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  deepMutatedInput,
  edgeString,
  expectTypedError,
  fuzzRuns,
  fuzzTimeout,
  hostileValue,
  httpRuns,
  type Json,
  outcomeOf,
  unicodeString,
} from './support.js';

const CANARY = 'CANARY-tfstate';
const MAX_STATE_BYTES = 64 * 1024;
const TF_CODES = new Set([
  'ValidationException',
  'ResourceNotFoundException',
  'ConflictException',
  'RequestEntityTooLargeException',
  'AccessDeniedException',
  'MissingAuthenticationTokenException',
  'UnrecognizedClientException',
]);

const LOCK_IDS = ['lock-a', 'lock-b', '', 'x'.repeat(256), 'x'.repeat(257)];
const lockInfoDoc = (id: string): Json => ({
  ID: id,
  Operation: 'OperationTypeApply',
  Info: '',
  Who: 'ci@runner',
  Version: '1.11.4',
  Created: '2026-01-01T00:00:00Z',
  Path: '',
});

/** Limits count characters (code points), as zod's string limits do, not UTF-16 units. */
const chars = (s: string) => [...s].length;

/** Whether parseLockInfo must accept `text`: the oracle, written from Terraform's LockInfo. */
function lockIdOf(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  const limits = { Operation: 1024, Info: 4096, Who: 1024, Version: 256, Created: 256, Path: 4096 };
  for (const [k, max] of Object.entries(limits)) {
    const v = d[k];
    if (v !== undefined && (typeof v !== 'string' || chars(v) > max)) return undefined;
  }
  return typeof d.ID === 'string' && chars(d.ID) >= 1 && chars(d.ID) <= 256 ? d.ID : undefined;
}

const lockText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...LOCK_IDS).map((id) => JSON.stringify(lockInfoDoc(id))) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom('lock-a', 'lock-b')
      .chain((id) => deepMutatedInput(lockInfoDoc(id)))
      .map((d) => JSON.stringify(d) ?? 'undefined'),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      edgeString,
      unicodeString(40),
      fc.constantFrom(
        '',
        '  ',
        '\n',
        'null',
        '[]',
        '{}',
        '{"ID":1}',
        '{"ID":"lock-a"',
        `{"ID":"${CANARY}","Who":null}`,
      ),
    ),
  },
);

describe('Terraform LockInfo parser under fuzzing', { timeout: fuzzTimeout() }, () => {
  it('reads any text as the LockInfo the oracle expects, or a ValidationException that repeats nothing', () => {
    fc.assert(
      fc.property(lockText, (text) => {
        const withCanary = text.replace('ci@runner', `${CANARY}@runner`);
        const r = outcomeOf(() => parseLockInfo(withCanary, Date.UTC(2026, 0, 1)));
        const id = lockIdOf(withCanary);
        if (!r.ok) {
          expectTypedError(r.error, [AppError]);
          expect((r.error as AppError).code).toBe('ValidationException');
          expect((r.error as Error).message).not.toContain(CANARY);
          expect(id).toBeUndefined();
          return;
        }
        expect(r.value.ID).toBe(id);
        expect(Object.keys(r.value).sort()).toEqual(['Created', 'ID', 'Info', 'Operation', 'Path', 'Version', 'Who']);
        for (const v of Object.values(r.value)) expect(typeof v).toBe('string');
      }),
      { numRuns: fuzzRuns(500) },
    );
  });
});

// ---- over HTTP, against a model ----

let server: TestServer;
const basic = () => `Basic ${Buffer.from(`keysafe:${server.admin.token}`).toString('base64')}`;

/**
 * Names as sent in the path (from a per-run prefix), and what the server must take them for
 * (undefined: invalid). The first four are valid and spelled two ways each.
 */
const NAME_FORMS: readonly ((p: string) => readonly [string, string | undefined])[] = [
  (p) => [`${p}/s0`, `${p}/s0`],
  (p) => [`${p}%2Fs%30`, `${p}/s0`],
  (p) => [`${p}/team/s1`, `${p}/team/s1`],
  (p) => [`${p}%2Fteam%2Fs1`, `${p}/team/s1`],
  (p) => [`${p}/${'x'.repeat(255 - p.length)}`, `${p}/${'x'.repeat(255 - p.length)}`],
  (p) => [`${p}/${'x'.repeat(256 - p.length)}`, undefined],
  (p) => [`${p}/a%20b`, undefined],
  (p) => [`${p}/%zz`, undefined],
  (p) => [`${p}/a%00b`, undefined],
  (p) => [`${p}/%F0%9F%92%A5`, undefined],
  (p) => [`${p}/%ED%A0%80`, undefined],
  (p) => [`${p}//b`, undefined],
  (p) => [`${p}/`, undefined],
  (p) => [`${p}%2F%2Fb`, undefined],
];

interface StateDoc {
  version: number;
  serial: Json;
  lineage: Json;
  resources: Json;
}
const stateDoc = (serial: number, lineage: string): StateDoc => ({
  version: 4,
  serial,
  lineage,
  resources: [{ type: 'random_password', instances: [{ attributes: { result: `${CANARY}-${serial}-${lineage}` } }] }],
});

const stateBody: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom('lin-a', 'lin-b'))
      .map(([s, l]) => Buffer.from(JSON.stringify(stateDoc(s, l)))),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom('lin-a', 'lin-b'))
      .chain(([s, l]) => deepMutatedInput(stateDoc(s, l) as unknown as Json))
      .map((d) => Buffer.from(JSON.stringify(d) ?? 'undefined')),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      hostileValue.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      fc.constantFrom(
        Buffer.from(`{"serial":1,"lineage":"lin-a","x":"${CANARY}"`),
        Buffer.from('{"serial":1e999,"lineage":"lin-a"}'),
        Buffer.from('{"serial":9007199254740993,"lineage":"lin-a"}'),
        Buffer.from('{"serial":-0,"lineage":"lin-a"}'),
        Buffer.from('{"serial":1,"lineage":"lin-a\\ud800"}'),
        Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
        Buffer.alloc(MAX_STATE_BYTES + 1, 0x20),
      ),
    ),
  },
);

type Op =
  | { kind: 'GET'; name: number; version?: string }
  | { kind: 'POST'; name: number; body: Buffer; id?: string }
  | { kind: 'DELETE'; name: number; id?: string }
  | { kind: 'LOCK'; name: number; body: string }
  | { kind: 'UNLOCK'; name: number; body: string };

const nameIndex = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 3 }) },
  { weight: 1, arbitrary: fc.nat({ max: NAME_FORMS.length - 1 }) },
);
const lockIdQuery = fc.option(fc.constantFrom('lock-a', 'lock-b', '', 'lock-c'), { nil: undefined });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('GET' as const),
    name: nameIndex,
    version: fc.constant(undefined),
  }),
  fc.record({
    kind: fc.constant('GET' as const),
    name: nameIndex,
    version: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constantFrom('1', '2', '3', '4') },
      { weight: 1, arbitrary: fc.constantFrom('0', '-1', 'x', '1e2', '9'.repeat(16)) },
    ),
  }),
  fc.record({ kind: fc.constant('POST' as const), name: nameIndex, body: stateBody, id: lockIdQuery }),
  fc.record({ kind: fc.constant('POST' as const), name: nameIndex, body: stateBody, id: lockIdQuery }),
  fc.record({ kind: fc.constant('DELETE' as const), name: nameIndex, id: lockIdQuery }),
  fc.record({ kind: fc.constant('LOCK' as const), name: nameIndex, body: lockText }),
  fc.record({
    kind: fc.constant('UNLOCK' as const),
    name: nameIndex,
    body: fc.oneof(lockText, fc.constantFrom('', ' \n')),
  }),
);

interface Model {
  states: Map<string, { body: Buffer; serial: number; lineage: string; versions: number }>;
  locks: Map<string, string>;
}

/** The serial and lineage the backend reads from a state body, or undefined when it must refuse it. */
function headerOf(body: Buffer): { serial: number; lineage: string } | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const { serial, lineage } = doc as Record<string, unknown>;
  if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 0) return undefined;
  if (typeof lineage !== 'string' || lineage.length < 1 || lineage.length > 256) return undefined;
  return { serial, lineage };
}

describe('Terraform state backend under fuzzing (real HTTP, model-checked)', { timeout: fuzzTimeout() }, () => {
  beforeAll(async () => {
    server = await startTestServer({ config: { terraform: { maxStateBytes: MAX_STATE_BYTES, keepVersions: 3 } } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('follows the model for any sequence of requests: no 5xx, documented codes, no partial write, no leak', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        // A fresh prefix per run: each run starts from an empty backend as far as its names go.
        const prefix = `run-${randomUUID()}`;
        const model: Model = { states: new Map(), locks: new Map() };
        for (const o of ops) {
          const [form, decoded] = NAME_FORMS[o.name]!(prefix);
          await step(o, form, decoded, model);
        }
      }),
      {
        numRuns: httpRuns(20),
        // One Terraform-like session first, so every branch is reached whatever the seed.
        examples: [
          [
            [
              { kind: 'POST', name: 0, body: Buffer.from(JSON.stringify(stateDoc(1, 'lin-a'))) },
              { kind: 'GET', name: 1 },
              { kind: 'LOCK', name: 0, body: JSON.stringify(lockInfoDoc('lock-a')) },
              { kind: 'LOCK', name: 1, body: JSON.stringify(lockInfoDoc('lock-b')) },
              { kind: 'POST', name: 0, body: Buffer.from(JSON.stringify(stateDoc(2, 'lin-a'))), id: 'lock-a' },
              { kind: 'POST', name: 0, body: Buffer.from(JSON.stringify(stateDoc(3, 'lin-a'))) },
              { kind: 'POST', name: 0, body: Buffer.from('{"serial":"x"}'), id: 'lock-a' },
              { kind: 'UNLOCK', name: 0, body: JSON.stringify(lockInfoDoc('lock-b')) },
              { kind: 'UNLOCK', name: 0, body: JSON.stringify(lockInfoDoc('lock-a')) },
              { kind: 'LOCK', name: 0, body: '{"ID":""}' },
              { kind: 'GET', name: 0, version: '1' },
              { kind: 'DELETE', name: 2 },
              { kind: 'GET', name: 2 },
            ],
          ],
        ],
      },
    );
    for (const line of server.logs) expect(line).not.toContain(CANARY);
    // Accepted writes, refusals of each kind, a held lock: the runs reached every branch that matters.
    for (const outcome of [
      'POST 200',
      'POST 400',
      'POST 409',
      'GET 200',
      'GET 404',
      'LOCK 200',
      'LOCK 400',
      'UNLOCK 200',
    ]) {
      expect(seen.get(outcome) ?? 0, `no ${outcome} in ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
    }
  });
});

/** Outcomes seen, `${kind} ${status}`: the property must have reached the interesting cases. */
const seen = new Map<string, number>();

async function step(o: Op, form: string, name: string | undefined, model: Model): Promise<void> {
  const what = `${o.kind} ${form}`;
  const query =
    o.kind === 'GET' && o.version !== undefined
      ? `?version=${o.version}`
      : (o.kind === 'POST' || o.kind === 'DELETE') && o.id !== undefined
        ? `?ID=${o.id}`
        : '';
  const body = o.kind === 'POST' || o.kind === 'LOCK' || o.kind === 'UNLOCK' ? o.body : undefined;
  const res = await fetch(`${server.url}/v1/terraform/state/${form}${query}`, {
    method: o.kind,
    headers: { authorization: basic(), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body }),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  seen.set(`${o.kind} ${res.status}`, (seen.get(`${o.kind} ${res.status}`) ?? 0) + 1);
  const text = bytes.toString('utf8');
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text);
  } catch {}
  expect(res.status, `${what}: ${text.slice(0, 200)}`).toBeLessThan(500);
  const refusal = (status: number, type: string) => {
    expect({ status: res.status, type: json?.__type }, `${what}: ${text.slice(0, 200)}`).toEqual({ status, type });
    expect(text).not.toContain(CANARY);
  };
  const holder = (status: number, id: string) => {
    expect({ status: res.status, id: json?.ID }, `${what}: ${text.slice(0, 200)}`).toEqual({ status, id });
  };
  if (res.status !== 200 && json?.__type !== undefined) expect(TF_CODES.has(String(json.__type)), what).toBe(true);

  if (body !== undefined && Buffer.byteLength(body) > MAX_STATE_BYTES)
    return refusal(413, 'RequestEntityTooLargeException');
  if (name === undefined) return refusal(400, 'ValidationException');
  const state = model.states.get(name);
  const lock = model.locks.get(name);

  switch (o.kind) {
    case 'GET': {
      if (o.version !== undefined && !/^[1-9]\d{0,14}$/.test(o.version)) return refusal(400, 'ValidationException');
      if (o.version !== undefined) {
        // Kept versions are the newest three; older ones and unknown ones are 404.
        const n = Number(o.version);
        const kept = state !== undefined && n <= state.versions && n > state.versions - 3;
        if (!kept) return refusal(404, 'ResourceNotFoundException');
        expect(res.status, what).toBe(200);
        if (n === state.versions) expect(bytes.equals(state.body), what).toBe(true);
        return;
      }
      if (!state) return refusal(404, 'ResourceNotFoundException');
      expect(res.status, what).toBe(200);
      expect(bytes.equals(state.body), `${what}: GET is not the last accepted state`).toBe(true);
      return;
    }
    case 'POST': {
      const h = headerOf(o.body);
      const id = o.id || undefined;
      if (!h) return refusal(400, 'ValidationException');
      if (lock !== undefined && lock !== id) return holder(409, lock);
      if (lock === undefined && id !== undefined) return refusal(409, 'ConflictException');
      if (state && state.lineage !== h.lineage) return refusal(409, 'ConflictException');
      if (state && state.serial >= h.serial) {
        if (state.serial === h.serial && state.body.equals(o.body)) {
          expect({ status: res.status, version: json?.version }, what).toEqual({
            status: 200,
            version: state.versions,
          });
          return;
        }
        return refusal(409, 'ConflictException');
      }
      const versions = (state?.versions ?? 0) + 1;
      expect({ status: res.status, version: json?.version }, what).toEqual({ status: 200, version: versions });
      model.states.set(name, { body: o.body, ...h, versions });
      return;
    }
    case 'DELETE': {
      const id = o.id || undefined;
      if (lock !== undefined && lock !== id) return holder(409, lock);
      if (!state) return refusal(404, 'ResourceNotFoundException');
      expect(res.status, what).toBe(200);
      model.states.delete(name);
      return;
    }
    case 'LOCK': {
      const id = lockIdOf(Buffer.from(o.body).toString('utf8'));
      if (id === undefined) return refusal(400, 'ValidationException');
      if (lock !== undefined && lock !== id) return holder(423, lock);
      holder(200, id);
      model.locks.set(name, id);
      return;
    }
    case 'UNLOCK': {
      const decoded = Buffer.from(o.body).toString('utf8');
      if (decoded.trim() === '') {
        expect(res.status, what).toBe(200);
        model.locks.delete(name);
        return;
      }
      const id = lockIdOf(decoded);
      if (id === undefined) return refusal(400, 'ValidationException');
      if (lock !== undefined && lock !== id) return holder(409, lock);
      expect(res.status, what).toBe(200);
      model.locks.delete(name);
      return;
    }
  }
}
