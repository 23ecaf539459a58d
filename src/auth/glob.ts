// IAM-style wildcard patterns (`*` any run, `?` one character) with `${var}` policy variables: pure.
//
// Matching never backtracks (issue 14: a `?` pattern compiled to a RegExp held the event loop for
// seconds on a 130-character value). A pattern is cut at its stars into segments of fixed length
// in characters; the first must match at the start of the value, the last at its end, and each
// middle one is found leftmost after the previous one, which is exact because no segment's length
// varies. Patterns without `?` (nearly every ARN and action glob) use startsWith, indexOf and
// endsWith; in a pattern with `?` each segment is found with a bit-parallel shift-and: one pass
// over the value at ceil(length / 32) word operations per character. So a pattern costs
// O(value × (1 + pattern / 32)) at worst, whatever its shape. A character is a code point: `?`
// takes a surrogate pair whole, and a lone surrogate counts as one.

import { compileResolved, hasLoneSurrogate, matchStars, type Resolved, starsOnly } from './glob-match.js';

/** Looks a variable up for substitution; undefined when the request has no such value. */
export type VariableLookup = (name: string) => string | readonly string[] | undefined;

/**
 * The longest pattern, in UTF-16 code units: as written (policies and role bindings are refused
 * beyond it), and for a pattern with `?` also once its variables are substituted (beyond it the
 * pattern is not evaluated: `test` answers undefined).
 */
export const MAX_PATTERN_LENGTH = 1024;

/** A pattern compiled once; patterns with variables are resolved per request. */
export interface Glob {
  /**
   * True when `value` matches some pattern; false when none does (a pattern whose variable is
   * missing matches nothing); undefined when none matches but one could not be evaluated because
   * it grew past MAX_PATTERN_LENGTH when substituted: the caller decides, failing closed.
   */
  test(value: string, lookup: VariableLookup): boolean | undefined;
  readonly hasVariables: boolean;
}

const VARIABLE = /\$\{([^}]*)\}/g;
/** A pattern as tokens: literal text, a `*`, a `?`, or a variable substituted as literal text. */
type Token = { lit: string } | { star: true } | { one: true } | { name: string };

/** One pattern's matcher: true, false, or undefined when it cannot be evaluated. */
type Matcher = (value: string, lookup: VariableLookup) => boolean | undefined;

/**
 * Compiles `patterns` (OR) into one matcher. Substituted variable values are literal text: a claim
 * that contains `*` must never widen what a policy grants.
 */
export function compileGlobs(patterns: readonly string[], caseInsensitive: boolean): Glob {
  const tokenized = patterns.map(tokenize);
  const hasVariables = tokenized.some((t) => t.some((x) => 'name' in x));
  // Case-insensitive patterns (actions) see the same value once per statement: fold it once.
  let lastValue = '';
  let lastFolded = '';
  const fold = caseInsensitive
    ? (s: string) => {
        if (s !== lastValue) {
          lastValue = s;
          lastFolded = s.toLowerCase();
        }
        return lastFolded;
      }
    : (s: string) => s;
  const compiled = new Map<string, (value: string) => boolean>();
  const matchers = tokenized.map((tokens): Matcher => {
    const withOne = tokens.some((x) => 'one' in x);
    if (!tokens.some((x) => 'name' in x)) {
      const resolved = resolve(tokens, () => undefined, fold)!;
      const plain = starsOnly(resolved);
      if (plain) return (value) => matchStars(plain, fold(value));
      const fixed = compileResolved(resolved);
      return (value) => fixed(fold(value));
    }
    const loneInPattern = tokens.some((t) => 'lit' in t && hasLoneSurrogate(t.lit));
    if (!withOne && !loneInPattern) {
      // `*`-only with variables (e.g. a namespace claim in an ARN): the pieces per request, no compiling.
      return (value, lookup) => {
        const parts = pieces(tokens, lookup, fold);
        if (parts === undefined) return false;
        if (parts !== LONE_SURROGATE_IN_VALUE) return matchStars(parts, fold(value));
        // A claim with half a surrogate pair: rare, so matched by code point below.
        return resolvedMatch(value, lookup);
      };
    }
    return resolvedMatch;
    function resolvedMatch(value: string, lookup: VariableLookup): boolean | undefined {
      const resolved = resolve(tokens, lookup, fold);
      if (resolved === undefined) return false;
      if (lengthOf(resolved) > MAX_PATTERN_LENGTH) return undefined;
      const key = keyOf(resolved);
      let match = compiled.get(key);
      if (!match) {
        if (compiled.size >= 256) compiled.clear();
        match = compileResolved(resolved);
        compiled.set(key, match);
      }
      return match(fold(value));
    }
  });
  if (matchers.length === 1) return { hasVariables, test: matchers[0]! };
  return {
    hasVariables,
    test: (value, lookup) => {
      let answer: boolean | undefined = false;
      for (const m of matchers) {
        const r = m(value, lookup);
        if (r === true) return true;
        if (r === undefined) answer = undefined;
      }
      return answer;
    },
  };
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  const literal = (text: string) => {
    for (const ch of text.split(/([*?])/)) {
      if (ch === '*') {
        // `**` is `*`: merged, so that no segment between stars is empty.
        const previous = tokens[tokens.length - 1];
        if (previous === undefined || !('star' in previous)) tokens.push({ star: true });
      } else if (ch === '?') tokens.push({ one: true });
      else if (ch !== '') tokens.push({ lit: ch });
    }
  };
  let last = 0;
  for (const m of pattern.matchAll(VARIABLE)) {
    literal(pattern.slice(last, m.index));
    const name = m[1]!;
    // `${*}`, `${?}` and `${$}` stand for the literal characters, as in IAM.
    tokens.push(name === '*' || name === '?' || name === '$' ? { lit: name } : { name });
    last = m.index + m[0].length;
  }
  literal(pattern.slice(last));
  return tokens;
}

