// Every operation of botocore's KMS and Secrets Manager models has an entry in Keysafe's operation tables,
// and only the custom key store operations (and, until issue 16 lands, its "not yet" list) are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_ID_ONLY_OPERATIONS } from '../../src/kms/api/key-id-only.js';
import { kmsOperations } from '../../src/kms/index.js';
import { secretsOperations } from '../../src/secrets/index.js';
import { botocoreModel } from '../support/botocore-models.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { postRaw, signJsonRequest } from '../support/sigv4.js';
import { REFUSED_FOR_GOOD } from './coverage-lists.js';

const SERVICES = [
  { service: 'kms', target: 'TrentService', table: kmsOperations },
  { service: 'secretsmanager', target: 'secretsmanager', table: secretsOperations },
] as const;

describe.each(SERVICES)('the $service model', ({ service, table }) => {
  const model = botocoreModel(service);

  it('has an entry in the operation table for each of its operations, and the table nothing else', () => {
    const operations = Object.keys(model.operations).sort();
    expect(operations.length).toBeGreaterThan(service === 'kms' ? 50 : 20);
    expect(operations.filter((op) => !(op in table))).toEqual([]);
    expect(Object.keys(table).filter((op) => !(op in model.operations))).toEqual([]);
  });
});

describe('operations refused with UnsupportedOperationException', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('are the custom key store operations and the "not yet" list of issue 16, nothing else', async () => {
    const refused: string[] = [];
    for (const { service, target } of SERVICES) {
      for (const op of Object.keys(botocoreModel(service).operations)) {
        const headers = await signJsonRequest(server.url, server.admin, `${target}.${op}`, '{}');
        const { text } = await postRaw(server.url, headers, '{}');
        if (text.includes('"UnsupportedOperationException"')) refused.push(op);
      }
    }
    expect(refused.sort()).toEqual([...REFUSED_FOR_GOOD].sort());
  });
});

describe('KeyId members that take only a key id or key ARN', () => {
  it('are the ones the model documents so (aliases refused there: src/kms/api/key-id-only.ts)', () => {
    const model = botocoreModel('kms');
    const keyIdOnly: string[] = [];
    for (const [op, { input }] of Object.entries(model.operations)) {
      const doc = input && model.shapes[input.shape]?.members?.KeyId?.documentation;
      if (doc === undefined) continue;
      const text = doc.replace(/<[^>]+>/g, '');
      const takesAliases = /alias name|alias ARN/.test(text) && !text.includes('Alias names are not supported');
      if (!takesAliases) keyIdOnly.push(op);
    }
    // The HMAC operations do not say, and AWS takes aliases in every cryptographic operation.
    const expected = keyIdOnly.filter((op) => op !== 'GenerateMac' && op !== 'VerifyMac').sort();
    expect([...KEY_ID_ONLY_OPERATIONS].sort()).toEqual(expected);
  });
});
