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
/**
 * Holds half of a surrogate pair without its other half: text searched by code unit could split a
 * pair there. A loop rather than a RegExp: it runs on substituted pieces per request.
 */
function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    if (u < 0xd800 || u > 0xdfff) continue;
    if (u > 0xdbff || !isLow(text.charCodeAt(i + 1))) return true;
    i++;
  }
  return false;
}

/** A pattern as tokens: literal text, a `*`, a `?`, or a variable substituted as literal text. */
type Token = { lit: string } | { star: true } | { one: true } | { name: string };

/** A pattern with its variables substituted: the segments between stars, each literal text and `?` (null). */
type Resolved = (string | null)[][];

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

/** The pieces of a resolved pattern without `?` whose text is well-formed (see matchStars), else undefined. */
function starsOnly(resolved: Resolved): string[] | undefined {
  if (resolved.some((s) => s.includes(null))) return undefined;
  const plain = resolved.map((s) => s.join(''));
  return plain.some(hasLoneSurrogate) ? undefined : plain;
}

/**
 * `parts` joined by stars matches `value`: prefix, suffix, and the middles in order, each leftmost.
 * Exact in code points when every part is well-formed UTF-16: a part found by code unit then
 * starts and ends between characters (it starts with no low half and ends with no high half).
 */
function matchStars(parts: readonly string[], value: string): boolean {
  if (parts.length === 1) return value === parts[0];
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  let at = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const piece = parts[i]!;
    const found = value.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** A matcher for a resolved pattern (literals already folded; the value is folded by the caller). */
function compileResolved(resolved: Resolved): (value: string) => boolean {
  const plain = starsOnly(resolved);
  if (plain) return (value) => matchStars(plain, value);
  const segments = resolved.map((s) => new Segment(s));
  if (segments.length === 1) return (value) => segments[0]!.matchAt(value, 0) === value.length;
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const middles = segments.slice(1, -1);
  return (value) => {
    let at = first.matchAt(value, 0);
    if (at < 0) return false;
    const end = last.matchEnd(value, at);
    if (end < 0) return false;
    for (const segment of middles) {
      at = segment.find(value, at, end);
      if (at < 0) return false;
    }
    return true;
  };
}

/** `?` in a segment's code points. */
const ONE = -1;

const isHigh = (u: number) => u >= 0xd800 && u <= 0xdbff;
const isLow = (u: number) => u >= 0xdc00 && u <= 0xdfff;

/**
 * A run of literal characters and `?` between stars, as code points. Positions handed in and out
 * are UTF-16 indexes at character boundaries.
 */
class Segment {
  readonly #points: Int32Array;
  #search: ShiftAnd | undefined;

  constructor(parts: readonly (string | null)[]) {
    const points: number[] = [];
    for (const p of parts) {
      if (p === null) points.push(ONE);
      else for (const ch of p) points.push(ch.codePointAt(0)!);
    }
    this.#points = Int32Array.from(points);
  }

  /** End of the match starting at `at`, or -1. */
  matchAt(value: string, at: number): number {
    const n = value.length;
    const points = this.#points;
    for (let i = 0; i < points.length; i++) {
      const want = points[i]!;
      if (at >= n) return -1;
      const c = value.codePointAt(at)!;
      if (want !== ONE && want !== c) return -1;
      at += c > 0xffff ? 2 : 1;
    }
    return at;
  }

  /** Start of a match that ends the value and starts at or after `from`, or -1. */
  matchEnd(value: string, from: number): number {
    let start = value.length;
    for (let i = 0; i < this.#points.length; i++) {
      if (start <= from) return -1;
      const pair = start - 2 >= from && isLow(value.charCodeAt(start - 1)) && isHigh(value.charCodeAt(start - 2));
      start -= pair ? 2 : 1;
    }
    return this.matchAt(value, start) === value.length ? start : -1;
  }

  /** End of the leftmost match that starts at or after `from` and ends by `limit`, or -1. */
  find(value: string, from: number, limit: number): number {
    if (this.#points.length === 0) return from;
    this.#search ??= new ShiftAnd(this.#points);
    return this.#search.find(value, from, limit);
  }
}

/**
 * Shift-and (Baeza-Yates–Gonnet): bit i of the state says the last i+1 characters read match the
 * segment's first i+1; one shift and one AND per word per character, never a step back.
 */
class ShiftAnd {
  readonly #words: number;
  readonly #hit: number;
  /** Per ASCII character, `#words` masks; bit i set when position i is that character or `?`. */
  readonly #ascii: Int32Array;
  readonly #other = new Map<number, Int32Array>();
  /** The masks of a character the segment does not name: its `?` positions. */
  readonly #any: Int32Array;
  readonly #state: Int32Array;

  constructor(points: Int32Array) {
    const words = Math.ceil(points.length / 32);
    this.#words = words;
    this.#hit = 1 << ((points.length - 1) & 31);
    this.#any = new Int32Array(words);
    points.forEach((p, i) => {
      if (p === ONE) this.#any[i >> 5]! |= 1 << (i & 31);
    });
    this.#ascii = new Int32Array(128 * words);
    for (let c = 0; c < 128; c++) this.#ascii.set(this.#any, c * words);
    points.forEach((p, i) => {
      if (p === ONE) return;
      let row: Int32Array;
      if (p < 128) row = this.#ascii.subarray(p * words, (p + 1) * words);
      else {
        row = this.#other.get(p) ?? Int32Array.from(this.#any);
        this.#other.set(p, row);
      }
      row[i >> 5]! |= 1 << (i & 31);
    });
    this.#state = new Int32Array(words);
  }

  find(value: string, from: number, limit: number): number {
    const words = this.#words;
    const ascii = this.#ascii;
    if (words === 1) {
      let state = 0;
      for (let i = from; i < limit; ) {
        const u = value.charCodeAt(i);
        let mask: number;
        if (u < 128) {
          mask = ascii[u]!;
          i++;
        } else {
          const c = value.codePointAt(i)!;
          mask = this.#other.get(c)?.[0] ?? this.#any[0]!;
          i += c > 0xffff ? 2 : 1;
        }
        state = ((state << 1) | 1) & mask;
        if ((state & this.#hit) !== 0) return i;
      }
      return -1;
    }
    const state = this.#state;
    state.fill(0);
    const other = this.#other;
    const any = this.#any;
    const hit = this.#hit;
    const last = words - 1;
    // Words past `top` are zero: a state reaches word w only after 32·w characters have matched.
    let top = 0;
    for (let i = from; i < limit; ) {
      const u = value.charCodeAt(i);
      let masks: Int32Array;
      let at = 0;
      if (u < 128) {
        masks = ascii;
        at = u * words;
        i++;
      } else {
        const c = value.codePointAt(i)!;
        masks = other.get(c) ?? any;
        i += c > 0xffff ? 2 : 1;
      }
      let carry = 1;
      const end = top < last ? top + 1 : last;
      for (let w = 0; w <= end; w++) {
        const s = state[w]!;
        state[w] = ((s << 1) | carry) & masks[at + w]!;
        carry = s >>> 31;
      }
      while (top < end && state[top + 1] !== 0) top++;
      while (top > 0 && state[top] === 0) top--;
      if ((state[last]! & hit) !== 0) return i;
    }
    return -1;
  }
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
