// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are ${…} in plain strings.
// IAM policy documents under fuzzing (they arrive in PutKeyPolicy, PutResourcePolicy and role configs):
// any document compiles or is refused with MalformedPolicyDocumentException, never a runtime fault;
// evaluation never throws; the wildcard matcher agrees with a reference matcher.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlobs } from '../../src/auth/glob.js';
import { compilePolicy, evaluatePolicy } from '../../src/auth/policy.js';
import { AppError } from '../../src/core/errors.js';
import {
  deepMutatedInput,
  edgeString,
  expectTypedError,
  fuzzRuns,
  fuzzTimeout,
  type Json,
  outcomeOf,
  unicodeString,
} from './support.js';

const ACCOUNT = '000000000000';

const VALID: Json = {
  Version: '2012-10-17',
  Id: 'fuzz',
  Statement: [
    {
      Sid: 'deny',
      Effect: 'Deny',
      Principal: { AWS: ['arn:aws:iam::000000000000:role/app', 'arn:aws:iam::000000000000:root'] },
      NotAction: ['kms:Describe*', 'kms:Get?ublicKey'],
      Resource: '*',
      Condition: {
        StringNotEqualsIfExists: { 'kms:EncryptionContext:tenant': ['${aws:username}', 'a*b?'] },
        'ForAnyValue:StringLike': { 'kms:EncryptionContextKeys': 'x*' },
        Null: { 'jwt:sub': 'false' },
        Bool: { 'aws:SecureTransport': true },
      },
    },
    {
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:*',
      NotResource: ['arn:aws:kms:*:${aws:PrincipalAccount}:key/*'],
      Condition: { 'ForAllValues:StringEqualsIgnoreCase': { 'keysafe:RoleName': ['App', '${*}${?}${$}'] } },
    },
  ],
};

const policyValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(
    'Allow',
    'Deny',
    '*',
    'kms:*',
    'kms:',
    ':x',
    '${',
    '${}',
    '${a',
    '?',
    '**??',
    'StringLike',
    'ForAnyValue:',
    'IfExists',
    'ForAllValues:NullIfExists',
    { AWS: '*' },
    { AWS: [] },
    { Service: 'x' },
    { CanonicalUser: 'x' },
    ['*', 1],
    [],
    [''],
    true,
    null,
  ) as fc.Arbitrary<Json>,
  edgeString,
  unicodeString(20),
);

const lookupFrom = (values: Record<string, string | string[]>) => (name: string) =>
  Object.hasOwn(values, name.toLowerCase()) ? values[name.toLowerCase()] : undefined;

describe('IAM policy documents under fuzzing', { timeout: fuzzTimeout() }, () => {
  it('compiles any mutated document or refuses it with MalformedPolicyDocumentException; evaluation never throws', () => {
    expect(() => compilePolicy(VALID as object, 'resource', ACCOUNT)).not.toThrow();
    fc.assert(
      fc.property(
        deepMutatedInput(VALID, policyValue),
        fc.constantFrom('resource', 'identity') as fc.Arbitrary<'resource'>,
        fc.record({
          action: fc.oneof(fc.constantFrom('kms:Decrypt', 'kms:GetPublicKey', 'KMS:DECRYPT', ''), unicodeString(10)),
          resource: fc.oneof(fc.constantFrom('arn:aws:kms:us-east-1:000000000000:key/k', '*'), unicodeString(10)),
          values: fc.dictionary(
            fc.constantFrom('kms:encryptioncontext:tenant', 'kms:encryptioncontextkeys', 'aws:username', 'jwt:sub'),
            fc.oneof(unicodeString(8), fc.array(unicodeString(6), { maxLength: 3 })),
          ),
        }),
        (doc, kind, req) => {
          const text = JSON.stringify(doc) ?? 'undefined';
          const r = outcomeOf(() => compilePolicy(text, kind, ACCOUNT));
          if (!r.ok) {
            expectTypedError(r.error, [AppError]);
            expect((r.error as AppError).code).toBe('MalformedPolicyDocumentException');
            expect((r.error as Error).message.length).toBeLessThan(500);
            return;
          }
          const verdict = outcomeOf(() =>
            evaluatePolicy(r.value, {
              action: req.action,
              resource: req.resource,
              principals: ['arn:aws:iam::000000000000:role/app'],
              lookup: lookupFrom(req.values),
            }),
          );
          expect(verdict.ok, verdict.ok ? '' : String(verdict.error)).toBe(true);
        },
      ),
      { numRuns: fuzzRuns(400) },
    );
  });

  /** IAM wildcards, by the book: `*` any run of characters (line breaks too), `?` exactly one. */
  function reference(pattern: string, value: string): boolean {
    const memo = new Map<string, boolean>();
    const go = (i: number, j: number): boolean => {
      const k = `${i},${j}`;
      if (memo.has(k)) return memo.get(k)!;
      let out: boolean;
      if (i === pattern.length) out = j === value.length;
      else if (pattern[i] === '*') out = go(i + 1, j) || (j < value.length && go(i, j + 1));
      else if (j === value.length) out = false;
      else out = (pattern[i] === '?' || pattern[i] === value[j]) && go(i + 1, j + 1);
      memo.set(k, out);
      return out;
    };
    return go(0, 0);
  }

  const none = () => undefined;
  const wild = (chars: string[]) => fc.string({ unit: fc.constantFrom(...chars), maxLength: 8 });

  it('matches * and ? patterns exactly as the reference does, for values without line breaks', () => {
    fc.assert(
      fc.property(wild(['a', 'b', '*', '?', '.', '^', '$']), wild(['a', 'b', '*', '?', '.', '^', '$', 'é']), (p, v) => {
        expect(compileGlobs([p], false).test(v, none), `${JSON.stringify(p)} ~ ${JSON.stringify(v)}`).toBe(
          reference(p, v),
        );
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  // Found by this test: a pattern with `?` was matched by a RegExp without the `s` flag, so a Deny on
  // StringLike "prod-?" was evaded by the value "prod-\n".
  it('matches ? and * across line breaks as the reference does', () => {
    fc.assert(
      fc.property(wild(['a', '*', '?']), wild(['a', '\n', '\r', '\u2028']), (p, v) => {
        expect(compileGlobs([p], false).test(v, none), `${JSON.stringify(p)} ~ ${JSON.stringify(v)}`).toBe(
          reference(p, v),
        );
      }),
      { numRuns: fuzzRuns(200), examples: [['prod-?', 'prod-\n']] },
    );
  });
});
