// Every constraint of botocore's models on the input of every operation we implement, held against our schemas:
// each violation must give AWS's exact ValidationException sentence from parseInput (unit level, no server).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../../src/core/errors.js';
import type { Operation } from '../../src/core/operation.js';
import { SENSITIVE_MEMBERS } from '../../src/core/validation-message.js';
import { parseInput } from '../../src/core/wire.js';
import { kmsOperations } from '../../src/kms/api.js';
import { secretsOperations } from '../../src/secrets/api.js';
import { loadModel } from './aws-model.js';
import { ModelCases } from './model-cases.js';

/**
 * Where Keysafe keeps AWS's documented behaviour rather than the model's constraint (member path → reason).
 * Each entry must still match a member of the model, or the test fails (no stale exceptions).
 */
const EXCEPTIONS: Record<string, string> = {
  'kms.ScheduleKeyDeletion.PendingWindowInDays':
    "AWS's documentation and answers keep the waiting period to 7–30 days; the model's 1–365 is wider",
  'kms.ListResourceTags.Limit': "AWS documents ListResourceTags' Limit as 1–50; the model's shape is the shared 1–1000",
};

/**
 * Members Keysafe requires where the model does not: the model made CiphertextBlob optional for
 * DryRunModifiers IGNORE_CIPHERTEXT, which Keysafe does not honour; without it AWS cannot decrypt either.
 */
const ALSO_REQUIRED: Record<string, Record<string, string[]>> = {
  kms: { Decrypt: ['CiphertextBlob'], ReEncrypt: ['CiphertextBlob'] },
};

/** An operation still answering UnsupportedOperationException takes any input (`z.object({}).loose()`). */
const isRefusal = (op: Operation<never>) => op.input instanceof z.ZodObject && Object.keys(op.input.shape).length === 0;

function failureOf(op: Operation<never>, input: unknown): string {
  try {
    parseInput(op.input, input);
  } catch (e) {
    if (e instanceof AppError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'parsed';
}

const sentence = (clauses: string[]) =>
  `ValidationException: ${clauses.length} validation error${clauses.length === 1 ? '' : 's'} detected: ${clauses.join('; ')}`;

const services = [
  { name: 'kms', model: loadModel('kms'), operations: kmsOperations as Record<string, Operation<never>> },
  {
    name: 'secretsmanager',
    model: loadModel('secretsmanager'),
    operations: secretsOperations as Record<string, Operation<never>>,
  },
];
const used = new Set<string>();

for (const service of services) {
  const cases = new ModelCases(service.model, ALSO_REQUIRED[service.name]);
  const implemented = Object.keys(service.operations).filter(
    (name) => name in service.model.operations && !isRefusal(service.operations[name] as Operation<never>),
  );

  describe(`${service.name}: the model's input constraints`, () => {
    it.each(implemented)('%s parses a minimal valid input', (name) => {
      expect(failureOf(service.operations[name] as Operation<never>, cases.validInput(name))).toBe('parsed');
    });

    const violations = implemented.flatMap((name) =>
      cases.violations(name).map((v) => ({ ...v, op: name, key: `${service.name}.${v.member}` })),
    );
    it.each(violations.map((v) => [`${v.member} (${v.what})`, v] as const))('%s', (_label, v) => {
      const excepted = Object.keys(EXCEPTIONS).find((k) => v.key === k || v.key.startsWith(`${k}.`));
      if (excepted) {
        used.add(excepted);
        return;
      }
      expect(failureOf(service.operations[v.op] as Operation<never>, v.input)).toBe(sentence(v.clauses));
    });

    it('names every sensitive member of the model in SENSITIVE_MEMBERS, and only those', () => {
      const sensitive = new Set<string>();
      const plain = new Set<string>();
      for (const op of Object.values(service.model.operations)) {
        const shape = op.input && service.model.shapes[op.input.shape];
        for (const [member, ref] of Object.entries(shape?.members ?? {})) {
          (service.model.shapes[ref.shape]?.sensitive ? sensitive : plain).add(member);
        }
      }
      for (const member of sensitive) expect(SENSITIVE_MEMBERS.has(member), member).toBe(true);
      for (const member of plain) expect(SENSITIVE_MEMBERS.has(member), member).toBe(false);
    });
  });
}

describe('the exceptions table', () => {
  it('has no stale entries', () => {
    for (const key of Object.keys(EXCEPTIONS)) expect(used.has(key), key).toBe(true);
  });
});
