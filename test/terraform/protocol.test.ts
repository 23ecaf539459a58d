// The provider's protocol as loaded from its .proto files: every definition matches the descriptors compiled
// into the real terraform binary, messages encode and decode to the exact protobuf wire bytes Terraform
// exchanges, and nothing the handlers write is dropped.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  loadFileDescriptorSetFromBuffer,
  type MethodDefinition,
  type PackageDefinition,
  type ServiceDefinition,
} from '@grpc/proto-loader';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CtyType, decodeDynamic, encodeValue } from '../../src/terraform/provider/cty.js';
import { createProviderHandlers } from '../../src/terraform/provider/framework.js';
import { LOAD_OPTIONS, loadProtocol } from '../../src/terraform/provider/protocol.js';
import { keysafeProvider } from '../../src/terraform/provider/provider.js';
import { requireTerraform } from '../support/terraform.js';

// A protobuf writer written from the wire-format spec (tag = field << 3 | wire type; varints base 128),
// independent of the library under test.
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n > 127; n = Math.floor(n / 128)) out.push((n % 128) | 128);
  out.push(n);
  return out;
};
/** A length-delimited field (wire type 2): strings, bytes, embedded messages, map entries. */
const ld = (field: number, ...parts: (Buffer | string)[]): Buffer => {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return Buffer.from([...varint(field * 8 + 2), ...varint(body.length), ...body]);
};
/** A varint field (wire type 0): ints, enums, bools. */
const vi = (field: number, n: number): Buffer => Buffer.from([...varint(field * 8), ...varint(n)]);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

type Method = MethodDefinition<object, object>;
type Dynamic = { msgpack?: Uint8Array; json?: Uint8Array };
let definition: PackageDefinition;
let provider: ServiceDefinition;
const method = (name: string) => provider[name] as Method;

beforeAll(() => {
  definition = loadProtocol();
  provider = definition['tfplugin6.Provider'] as ServiceDefinition;
});

