// ListSecrets filters, pure: word splitting, word and prefix matching, case rules per key, negation, combination, refusals.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import {
  type CompleteFilter,
  checkFilters,
  type FilterSubject,
  filterMatches,
  filtersMatch,
  splitWords,
  wordsMatch,
} from '../../src/secrets/list-filters.js';

const secret = (over: Partial<FilterSubject> = {}): FilterSubject => ({
  name: 'prod/billing/DbPassword',
  description: 'Primary database password for the billing-service',
  tags: [
    { Key: 'Team', Value: 'Payments' },
    { Key: 'env', Value: 'production' },
  ],
  primaryRegion: 'eu-west-1',
  ...over,
});

const matches = (filter: CompleteFilter, subject = secret()) => filterMatches(filter, subject);

describe('splitWords', () => {
  it.each([
    ['prod/billing/db', ['prod', 'billing', 'db']],
    ['a_b+c=d.e@f-g h', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']],
    ['MyProdSecret', ['My', 'Prod', 'Secret']],
    ['myProdSecret', ['my', 'Prod', 'Secret']],
    ['HTTPServer', ['HTTP', 'Server']],
    ['db2Prod', ['db2', 'Prod']],
    ['prod/appA/dbSecret', ['prod', 'app', 'A', 'db', 'Secret']],
    ['  two  spaces\tand\ttabs ', ['two', 'spaces', 'and', 'tabs']],
    ['mixed/sep+arators_too', ['mixed', 'sep', 'arators', 'too']],
    ['UPPER', ['UPPER']],
    ['lower', ['lower']],
    ['', []],
    ['/', []],
    ['-/_', []],
  ])('%j → %j', (input, words) => {
    expect(splitWords(input)).toEqual(words);
  });
});

describe('wordsMatch', () => {
  it('needs every word of the value to begin a word of the field, in any order and case', () => {
    expect(wordsMatch('pass', 'DbPassword')).toBe(true);
    expect(wordsMatch('PASS db', 'DbPassword')).toBe(true);
    expect(wordsMatch('db pass', 'prod/DbPassword')).toBe(true);
    expect(wordsMatch('word', 'DbPassword')).toBe(false); // inside a word, not at its start
    expect(wordsMatch('db secret', 'DbPassword')).toBe(false); // one word missing
  });
  it('matches nothing with a value that has no words', () => {
    expect(wordsMatch('', 'anything')).toBe(false);
    expect(wordsMatch('/', 'a/b')).toBe(false);
  });
});

describe('keys and their case rules', () => {
  it('name: prefix of the whole name, case-sensitive', () => {
    expect(matches({ Key: 'name', Values: ['prod/bil'] })).toBe(true);
    expect(matches({ Key: 'name', Values: ['Prod/bil'] })).toBe(false);
    expect(matches({ Key: 'name', Values: ['billing'] })).toBe(false); // not a prefix of the whole name
  });
  it('description: word by word, not case-sensitive', () => {
    expect(matches({ Key: 'description', Values: ['BILLING serv'] })).toBe(true);
    expect(matches({ Key: 'description', Values: ['database primary'] })).toBe(true);
    expect(matches({ Key: 'description', Values: ['Primary data'] })).toBe(true);
    expect(matches({ Key: 'description', Values: ['base'] })).toBe(false);
    expect(matches({ Key: 'description', Values: ['x'] }, secret({ description: undefined }))).toBe(false);
  });
  it('tag-key and tag-value: prefix of one tag, case-sensitive', () => {
    expect(matches({ Key: 'tag-key', Values: ['Te'] })).toBe(true);
    expect(matches({ Key: 'tag-key', Values: ['te'] })).toBe(false);
    expect(matches({ Key: 'tag-value', Values: ['prod'] })).toBe(true);
    expect(matches({ Key: 'tag-value', Values: ['Prod'] })).toBe(false);
    expect(matches({ Key: 'tag-value', Values: ['ments'] })).toBe(false);
    expect(matches({ Key: 'tag-key', Values: ['T'] }, secret({ tags: [] }))).toBe(false);
  });
  it('primary-region: prefix, case-sensitive', () => {
    expect(matches({ Key: 'primary-region', Values: ['eu-'] })).toBe(true);
    expect(matches({ Key: 'primary-region', Values: ['EU-'] })).toBe(false);
    expect(matches({ Key: 'primary-region', Values: ['us-'] })).toBe(false);
  });
  it('owning-service: prefix, case-sensitive; a secret no service owns never matches', () => {
    expect(matches({ Key: 'owning-service', Values: ['rds'] })).toBe(false);
    expect(matches({ Key: 'owning-service', Values: ['rds'] }, secret({ owningService: 'rds' }))).toBe(true);
    expect(matches({ Key: 'owning-service', Values: ['RDS'] }, secret({ owningService: 'rds' }))).toBe(false);
  });
  it('all: word by word over name, description, tag keys and values, each on its own, not case-sensitive', () => {
    expect(matches({ Key: 'all', Values: ['dbpass'] })).toBe(false);
    expect(matches({ Key: 'all', Values: ['PASSWORD'] })).toBe(true);
    expect(matches({ Key: 'all', Values: ['payments'] })).toBe(true);
    expect(matches({ Key: 'all', Values: ['team'] })).toBe(true);
    expect(matches({ Key: 'all', Values: ['prod db'] })).toBe(true); // both in the name
    expect(matches({ Key: 'all', Values: ['team payments'] })).toBe(false); // key and value are two fields
    expect(matches({ Key: 'all', Values: ['eu'] })).toBe(false); // the region is not searched
  });
});

describe('negation and combination', () => {
  it('`!` keeps exactly the secrets the plain value does not match', () => {
    expect(matches({ Key: 'name', Values: ['!prod'] })).toBe(false);
    expect(matches({ Key: 'name', Values: ['!dev'] })).toBe(true);
    expect(matches({ Key: 'description', Values: ['!billing'] })).toBe(false);
    expect(matches({ Key: 'all', Values: ['!payments'] })).toBe(false);
  });
  it('`!` on tags: no tag matches (an untagged secret passes)', () => {
    expect(matches({ Key: 'tag-key', Values: ['!env'] })).toBe(false);
    expect(matches({ Key: 'tag-key', Values: ['!owner'] })).toBe(true);
    expect(matches({ Key: 'tag-key', Values: ['!env'] }, secret({ tags: [] }))).toBe(true);
  });
  it('values of one filter: any plain value, and no negated one', () => {
    expect(matches({ Key: 'name', Values: ['dev', 'prod'] })).toBe(true);
    expect(matches({ Key: 'name', Values: ['dev', 'test'] })).toBe(false);
    expect(matches({ Key: 'name', Values: ['prod', '!prod/billing'] })).toBe(false);
    expect(matches({ Key: 'name', Values: ['!dev', '!test'] })).toBe(true);
    expect(matches({ Key: 'name', Values: ['!dev', '!prod'] })).toBe(false);
  });
  it('filters: all apply, two on one key included', () => {
    const both = (a: string, b: string) =>
      filtersMatch(
        [
          { Key: 'description', Values: [a] },
          { Key: 'description', Values: [b] },
        ],
        secret(),
      );
    expect(both('billing', 'database')).toBe(true);
    expect(both('billing', 'cache')).toBe(false);
    expect(filtersMatch([], secret())).toBe(true);
  });
});

describe('checkFilters', () => {
  const refusal = (filters: Parameters<typeof checkFilters>[0]) => {
    try {
      checkFilters(filters);
    } catch (e) {
      if (e instanceof AppError) return [e.code, e.message];
    }
    return undefined;
  };
  it('refuses a filter without Key or without Values, with AWS texts, in request order', () => {
    expect(refusal([{ Values: ['x'] }])).toEqual(['InvalidParameterException', 'Invalid filter key']);
    expect(refusal([{ Key: 'tag-key' }])).toEqual([
      'InvalidParameterException',
      'Invalid filter values for key: tag-key',
    ]);
    expect(refusal([{ Key: 'name', Values: ['a'] }, {}])).toEqual(['InvalidParameterException', 'Invalid filter key']);
    expect(refusal([{ Key: 'name', Values: ['a'] }])).toBeUndefined();
  });
});
