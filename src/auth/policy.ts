// IAM-style policy documents: parsed and compiled once, then evaluated per request. Pure.
//
// Supported grammar (IAM's JSON, so users can paste what they know): Version, Id, Statement (one
// or a list); per statement Sid, Effect, Action | NotAction, Resource | NotResource, Principal
// (resource policies only), Condition. Condition operators: String(Not)Equals(IgnoreCase),
// String(Not)Like, Bool, Null, each optionally …IfExists and ForAnyValue:/ForAllValues:.
import { AppError } from '../core/errors.js';
import { compileGlobs, type Glob, MAX_PATTERN_LENGTH, substitute, type VariableLookup } from './glob.js';

/** Where the document is attached: an identity (role) policy has no Principal; a resource policy needs one. */
export type PolicyKind = 'identity' | 'resource';

/** One request as the policy sees it. */
export interface PolicyRequest {
  action: string;
  resource: string;
  /** ARNs the caller is known by (role ARN, assumed-role ARN); used by Principal. */
  principals: readonly string[];
  /** Condition keys and policy variables (case-insensitive key names). */
  lookup: VariableLookup;
}

/** What one policy says about a request. `delegated`: allowed to the account, so IAM decides. */
export interface PolicyVerdict {
  deny: boolean;
  allow: boolean;
  delegated: boolean;
}

interface Condition {
  /** `unknown` is the answer when a policy variable has no value: false for Allow, true for Deny (fail closed). */
  test(lookup: VariableLookup, unknown: boolean): boolean;
}

/** `arns` are matched first, so a role listed beside the account root is allowed directly. */
type PrincipalMatch = 'any' | { account: boolean; arns: readonly string[] };

interface Statement {
  allow: boolean;
  actions: Glob;
  notAction: boolean;
  resources: Glob;
  notResource: boolean;
  principal?: PrincipalMatch;
  conditions: Condition[];
}

export interface CompiledPolicy {
  readonly statements: readonly Statement[];
}

const EMPTY: PolicyVerdict = Object.freeze({ deny: false, allow: false, delegated: false });

/**
 * What the policy says about a request. Deny statements are evaluated first and one that matches
 * ends the evaluation (deny wins, whatever else matches); then the first direct Allow ends it.
 */
export function evaluatePolicy(policy: CompiledPolicy, req: PolicyRequest): PolicyVerdict {
  let delegated = false;
  for (const s of policy.statements) {
    if (s.actions.test(req.action, req.lookup) === s.notAction) continue;
    const inResource = s.resources.test(req.resource, req.lookup);
    // A pattern too long to evaluate once substituted: a Deny applies, an Allow does not.
    if (inResource === undefined ? s.allow : inResource === s.notResource) continue;
    let viaAccount = false;
    if (s.principal !== undefined && s.principal !== 'any') {
      const { account, arns } = s.principal;
      if (!req.principals.some((p) => arns.includes(p))) {
        if (!account) continue;
        viaAccount = true;
      }
    }
    if (!s.conditions.every((c) => c.test(req.lookup, !s.allow))) continue;
    if (!s.allow) return DENY;
    if (!viaAccount) return ALLOW;
    delegated = true;
  }
  return delegated ? DELEGATED : EMPTY;
}

const DENY: PolicyVerdict = Object.freeze({ deny: true, allow: false, delegated: false });
const ALLOW: PolicyVerdict = Object.freeze({ deny: false, allow: true, delegated: false });
const DELEGATED: PolicyVerdict = Object.freeze({ deny: false, allow: false, delegated: true });

// --- parsing ---------------------------------------------------------------------------------

// Keyed by the document string itself: a cached key or secret record hands in the same string
// object each time, whose hash V8 keeps, so the lookup does not rehash a long policy per request.
const caches = new Map<string, Map<string, CompiledPolicy>>();
const CACHE_MAX = 2000;

/**
 * Parses and compiles a policy document (JSON text or an object). Throws
 * MalformedPolicyDocumentException naming the first problem. Compiled documents are cached by
 * their text: key and secret policies are evaluated on every request.
 */
export function compilePolicy(document: string | object, kind: PolicyKind, accountId: string): CompiledPolicy {
  const text = typeof document === 'string' ? document : JSON.stringify(document);
  if (text.length > MAX_POLICY_LENGTH[kind]) {
    throw malformed(`The policy is longer than ${MAX_POLICY_LENGTH[kind]} characters.`);
  }
  const scope = `${kind}\0${accountId}`;
  let cache = caches.get(scope);
  if (!cache) {
    cache = new Map();
    caches.set(scope, cache);
  }
  const hit = cache.get(text);
  if (hit) return hit;
  let doc: unknown;
  try {
    doc = typeof document === 'string' ? JSON.parse(document) : document;
  } catch {
    throw malformed('The policy is not valid JSON.');
  }
  const compiled = parseDocument(doc, kind, accountId);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(text, compiled);
  return compiled;
}