/** The segments between stars with variables substituted and literals folded; undefined if a variable is missing. */
function resolve(tokens: Token[], lookup: VariableLookup, fold: (s: string) => string): Resolved | undefined {
  const out: Resolved = [[]];
  for (const t of tokens) {
    const segment = out[out.length - 1]!;
    if ('star' in t) out.push([]);
    else if ('one' in t) segment.push(null);
    else {
      const text = 'lit' in t ? t.lit : lookup(t.name);
      if (typeof text !== 'string') return undefined;
      segment.push(fold(text));
    }
  }
  return out;
}

/** The length of a resolved pattern written out, in UTF-16 code units. */
function lengthOf(resolved: Resolved): number {
  let n = resolved.length - 1;
  for (const s of resolved) for (const p of s) n += p === null ? 1 : p.length;
  return n;
}

/** A resolved pattern as text, literal wildcards escaped: the cache key. */
function keyOf(resolved: Resolved): string {
  return resolved.map((s) => s.map((p) => (p === null ? '?' : p.replace(/[\\*?]/g, '\\$&'))).join('')).join('*');
}

/** What `pieces` answers when a substituted value holds half a surrogate pair. */
const LONE_SURROGATE_IN_VALUE: string[] = [];

/**
 * The literal pieces between stars (first and last may be empty) of a pattern without `?`;
 * undefined if a variable is missing, LONE_SURROGATE_IN_VALUE if a value holds half a pair.
 */
function pieces(tokens: Token[], lookup: VariableLookup, fold: (s: string) => string): string[] | undefined {
  const out: string[] = [];
  let current = '';
  for (const t of tokens) {
    if ('star' in t) {
      out.push(fold(current));
      current = '';
    } else if ('lit' in t) current += t.lit;
    else if ('name' in t) {
      const v = lookup(t.name);
      if (typeof v !== 'string') return undefined;
      if (hasLoneSurrogate(v)) return LONE_SURROGATE_IN_VALUE;
      current += v;
    }
  }
  out.push(fold(current));
  return out;
}

/** Substitutes variables in a condition value (literal result); undefined when one is missing. */
export function substitute(value: string, lookup: VariableLookup): string | undefined {
  if (!value.includes('${')) return value;
  let missing = false;
  const out = value.replace(VARIABLE, (_, name: string) => {
    if (name === '*' || name === '?' || name === '$') return name;
    const v = lookup(name);
    if (typeof v !== 'string') missing = true;
    return typeof v === 'string' ? v : '';
  });
  return missing ? undefined : out;
}

// Role bindings match the same few patterns at every login: compiled once each.
const bindings = new Map<string, Glob>();

/** A single glob matched against a literal value, without variables (role subject bindings). */
export function globMatches(pattern: string, value: string): boolean {
  let glob = bindings.get(pattern);
  if (!glob) {
    if (bindings.size >= 1000) bindings.clear();
    glob = compileGlobs([pattern], false);
    bindings.set(pattern, glob);
  }
  return glob.test(value, () => undefined) === true;
}