describe('tfplugin6 from the .proto files', () => {
  it('encodes a GetProviderSchema response to the wire bytes of protocol 6.8', () => {
    const str = Buffer.from('"string"'); // an attribute's cty type, JSON
    const response = {
      provider: { block: { attributes: [{ name: 'address', type: str, description: 'URL', optional: true }] } },
      resource_schemas: {
        keysafe_key: {
          version: 1,
          block: {
            attributes: [{ name: 'id', type: str, computed: true }],
            block_types: [{ type_name: 'tags', block: {}, nesting: 3 }],
          },
        },
      },
      diagnostics: [
        {
          severity: 1,
          summary: 's',
          detail: 'd',
          attribute: { steps: [{ attribute_name: 'a' }, { element_key_int: 2 }, { element_key_string: 'k' }] },
        },
      ],
      server_capabilities: { plan_destroy: true },
      ephemeral_resource_schemas: {
        keysafe_secret_value: {
          block: { attributes: [{ name: 'v', type: str, sensitive: true, description_kind: 1, write_only: true }] },
        },
      },
    };
    const expected = Buffer.concat([
      // provider = 1: Schema { block = 2: Block { attributes = 2: Attribute { name 1, type 2, description 3, optional 5 } } }
      ld(1, ld(2, ld(2, ld(1, 'address'), ld(2, str), ld(3, 'URL'), vi(5, 1)))),
      // resource_schemas = 2: map entry { key 1, value 2: Schema { version 1, block 2 } }
      ld(
        2,
        ld(1, 'keysafe_key'),
        ld(
          2,
          vi(1, 1),
          // Block { attributes 2: { name 1, type 2, computed 6 }, block_types 3: NestedBlock { type_name 1, block 2, nesting 3 } }
          ld(2, ld(2, ld(1, 'id'), ld(2, str), vi(6, 1)), ld(3, ld(1, 'tags'), ld(2), vi(3, 3))),
        ),
      ),
      // diagnostics = 4: Diagnostic { severity 1, summary 2, detail 3, attribute 4: AttributePath { steps 1 } }
      ld(
        4,
        vi(1, 1),
        ld(2, 's'),
        ld(3, 'd'),
        // Step: attribute_name 1 | element_key_string 2 | element_key_int 3
        ld(4, ld(1, ld(1, 'a')), ld(1, vi(3, 2)), ld(1, ld(2, 'k'))),
      ),
      // server_capabilities = 6: { plan_destroy 1 }
      ld(6, vi(1, 1)),
      // ephemeral_resource_schemas = 8: Attribute { sensitive 7, description_kind 8, write_only 11 }
      ld(8, ld(1, 'keysafe_secret_value'), ld(2, ld(2, ld(2, ld(1, 'v'), ld(2, str), vi(7, 1), vi(8, 1), vi(11, 1))))),
    ]);
    expect(hex(method('GetProviderSchema').responseSerialize(response))).toBe(hex(expected));
  });

  it('decodes a PlanResourceChange request as Terraform sends it, values as cty msgpack', () => {
    const type: CtyType = ['object', { name: 'string', rotate: 'bool' }];
    const proposed = encodeValue(type, { name: 'app', rotate: true });
    const config = encodeValue(type, { name: 'app', rotate: null });
    const bytes = Buffer.concat([
      ld(1, 'keysafe_key'), // type_name
      ld(2, ld(1, Buffer.from([0xc0]))), // prior_state: DynamicValue { msgpack 1 = nil }
      ld(3, ld(1, proposed)), // proposed_new_state
      ld(4, ld(1, config)), // config
      ld(5, Buffer.from('prior')), // prior_private
      ld(6, ld(2, '{}')), // provider_meta: DynamicValue { json 2 }
      ld(7, vi(1, 1), vi(2, 1)), // client_capabilities { deferral_allowed 1, write_only_attributes_allowed 2 }
    ]);
    const request = method('PlanResourceChange').requestDeserialize(bytes) as Record<string, Dynamic & Uint8Array>;
    expect(request.type_name).toBe('keysafe_key');
    expect(decodeDynamic(type, request.prior_state)).toBeNull();
    expect(decodeDynamic(type, request.proposed_new_state)).toEqual({ name: 'app', rotate: true });
    expect(decodeDynamic(type, request.config)).toEqual({ name: 'app', rotate: null });
    expect(Buffer.from(request.prior_private!).toString()).toBe('prior');
    expect(Buffer.from(request.provider_meta!.json!).toString()).toBe('{}');
    expect(request.client_capabilities).toEqual({ deferral_allowed: true, write_only_attributes_allowed: true });
  });

  it('encodes a PlanResourceChange response: planned state, replacement paths, private data, diagnostics', () => {
    const planned = encodeValue(['object', { name: 'string' }], { name: 'app' });
    const response = {
      planned_state: { msgpack: planned },
      requires_replace: [{ steps: [{ attribute_name: 'key_spec' }] }],
      planned_private: Buffer.from('p'),
      diagnostics: [{ severity: 2, summary: 'w' }],
    };
    const expected = Buffer.concat([
      ld(1, ld(1, planned)),
      ld(2, ld(1, ld(1, 'key_spec'))),
      ld(3, 'p'),
      ld(4, vi(1, 2), ld(2, 'w')),
    ]);
    expect(hex(method('PlanResourceChange').responseSerialize(response))).toBe(hex(expected));
  });

  it('carries ApplyResourceChange and ReadResource states in their own field numbers', () => {
    const state = Buffer.from([0x80]); // an empty msgpack map
    expect(
      hex(method('ApplyResourceChange').responseSerialize({ new_state: { msgpack: state }, private: state })),
    ).toBe(hex(Buffer.concat([ld(1, ld(1, state)), ld(2, state)])));
    expect(hex(method('ReadResource').responseSerialize({ new_state: { msgpack: state }, private: state }))).toBe(
      hex(Buffer.concat([ld(1, ld(1, state)), ld(3, state)])),
    );
    const apply = method('ApplyResourceChange').requestDeserialize(
      Buffer.concat([ld(1, 't'), ld(3, ld(1, state)), ld(4, ld(1, state)), ld(5, 'pp')]),
    ) as Record<string, { msgpack: Uint8Array }>;
    expect(hex(apply.planned_state!.msgpack)).toBe('80');
    expect(hex(apply.config!.msgpack)).toBe('80');
    expect(Buffer.from(apply.planned_private as unknown as Uint8Array).toString()).toBe('pp');
  });

  it('serves every RPC the handlers implement, and go-plugin and health services with their wire names', () => {
    const handlers = createProviderHandlers(keysafeProvider, {});
    for (const name of Object.keys(handlers)) expect(method(name)?.path, name).toBe(`/tfplugin6.Provider/${name}`);
    expect((definition['plugin.GRPCController'] as ServiceDefinition).Shutdown!.path).toBe(
      '/plugin.GRPCController/Shutdown',
    );
    expect((definition['plugin.GRPCStdio'] as ServiceDefinition).StreamStdio!.responseStream).toBe(true);
    const broker = (definition['plugin.GRPCBroker'] as ServiceDefinition).StartStream!;
    expect([broker.requestStream, broker.responseStream]).toEqual([true, true]);
    const health = definition['grpc.health.v1.Health'] as ServiceDefinition;
    expect(hex(health.Check!.responseSerialize({ status: 1 }))).toBe(hex(vi(1, 1)));
    expect(health.Check!.requestDeserialize(ld(1, 'plugin'))).toEqual({ service: 'plugin' });
  });

  it("keeps every field of the provider's real schema through the wire (no name the .proto lacks)", async () => {
    const handlers = createProviderHandlers(keysafeProvider, {});
    const response = (await handlers.GetProviderSchema({})) as Record<string, unknown>;
    const codec = method('GetProviderSchema');
    const back = codec.responseDeserialize(codec.responseSerialize(response)) as Record<string, unknown>;
    const missing: string[] = [];
    const walk = (sent: unknown, got: unknown, path: string) => {
      if (sent === undefined || sent === null) return;
      if (sent instanceof Uint8Array) {
        if (!(got instanceof Uint8Array) || hex(sent) !== hex(got)) missing.push(path);
      } else if (Array.isArray(sent)) {
        if (!Array.isArray(got) || got.length !== sent.length) missing.push(path);
        else for (const [i, s] of sent.entries()) walk(s, got[i], `${path}[${i}]`);
      } else if (typeof sent === 'object') {
        for (const [k, v] of Object.entries(sent)) walk(v, (got as Record<string, unknown>)?.[k], `${path}.${k}`);
      } else if (sent !== got) missing.push(`${path} (${String(sent)} → ${String(got)})`);
    };
    walk(response, back, 'response');
    expect(missing).toEqual([]);
    expect(Object.keys(response.resource_schemas as object).length).toBeGreaterThan(0);
  });
});