/** The problems with a document, for ValidateResourcePolicy-style answers (empty when valid). */
export function policyProblems(document: string, kind: PolicyKind, accountId: string): string[] {
  try {
    compilePolicy(document, kind, accountId);
    return [];
  } catch (e) {
    if (e instanceof AppError) return [e.message];
    throw e;
  }
}

const malformed = (message: string) => new AppError('MalformedPolicyDocumentException', message);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || !list.every((x) => typeof x === 'string' && x.length > 0)) {
    throw malformed(`${what} must be a non-empty string or list of strings.`);
  }
  return list as string[];
}

/** Wildcard patterns are bounded so that matching one stays cheap whatever the request sends. */
function checkPatterns(patterns: readonly string[], what: string): void {
  if (patterns.some((p) => p.length > MAX_PATTERN_LENGTH)) {
    throw malformed(`${what}: a pattern is longer than ${MAX_PATTERN_LENGTH} characters.`);
  }
}

/**
 * AWS's document limits, which also bound how many patterns one evaluation matches: an identity
 * (role) policy 10,240 characters written without white space, as IAM counts; a resource policy
 * 32,768 (a key policy's limit; secret resource policies are held to 20,480 by their API).
 */
export const MAX_POLICY_LENGTH: Record<PolicyKind, number> = { identity: 10_240, resource: 32_768 };

const DOCUMENT_KEYS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Principal',
  'Condition',
]);

function parseDocument(doc: unknown, kind: PolicyKind, accountId: string): CompiledPolicy {
  if (!isObject(doc)) throw malformed('The policy must be a JSON object.');
  for (const k of Object.keys(doc)) if (!DOCUMENT_KEYS.has(k)) throw malformed(`Unknown policy element ${k}.`);
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    throw malformed('Version must be 2012-10-17.');
  }
  const raw = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement];
  if (raw.length === 0) throw malformed('The policy has no Statement.');
  const statements = raw.map((s, n) => parseStatement(s, n, kind, accountId));
  // Denies first: evaluation stops at the first one that matches, or at the first direct Allow after them.
  return { statements: [...statements.filter((s) => !s.allow), ...statements.filter((s) => s.allow)] };
}

