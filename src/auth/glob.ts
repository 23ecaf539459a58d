// IAM-style wildcard patterns (`*` any run, `?` one character) with `${var}` policy variables: pure.
//
// `*`-only patterns (nearly every ARN and action glob) match without regular expressions: the
// pieces between stars are found left to right with startsWith/indexOf/endsWith, which is exact
// for such patterns and several times faster than a backtracking `.*` regex on long ARNs. `?`
// falls back to a regex built per resolved pattern.

/** Looks a variable up for substitution; undefined when the request has no such value. */
export type VariableLookup = (name: string) => string | readonly string[] | undefined;

const SPECIAL = /[.*+?^${}()|[\]\\/]/g;
const escapeRegExp = (s: string): string => s.replace(SPECIAL, '\\$&');

/** A pattern compiled once; patterns with variables are resolved per request. */
export interface Glob {
  /** True when `value` matches; false when a variable the pattern needs is missing. */
  test(value: string, lookup: VariableLookup): boolean;
  readonly hasVariables: boolean;
}

const VARIABLE = /\$\{([^}]*)\}/g;

/** A pattern as tokens: literal text, a `*`, a `?`, or a variable substituted as literal text. */
type Token = { lit: string } | { star: true } | { one: true } | { name: string };

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
  const regexps = new Map<string, RegExp>();
  const matchers = tokenized.map((tokens) => {
    const withOne = tokens.some((x) => 'one' in x);
    // Without variables the pieces are fixed: split them once.
    const fixed = tokens.some((x) => 'name' in x) ? undefined : pieces(tokens, () => '', fold);
    return (value: string, lookup: VariableLookup): boolean => {
      if (withOne) {
        const source = regexSource(tokens, lookup);
        if (source === undefined) return false;
        let re = regexps.get(source);
        if (!re) {
          if (regexps.size >= 256) regexps.clear();
          // `s`: `?` and `*` match line breaks too, as the `*`-only path does; without it a Deny on
          // "prod-?" would not match "prod-\n".
          re = new RegExp(source, caseInsensitive ? 'is' : 's');
          regexps.set(source, re);
        }
        return re.test(value);
      }
      const parts = fixed ?? pieces(tokens, lookup, fold);
      return parts !== undefined && matchStars(parts, fold(value));
    };
  });
  return { hasVariables, test: (value, lookup) => matchers.some((m) => m(value, lookup)) };
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  const literal = (text: string) => {
    for (const ch of text.split(/([*?])/)) {
      if (ch === '*') tokens.push({ star: true });
      else if (ch === '?') tokens.push({ one: true });
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

/** The literal pieces between stars (first and last may be empty); undefined if a variable is missing. */
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
      current += v;
    }
  }
  out.push(fold(current));
  return out;
}

/** `pieces` joined by stars matches `value`: prefix, suffix, and the middles in order. */
function matchStars(parts: string[], value: string): boolean {
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

function regexSource(tokens: Token[], lookup: VariableLookup): string | undefined {
  let source = '^';
  for (const t of tokens) {
    if ('star' in t) source += '.*';
    else if ('one' in t) source += '.';
    else if ('lit' in t) source += escapeRegExp(t.lit);
    else {
      const v = lookup(t.name);
      if (typeof v !== 'string') return undefined;
      source += escapeRegExp(v);
    }
  }
  return `${source}$`;
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

/** A single glob matched against a literal value, without variables (role subject bindings). */
export function globMatches(pattern: string, value: string): boolean {
  return compileGlobs([pattern], false).test(value, () => undefined);
}