// The terraform binary holds each compiled .proto as a serialized FileDescriptorProto (Go's raw descriptor):
// found by its leading field, `name` (1), and read field by field up to the first byte that is not one.
const DESCRIPTOR_FIELD_WIRE: Record<number, number> = {
  1: 2,
  2: 2,
  3: 2,
  4: 2,
  5: 2,
  6: 2,
  7: 2,
  8: 2,
  9: 2,
  10: 0,
  11: 0,
  12: 2,
  14: 0,
};
const readVarint = (b: Buffer, at: number): [number, number] => {
  let n = 0;
  for (let scale = 1; ; scale *= 128) {
    const byte = b[at++]!;
    n += (byte & 127) * scale;
    if (byte < 128) return [n, at];
  }
};
function compiledDescriptor(binary: Buffer, file: string): Buffer {
  const start = binary.indexOf(Buffer.concat([Buffer.from([0x0a, file.length]), Buffer.from(file)]));
  if (start < 0) throw new Error(`no descriptor of ${file} in the terraform binary`);
  for (let at = start; ; ) {
    const [tag, next] = readVarint(binary, at);
    if (DESCRIPTOR_FIELD_WIRE[Math.floor(tag / 8)] !== tag % 8) return binary.subarray(start, at);
    if (tag % 8 === 0) at = readVarint(binary, next)[1];
    else {
      const [length, body] = readVarint(binary, next);
      at = body + length;
    }
  }
}

type FieldProto = { name: string; number: number; label: string; type: string; typeName: string };
type MessageProto = {
  name: string;
  field: FieldProto[];
  nestedType: MessageProto[];
  enumType: EnumProto[];
  options: { mapEntry?: boolean } | null;
};
type EnumProto = { name: string; value: { name: string; number: number }[] };
const simpleName = (typeName: string) => typeName.split('.').at(-1);
/** The map entry type of a field, if it is a map (protobufjs may copy an entry's mapEntry option onto its parent). */
const mapEntryOf = (message: MessageProto, field: FieldProto) =>
  field.label === 'LABEL_REPEATED'
    ? message.nestedType.find((n) => n.options?.mapEntry && n.name === simpleName(field.typeName))
    : undefined;
