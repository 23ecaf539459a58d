// The ValidationException sentence's rules that the model sweep does not reach: JSON nulls, type errors,
// values Keysafe does not support yet, several failures of one member, secrets never echoed.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../../src/core/errors.js';
import { parseInput } from '../../src/core/wire.js';
import { kmsOperations } from '../../src/kms/api.js';
import { secretsOperations } from '../../src/secrets/api.js';

function failure(schema: Parameters<typeof parseInput>[0], input: unknown): { code: string; message: string } {
  try {
    parseInput(schema, input);
  } catch (e) {
    if (e instanceof AppError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('parsed');
}

const op = (name: string) => {
  const found = kmsOperations[name] ?? secretsOperations[name];
  if (!found) throw new Error(name);
  return found.input;
};

describe('parseInput', () => {
  it('takes a JSON null as a missing member', () => {
    expect(failure(op('DescribeKey'), { KeyId: null })).toEqual({
      code: 'ValidationException',
      message:
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    });
  });

  it('answers a wrong type as SerializationException, not as a constraint', () => {
    expect(failure(op('DescribeKey'), { KeyId: 5 }).code).toBe('SerializationException');
  });

  it('reports each constraint a value breaks, counted in one sentence', () => {
    expect(failure(op('DeleteAlias'), { AliasName: '' }).message).toBe(
      "2 validation errors detected: Value '' at 'aliasName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
        "Value '' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
    );
  });

  it("names what Keysafe accepts for a model value it does not support yet, the model's set otherwise", () => {
    const supported = failure(op('Encrypt'), { KeyId: 'k', Plaintext: 'AA==', EncryptionAlgorithm: 'SM2PKE' });
    expect(supported.message).toBe(
      "1 validation error detected: Value 'SM2PKE' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256]",
    );
    const unknown = failure(op('Encrypt'), { KeyId: 'k', Plaintext: 'AA==', EncryptionAlgorithm: 'ROT13' });
    expect(unknown.message).toContain('[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]');
  });

  it('never echoes a sensitive member or a blob, however it fails', () => {
    const secret = 'hunter2-'.repeat(9000);
    const put = failure(op('PutSecretValue'), { SecretId: 'a', SecretString: secret, RotationToken: 'hunter2!' });
    expect(put.message).not.toContain('hunter2');
    expect(put.message).toContain("Value at 'rotationToken'");
    const decrypt = failure(op('Decrypt'), { CiphertextBlob: Buffer.alloc(6145, 7).toString('base64') });
    expect(decrypt.message).toBe(
      "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=6145 cap=6145]' at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144",
    );
  });

  it('names a pattern given to zod directly by its source', () => {
    expect(failure(z.object({ Name: z.string().regex(/^[a-z]+$/) }), { Name: 'B' }).message).toBe(
      "1 validation error detected: Value 'B' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z]+$",
    );
  });
});
