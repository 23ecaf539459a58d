// IAM-style wildcard patterns (`*` any run, `?` one character) with `${var}` policy variables: pure.

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

/**
 * Compiles `patterns` (OR) into one matcher. Substituted variable values are literal text: a claim
 * that contains `*` must never widen what a policy grants.
 */
export function compileGlobs(patterns: readonly string[], caseInsensitive: boolean): Glob {
  const flags = caseInsensitive ? 'i' : '';
  const hasVariables = patterns.some((p) => p.includes('${'));
  if (!hasVariables) {
    const re = new RegExp(`^(?:${patterns.map((p) => toRegExpSource(p)).join('|')})$`, flags);
    return { hasVariables, test: (value) => re.test(value) };
  }
  return {
    hasVariables,
    test(value, lookup) {
      for (const p of patterns) {
        const source = toRegExpSource(p, lookup);
        if (source !== undefined && new RegExp(`^${source}$`, flags).test(value)) return true;
      }
      return false;
    },
  };
}

/** Regular-expression source for one pattern; undefined when a variable has no value. */
function toRegExpSource(pattern: string, lookup?: VariableLookup): string | undefined {
  let out = '';
  let last = 0;
  if (lookup) {
    for (const m of pattern.matchAll(VARIABLE)) {
      out += wildcards(pattern.slice(last, m.index));
      const value = resolveVariable(m[1]!, lookup);
      if (value === undefined) return undefined;
      out += escapeRegExp(value);
      last = m.index + m[0].length;
    }
  }
  return out + wildcards(pattern.slice(last));
}

const wildcards = (literal: string): string =>
  literal
    .split('*')
    .map((part) => part.split('?').map(escapeRegExp).join('.'))
    .join('.*');

/** `${*}`, `${?}` and `${$}` stand for the literal characters, as in IAM. */
function resolveVariable(name: string, lookup: VariableLookup): string | undefined {
  if (name === '*' || name === '?' || name === '$') return name;
  const v = lookup(name);
  return typeof v === 'string' ? v : undefined;
}

/** Substitutes variables in a condition value (literal result); undefined when one is missing. */
export function substitute(value: string, lookup: VariableLookup): string | undefined {
  if (!value.includes('${')) return value;
  let missing = false;
  const out = value.replace(VARIABLE, (_, name: string) => {
    const v = resolveVariable(name, lookup);
    if (v === undefined) missing = true;
    return v ?? '';
  });
  return missing ? undefined : out;
}

/** A single glob matched against a literal value, without variables (role subject bindings). */
export function globMatches(pattern: string, value: string): boolean {
  return new RegExp(`^${wildcards(pattern)}$`).test(value);
}