function parseStatement(s: unknown, n: number, kind: PolicyKind, accountId: string): Statement {
  const at = `Statement ${n}`;
  if (!isObject(s)) throw malformed(`${at} must be an object.`);
  for (const k of Object.keys(s)) {
    if (!STATEMENT_KEYS.has(k)) throw malformed(`${at}: unsupported element ${k}.`);
  }
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed(`${at}: Effect must be Allow or Deny.`);
  if ((s.Action === undefined) === (s.NotAction === undefined)) {
    throw malformed(`${at}: give exactly one of Action and NotAction.`);
  }
  if (s.Resource !== undefined && s.NotResource !== undefined) {
    throw malformed(`${at}: give at most one of Resource and NotResource.`);
  }
  if (kind === 'identity' && s.Principal !== undefined) {
    throw malformed(`${at}: an identity policy has no Principal.`);
  }
  if (kind === 'identity' && s.Resource === undefined && s.NotResource === undefined) {
    throw malformed(`${at}: Resource is missing.`);
  }
  if (kind === 'resource' && s.Principal === undefined) throw malformed(`${at}: Principal is missing.`);
  const actions = stringList(s.Action ?? s.NotAction, `${at}: Action`);
  for (const a of actions) {
    if (a !== '*' && !/^[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+$/.test(a)) {
      throw malformed(`${at}: Action ${JSON.stringify(a.slice(0, 128))} is not service:Action.`);
    }
  }
  // A resource policy applies to the resource it is attached to; Resource there is informational.
  const resources = stringList(s.Resource ?? s.NotResource ?? '*', `${at}: Resource`);
  checkPatterns(actions, `${at}: Action`);
  checkPatterns(resources, `${at}: Resource`);
  const statement: Statement = {
    allow: s.Effect === 'Allow',
    actions: compileGlobs(actions, true),
    notAction: s.NotAction !== undefined,
    resources: compileGlobs(resources, false),
    notResource: s.NotResource !== undefined,
    conditions: parseConditions(s.Condition, at),
  };
  if (s.Principal !== undefined) statement.principal = parsePrincipal(s.Principal, at, accountId);
  return statement;
}

function parsePrincipal(p: unknown, at: string, accountId: string): PrincipalMatch {
  if (p === '*') return 'any';
  if (!isObject(p)) throw malformed(`${at}: Principal must be "*" or {"AWS": …}.`);
  for (const k of Object.keys(p)) {
    if (k !== 'AWS' && k !== 'Service' && k !== 'Federated') throw malformed(`${at}: unsupported principal ${k}.`);
  }
  // Service and federated principals never call Keysafe directly.
  if (p.AWS === undefined) return { account: false, arns: [] };
  const arns = stringList(p.AWS, `${at}: Principal.AWS`);
  if (arns.includes('*')) return 'any';
  const root = `arn:aws:iam::${accountId}:root`;
  return { account: arns.includes(root) || arns.includes(accountId), arns };
}

// --- conditions ------------------------------------------------------------------------------

type Compare = (actual: string, expected: readonly string[], like: (value: string) => boolean) => boolean;

const equalsIgnoreCase: Compare = (a, e) => e.some((x) => x.toLowerCase() === a.toLowerCase());
const OPERATORS: Record<string, { negated: boolean; like?: true; compare: Compare }> = {
  stringequals: { negated: false, compare: (a, e) => e.includes(a) },
  stringnotequals: { negated: true, compare: (a, e) => e.includes(a) },
  stringequalsignorecase: { negated: false, compare: equalsIgnoreCase },
  stringnotequalsignorecase: { negated: true, compare: equalsIgnoreCase },
  stringlike: { negated: false, like: true, compare: (a, _e, like) => like(a) },
  // IAM's ArnEquals and ArnLike both take wildcards; ARNs compare as text here.
  arnequals: { negated: false, like: true, compare: (a, _e, like) => like(a) },
  arnlike: { negated: false, like: true, compare: (a, _e, like) => like(a) },
  arnnotequals: { negated: true, like: true, compare: (a, _e, like) => like(a) },
  arnnotlike: { negated: true, like: true, compare: (a, _e, like) => like(a) },
  stringnotlike: { negated: true, like: true, compare: (a, _e, like) => like(a) },
  bool: { negated: false, compare: (a, e) => e.some((x) => x.toLowerCase() === a.toLowerCase()) },
};

function parseConditions(c: unknown, at: string): Condition[] {
  if (c === undefined) return [];
  if (!isObject(c)) throw malformed(`${at}: Condition must be an object.`);
  const out: Condition[] = [];
  for (const [operatorName, block] of Object.entries(c)) {
    if (!isObject(block)) throw malformed(`${at}: Condition ${operatorName} must map keys to values.`);
    for (const [key, values] of Object.entries(block)) {
      out.push(parseCondition(operatorName, key, values, at));
    }
  }
  return out;
}

/** An empty multi-valued key (e.g. no encryption context) counts as absent, as in IAM. */
const present = (v: string | readonly string[] | undefined) =>
  v !== undefined && typeof v !== 'string' && v.length === 0 ? undefined : v;

function parseCondition(operatorName: string, key: string, rawValues: unknown, at: string): Condition {
  let name = operatorName;
  let set: 'any' | 'all' | undefined;
  if (/^ForAnyValue:/i.test(name)) {
    set = 'any';
    name = name.slice(12);
  } else if (/^ForAllValues:/i.test(name)) {
    set = 'all';
    name = name.slice(13);
  }
  const ifExists = /IfExists$/i.test(name);
  if (ifExists) name = name.slice(0, -8);
  const list = (Array.isArray(rawValues) ? rawValues : [rawValues]).map((v) =>
    typeof v === 'boolean' ? String(v) : v,
  );
  if (list.length === 0 || !list.every((v) => typeof v === 'string')) {
    throw malformed(`${at}: Condition ${operatorName} ${key} needs string values.`);
  }
  const values = list as string[];
  const lowered = name.toLowerCase();
  if (lowered === 'null') {
    const wantAbsent = values[0]!.toLowerCase() === 'true';
    return { test: (lookup) => (present(lookup(key)) === undefined) === wantAbsent };
  }
  const op = Object.hasOwn(OPERATORS, lowered) ? OPERATORS[lowered] : undefined;
  if (!op) throw malformed(`${at}: unsupported condition operator ${operatorName}.`);
  const hasVariables = values.some((v) => v.includes('${'));
  if (op.like) checkPatterns(values, `${at}: Condition ${operatorName} ${key.slice(0, 128)}`);
  const glob = compileGlobs(values, false);

  return {
    test(lookup, unknown) {
      const actual = present(lookup(key));
      if (actual === undefined) return ifExists || set === 'all' || (op.negated && set !== 'any');
      // Variables resolve to literal text before comparing. A missing one leaves the condition
      // unknown, negated operators included: an absent claim never widens an Allow nor lifts a Deny.
      let expected = values;
      if (hasVariables) {
        const resolved = values.map((v) => substitute(v, lookup));
        if (resolved.some((v) => v === undefined)) return unknown;
        expected = resolved as string[];
      }
      // A pattern too long to evaluate once substituted leaves the condition unknown, as a missing variable does.
      let indeterminate = false;
      const like = (value: string) => {
        const r = glob.test(value, lookup);
        if (r === undefined) indeterminate = true;
        return r === true;
      };
      const matchesOne = (a: string): boolean => op.compare(a, expected, like);
      const actuals = typeof actual === 'string' ? [actual] : actual;
      let answer: boolean;
      if (set === 'all') answer = actuals.every((a) => matchesOne(a) !== op.negated);
      // ForAnyValue: true when some value matches (negated: when some value matches none).
      else if (set === 'any') answer = actuals.some((a) => matchesOne(a) !== op.negated);
      else {
        // Single-valued keys: true when the value matches; negated: when it does not.
        const any = actuals.some(matchesOne);
        answer = op.negated ? !any : any;
      }
      return indeterminate ? unknown : answer;
    },
  };
}