/** Every message (map entries aside) and enum of a package definition by full name, nested ones included. */
function definitions(definition: PackageDefinition) {
  const messages = new Map<string, MessageProto>();
  const enums = new Map<string, EnumProto>();
  const addMessage = (name: string, message: MessageProto) => {
    messages.set(name, message);
    const entries = new Set(message.field.map((f) => mapEntryOf(message, f)));
    for (const nested of message.nestedType) if (!entries.has(nested)) addMessage(`${name}.${nested.name}`, nested);
    for (const e of message.enumType) enums.set(`${name}.${e.name}`, e);
  };
  for (const [name, def] of Object.entries(definition)) {
    const { format, type } = def as { format?: string; type?: unknown };
    if (format?.endsWith(' DescriptorProto')) addMessage(name, type as MessageProto);
    if (format?.endsWith(' EnumDescriptorProto')) enums.set(name, type as EnumProto);
  }
  return { messages, enums };
}
/** A field's wire shape: number, label and type; a map by its key and value (entry names vary by compiler). */
function fieldShape(message: MessageProto, field: FieldProto): string {
  const entry = mapEntryOf(message, field);
  if (entry) return `${field.number} map<${entry.field.map((f) => `${f.type} ${simpleName(f.typeName)}`).join(', ')}>`;
  return `${field.number} ${field.label} ${field.type} ${simpleName(field.typeName)}`;
}

describe.skipIf(!requireTerraform('the protocol check against the terraform binary'))(
  'the .proto files against the terraform binary',
  () => {
    let terraform: PackageDefinition;
    beforeAll(() => {
      const path = execFileSync('sh', ['-c', 'command -v terraform'], { encoding: 'utf8' }).trim();
      const binary = readFileSync(path);
      const files = [
        'tfplugin6.proto',
        'internal/plugin/grpc_controller.proto',
        'internal/plugin/grpc_stdio.proto',
        'internal/plugin/grpc_broker.proto',
        'grpc/health/v1/health.proto',
        'google/protobuf/timestamp.proto',
        'google/protobuf/empty.proto',
      ];
      // A FileDescriptorSet: each file as field 1.
      const set = Buffer.concat(files.map((file) => ld(1, compiledDescriptor(binary, file))));
      terraform = loadFileDescriptorSetFromBuffer(set, LOAD_OPTIONS);
    });

    it('has every message, field (name, number, type, label) and enum value as Terraform compiles them', () => {
      const ours = definitions(loadProtocol());
      const theirs = definitions(terraform);
      const wrong: string[] = [];
      for (const [name, message] of ours.messages) {
        const compiled = theirs.messages.get(name);
        if (!compiled) {
          wrong.push(`${name}: no such message`);
          continue;
        }
        for (const f of message.field) {
          const c = compiled.field.find((x) => x.name === f.name);
          const [mine, real] = [fieldShape(message, f), c ? fieldShape(compiled, c) : 'none'];
          if (mine !== real) wrong.push(`${name}.${f.name}: ${mine} ≠ ${real}`);
        }
      }
      for (const [name, e] of ours.enums) {
        const compiled = new Map(theirs.enums.get(name)?.value.map((v) => [v.name, v.number]));
        for (const v of e.value) if (compiled.get(v.name) !== v.number) wrong.push(`${name}.${v.name} = ${v.number}`);
      }
      expect(wrong).toEqual([]);
      expect(ours.messages.size).toBeGreaterThan(50);
    });

    it('has every RPC with its path, message types and streaming as Terraform calls them', () => {
      const ours = loadProtocol();
      const services = ['tfplugin6.Provider', 'plugin.GRPCController', 'plugin.GRPCStdio', 'plugin.GRPCBroker'];
      for (const service of [...services, 'grpc.health.v1.Health']) {
        for (const [name, m] of Object.entries(ours[service] as ServiceDefinition)) {
          const c = (terraform[service] as ServiceDefinition)[name];
          const shape = (x: MethodDefinition<object, object>) =>
            [
              x.path,
              x.requestStream,
              x.responseStream,
              (x.requestType.type as MessageProto).name,
              (x.responseType.type as MessageProto).name,
            ].join(' ');
          expect(c && shape(c), `${service}/${name}`).toBe(shape(m));
        }
      }
    });
  },
);
