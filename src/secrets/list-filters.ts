// ListSecrets and BatchGetSecretValue filters as AWS documents them: which field each key reads, word or
// prefix matching, case rules, `!` negation, and AWS's refusal of a filter without Key or Values. Pure.
import { AppError } from '../core/errors.js';

export const FILTER_KEYS = [
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** A filter as the request carries it: the model makes both members optional, AWS refuses either missing. */
export interface SecretFilter {
  Key?: FilterKey | undefined;
  Values?: readonly string[] | undefined;
}

/** A filter with both members, as checkFilters returns it. */
export interface CompleteFilter {
  Key: FilterKey;
  Values: readonly string[];
}

/** What a filter can read of a secret. */
export interface FilterSubject {
  name: string;
  description?: string | undefined;
  tags: readonly { Key: string; Value: string }[];
  /** The secret's primary region (its own region while Keysafe has no replication). */
  primaryRegion?: string | undefined;
  /** The AWS service that manages the secret; Keysafe's secrets have none. */
  owningService?: string | undefined;
}

/**
 * How a key matches. `words`: the value and each field are split into words, and every word of the value
 * must be the prefix of some word of one field (not case-sensitive). `prefix`: the value is a prefix of a
 * whole field, case-sensitive (the model's Filter documentation).
 */
const RULES: Record<FilterKey, { mode: 'words' | 'prefix'; fields: (s: FilterSubject) => string[] }> = {
  description: { mode: 'words', fields: (s) => (s.description ? [s.description] : []) },
  name: { mode: 'prefix', fields: (s) => [s.name] },
  'tag-key': { mode: 'prefix', fields: (s) => s.tags.map((t) => t.Key) },
  'tag-value': { mode: 'prefix', fields: (s) => s.tags.map((t) => t.Value) },
  'primary-region': { mode: 'prefix', fields: (s) => (s.primaryRegion ? [s.primaryRegion] : []) },
  'owning-service': { mode: 'prefix', fields: (s) => (s.owningService ? [s.owningService] : []) },
  all: {
    mode: 'words',
    fields: (s) => [s.name, ...(s.description ? [s.description] : []), ...s.tags.flatMap((t) => [t.Key, t.Value])],
  },
};

/** Separators between words: white space and the punctuation a secret name may hold. */
const SEPARATORS = /[\s/_+=.@-]+/;
/** Case changes inside a piece: `myProd` → my|Prod, `db2Prod` → db2|Prod, `HTTPServer` → HTTP|Server. */
const CASE_CHANGE = /(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/;

/** The words of a value or field: split on separators, then on case changes. */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  for (const piece of s.split(SEPARATORS)) {
    if (piece !== '') words.push(...piece.split(CASE_CHANGE));
  }
  return words;
}

/** Every word of `value` begins some word of `field`, ignoring case; a value without words matches nothing. */
export function wordsMatch(value: string, field: string): boolean {
  const wanted = splitWords(value).map((w) => w.toLowerCase());
  if (wanted.length === 0) return false;
  const have = splitWords(field).map((w) => w.toLowerCase());
  return wanted.every((w) => have.some((h) => h.startsWith(w)));
}

/** Whether one (positive) value matches the secret under a key. */
function valueMatches(key: FilterKey, value: string, subject: FilterSubject): boolean {
  const rule = RULES[key];
  const fields = rule.fields(subject);
  return rule.mode === 'prefix' ? fields.some((f) => f.startsWith(value)) : fields.some((f) => wordsMatch(value, f));
}

/**
 * One filter: the secret matches one of its plain values (if it has any) and none of its `!` values.
 * A `!` value is the complement of the plain one: `!prod` on `tag-key` keeps secrets with no tag key
 * beginning with `prod` (untagged ones included).
 */
export function filterMatches(filter: CompleteFilter, subject: FilterSubject): boolean {
  const plain = filter.Values.filter((v) => !v.startsWith('!'));
  const negated = filter.Values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
  if (negated.some((v) => valueMatches(filter.Key, v, subject))) return false;
  return plain.length === 0 || plain.some((v) => valueMatches(filter.Key, v, subject));
}

/** Every filter holds (several filters on one key all apply); the filters come from checkFilters. */
export function filtersMatch(filters: readonly CompleteFilter[], subject: FilterSubject): boolean {
  return filters.every((f) => filterMatches(f, subject));
}

/** AWS's refusals of a filter without Key or without Values, in request order; the filters, complete. */
export function checkFilters(filters: readonly SecretFilter[]): CompleteFilter[] {
  return filters.map((f) => {
    if (f.Key === undefined) throw new AppError('InvalidParameterException', 'Invalid filter key');
    if (f.Values === undefined) {
      throw new AppError('InvalidParameterException', `Invalid filter values for key: ${f.Key}`);
    }
    return { Key: f.Key, Values: f.Values };
  });
}
