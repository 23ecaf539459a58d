// The provider's wire pieces without Terraform: cty msgpack values and schema-driven planning.
import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { type CtyType, decodeDynamic, encodeValue, UNKNOWN } from '../../src/terraform/provider/cty.js';
import type { ProviderDefinition } from '../../src/terraform/provider/definitions.js';
import { createProviderHandlers } from '../../src/terraform/provider/framework.js';
import { keysafeProvider } from '../../src/terraform/provider/provider.js';
import { objectType } from '../../src/terraform/provider/schema.js';

const objType: CtyType = ['object', { a: 'string', n: 'number', tags: ['map', 'string'], b: 'bool' }];

describe('cty msgpack codec', () => {
  it('writes unknown as extension 0 with one zero byte, as cty does', () => {
    expect(encodeValue('string', UNKNOWN).toString('hex')).toBe('d40000');
  });

  it('reads any extension type as unknown (ext 12 is a refined unknown)', () => {
    const refined = Buffer.from('d40c00', 'hex');
    expect(decodeDynamic('string', { msgpack: refined })).toBe(UNKNOWN);
  });

  it('writes every object attribute, null ones as nil', () => {
    const bytes = encodeValue(objType, { a: 'x' });
    expect(decode(bytes)).toEqual({ a: 'x', n: null, tags: null, b: null });
    expect(bytes.includes(0xc0)).toBe(true);
  });

  it('keeps integers beyond 2^53 exact, and decimal strings that a double cannot hold', () => {
    const big = 2n ** 62n + 1n;
    const back = decodeDynamic(objType, { msgpack: encodeValue(objType, { n: big }) }) as Record<string, unknown>;
    expect(back.n).toBe(big);
    const text = decodeDynamic('number', { msgpack: encodeValue('string', '0.1000000000000000000001') });
    expect(text).toBe('0.1000000000000000000001');
    expect(decodeDynamic('number', { msgpack: encodeValue('number', 1.5) })).toBe(1.5);
  });

  it('reads JSON when msgpack is empty (raw state) and fills missing attributes', () => {
    const json = Buffer.from(JSON.stringify({ a: 'y', b: true }));
    expect(decodeDynamic(objType, { msgpack: new Uint8Array(), json })).toEqual({
      a: 'y',
      n: null,
      tags: null,
      b: true,
    });
  });
});

describe('resource planning', () => {
  const handlers = createProviderHandlers(keysafeProvider as ProviderDefinition, {});
  const key = keysafeProvider.resources.find((r) => r.typeName === 'keysafe_kms_key')!;
  const secret = keysafeProvider.resources.find((r) => r.typeName === 'keysafe_secret')!;
  const dv = (schema: typeof key.schema, v: unknown) => ({ msgpack: encodeValue(objectType(schema.attributes), v) });
  const read = (schema: typeof key.schema, v: { msgpack?: Uint8Array }) =>
    decodeDynamic(objectType(schema.attributes), v) as Record<string, unknown>;

  it('plans computed attributes unknown on create and fills optional defaults', () => {
    const config = { description: 'd' };
    const res = handlers.PlanResourceChange({
      type_name: 'keysafe_kms_key',
      prior_state: dv(key.schema, null),
      proposed_new_state: dv(key.schema, config),
      config: dv(key.schema, config),
    });
    const planned = read(key.schema, res.planned_state);
    expect(planned.id).toBe(UNKNOWN);
    expect(planned.arn).toBe(UNKNOWN);
    expect(planned.key_spec).toBe('SYMMETRIC_DEFAULT');
    expect(planned.description).toBe('d');
  });

  it('marks a changed immutable attribute as requiring replacement', () => {
    const prior = {
      id: 'k1',
      arn: 'arn',
      key_spec: 'SYMMETRIC_DEFAULT',
      key_usage: 'ENCRYPT_DECRYPT',
      description: 'd',
    };
    const next = { ...prior, key_spec: 'HMAC_256', key_usage: 'GENERATE_VERIFY_MAC' };
    const res = handlers.PlanResourceChange({
      type_name: 'keysafe_kms_key',
      prior_state: dv(key.schema, prior),
      proposed_new_state: dv(key.schema, next),
      config: dv(key.schema, { key_spec: 'HMAC_256', key_usage: 'GENERATE_VERIFY_MAC', description: 'd' }),
    });
    expect(res.requires_replace.map((p) => p.steps[0]?.attribute_name).sort()).toEqual(['key_spec', 'key_usage']);
    expect(read(key.schema, res.planned_state).id).toBe(UNKNOWN);
  });

  it('never plans a write-only value, and a new value_wo_version makes the version id unknown', () => {
    const prior = { id: 's', arn: 's', name: 'n', value_wo_version: 1, version_id: 'v1' };
    const config = { name: 'n', value_wo: 'hunter2', value_wo_version: 2 };
    const res = handlers.PlanResourceChange({
      type_name: 'keysafe_secret',
      prior_state: dv(secret.schema, prior),
      proposed_new_state: dv(secret.schema, { ...prior, ...config }),
      config: dv(secret.schema, config),
    });
    const planned = read(secret.schema, res.planned_state);
    expect(planned.value_wo).toBeNull();
    expect(planned.version_id).toBe(UNKNOWN);
    expect(Buffer.from(res.planned_state.msgpack).includes('hunter2')).toBe(false);
  });

  it('reports validation errors with the attribute path', () => {
    const res = handlers.ValidateResourceConfig({
      type_name: 'keysafe_kms_key',
      config: dv(key.schema, { rotation_period_in_days: 10 }),
    });
    expect(res.diagnostics).toHaveLength(1);
    expect(res.diagnostics[0]).toMatchObject({
      severity: 1,
      summary: 'Invalid rotation_period_in_days',
      attribute: { steps: [{ attribute_name: 'rotation_period_in_days' }] },
    });
  });
});
