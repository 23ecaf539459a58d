// The subset of Terraform's plugin protocol 6 (tfplugin6.8) and go-plugin's services this provider speaks,
// written by hand as a protobufjs JSON descriptor from the documented message and field numbers (facts
// of the wire format). Loaded with @grpc/proto-loader's fromJSON: no .proto file to ship, bundle-friendly.
import type { PackageDefinition } from '@grpc/proto-loader';
import { fromJSON } from '@grpc/proto-loader';

type Field = { type: string; id: number; rule?: 'repeated'; keyType?: string };
type Message = { fields: Record<string, Field>; nested?: Record<string, unknown>; oneofs?: Record<string, unknown> };

/** `name: "type id"`, `"repeated type id"` or `"map<string,type> id"` → a descriptor message. */
function msg(spec: Record<string, string>, nested?: Record<string, unknown>): Message {
  const fields: Record<string, Field> = {};
  for (const [name, text] of Object.entries(spec)) {
    const parts = text.split(' ');
    const id = Number(parts[parts.length - 1]);
    if (parts[0] === 'repeated') fields[name] = { rule: 'repeated', type: parts[1]!, id };
    else if (parts[0]!.startsWith('map<')) {
      const [keyType, type] = parts[0]!.slice(4, -1).split(',');
      fields[name] = { keyType: keyType!, type: type!, id };
    } else fields[name] = { type: parts[0]!, id };
  }
  return { fields, ...(nested && { nested }) };
}

const enumOf = (values: string[]) => ({ values: Object.fromEntries(values.map((v, i) => [v, i])) });
const rpc = (name: string, options: { in?: string; out?: string; stream?: boolean } = {}) => ({
  requestType: options.in ?? `${name}.Request`,
  responseType: options.out ?? `${name}.Response`,
  ...(options.stream && { requestStream: true, responseStream: true }),
});
/** A message named after an RPC with nested Request/Response. */
const call = (request: Record<string, string>, response: Record<string, string>, extra?: Record<string, unknown>) => ({
  fields: {},
  nested: { Request: msg(request), Response: msg(response), ...extra },
});

const tfplugin6 = {
  DynamicValue: msg({ msgpack: 'bytes 1', json: 'bytes 2' }),
  Diagnostic: msg(
    { severity: 'Severity 1', summary: 'string 2', detail: 'string 3', attribute: 'AttributePath 4' },
    { Severity: enumOf(['INVALID', 'ERROR', 'WARNING']) },
  ),
  AttributePath: msg(
    { steps: 'repeated Step 1' },
    {
      Step: {
        ...msg({ attribute_name: 'string 1', element_key_string: 'string 2', element_key_int: 'int64 3' }),
        oneofs: { selector: { oneof: ['attribute_name', 'element_key_string', 'element_key_int'] } },
      },
    },
  ),
  StopProvider: call({}, { Error: 'string 1' }),
  RawState: msg({ json: 'bytes 1', flatmap: 'map<string,string> 2' }),
  StringKind: enumOf(['PLAIN', 'MARKDOWN']),
  Schema: msg(
    { version: 'int64 1', block: 'Block 2' },
    {
      Block: msg({
        version: 'int64 1',
        attributes: 'repeated Attribute 2',
        block_types: 'repeated NestedBlock 3',
        description: 'string 4',
        description_kind: 'StringKind 5',
        deprecated: 'bool 6',
      }),
      Attribute: msg({
        name: 'string 1',
        type: 'bytes 2',
        description: 'string 3',
        required: 'bool 4',
        optional: 'bool 5',
        computed: 'bool 6',
        sensitive: 'bool 7',
        description_kind: 'StringKind 8',
        deprecated: 'bool 9',
        nested_type: 'Object 10',
        write_only: 'bool 11',
      }),
      NestedBlock: msg(
        {
          type_name: 'string 1',
          block: 'Block 2',
          nesting: 'NestingMode 3',
          min_items: 'int64 4',
          max_items: 'int64 5',
        },
        { NestingMode: enumOf(['INVALID', 'SINGLE', 'LIST', 'SET', 'MAP', 'GROUP']) },
      ),
      Object: msg(
        { attributes: 'repeated Attribute 1', nesting: 'NestingMode 3' },
        { NestingMode: enumOf(['INVALID', 'SINGLE', 'LIST', 'SET', 'MAP']) },
      ),
    },
  ),
  ServerCapabilities: msg({
    plan_destroy: 'bool 1',
    get_provider_schema_optional: 'bool 2',
    move_resource_state: 'bool 3',
  }),
  ClientCapabilities: msg({ deferral_allowed: 'bool 1', write_only_attributes_allowed: 'bool 2' }),
  Deferred: msg({ reason: 'int32 1' }),
  GetProviderSchema: call(
    {},
    {
      provider: 'Schema 1',
      resource_schemas: 'map<string,Schema> 2',
      data_source_schemas: 'map<string,Schema> 3',
      diagnostics: 'repeated Diagnostic 4',
      provider_meta: 'Schema 5',
      server_capabilities: 'ServerCapabilities 6',
      ephemeral_resource_schemas: 'map<string,Schema> 8',
    },
  ),
  ValidateProviderConfig: call({ config: 'DynamicValue 1' }, { diagnostics: 'repeated Diagnostic 2' }),
  UpgradeResourceState: call(
    { type_name: 'string 1', version: 'int64 2', raw_state: 'RawState 3' },
    { upgraded_state: 'DynamicValue 1', diagnostics: 'repeated Diagnostic 2' },
  ),
  ValidateResourceConfig: call(
    { type_name: 'string 1', config: 'DynamicValue 2', client_capabilities: 'ClientCapabilities 3' },
    { diagnostics: 'repeated Diagnostic 1' },
  ),
  ValidateDataResourceConfig: call(
    { type_name: 'string 1', config: 'DynamicValue 2' },
    { diagnostics: 'repeated Diagnostic 1' },
  ),
  ValidateEphemeralResourceConfig: call(
    { type_name: 'string 1', config: 'DynamicValue 2' },
    { diagnostics: 'repeated Diagnostic 1' },
  ),
  ConfigureProvider: call(
    { terraform_version: 'string 1', config: 'DynamicValue 2', client_capabilities: 'ClientCapabilities 3' },
    { diagnostics: 'repeated Diagnostic 1' },
  ),
  ReadResource: call(
    {
      type_name: 'string 1',
      current_state: 'DynamicValue 2',
      private: 'bytes 3',
      provider_meta: 'DynamicValue 4',
      client_capabilities: 'ClientCapabilities 5',
    },
    { new_state: 'DynamicValue 1', diagnostics: 'repeated Diagnostic 2', private: 'bytes 3', deferred: 'Deferred 4' },
  ),
  PlanResourceChange: call(
    {
      type_name: 'string 1',
      prior_state: 'DynamicValue 2',
      proposed_new_state: 'DynamicValue 3',
      config: 'DynamicValue 4',
      prior_private: 'bytes 5',
      provider_meta: 'DynamicValue 6',
      client_capabilities: 'ClientCapabilities 7',
    },
    {
      planned_state: 'DynamicValue 1',
      requires_replace: 'repeated AttributePath 2',
      planned_private: 'bytes 3',
      diagnostics: 'repeated Diagnostic 4',
      legacy_type_system: 'bool 5',
      deferred: 'Deferred 6',
    },
  ),
  ApplyResourceChange: call(
    {
      type_name: 'string 1',
      prior_state: 'DynamicValue 2',
      planned_state: 'DynamicValue 3',
      config: 'DynamicValue 4',
      planned_private: 'bytes 5',
      provider_meta: 'DynamicValue 6',
    },
    {
      new_state: 'DynamicValue 1',
      private: 'bytes 2',
      diagnostics: 'repeated Diagnostic 3',
      legacy_type_system: 'bool 4',
    },
  ),
  ImportResourceState: call(
    { type_name: 'string 1', id: 'string 2', client_capabilities: 'ClientCapabilities 3' },
    { imported_resources: 'repeated ImportedResource 1', diagnostics: 'repeated Diagnostic 2', deferred: 'Deferred 3' },
    { ImportedResource: msg({ type_name: 'string 1', state: 'DynamicValue 2', private: 'bytes 3' }) },
  ),
  ReadDataSource: call(
    {
      type_name: 'string 1',
      config: 'DynamicValue 2',
      provider_meta: 'DynamicValue 3',
      client_capabilities: 'ClientCapabilities 4',
    },
    { state: 'DynamicValue 1', diagnostics: 'repeated Diagnostic 2', deferred: 'Deferred 3' },
  ),
  OpenEphemeralResource: call(
    { type_name: 'string 1', config: 'DynamicValue 2', client_capabilities: 'ClientCapabilities 3' },
    {
      diagnostics: 'repeated Diagnostic 1',
      renew_at: 'google.protobuf.Timestamp 2',
      result: 'DynamicValue 3',
      private: 'bytes 4',
      deferred: 'Deferred 5',
    },
  ),
  RenewEphemeralResource: call(
    { type_name: 'string 1', private: 'bytes 2' },
    { diagnostics: 'repeated Diagnostic 1', renew_at: 'google.protobuf.Timestamp 2', private: 'bytes 3' },
  ),
  CloseEphemeralResource: call({ type_name: 'string 1', private: 'bytes 2' }, { diagnostics: 'repeated Diagnostic 1' }),
  Provider: {
    methods: Object.fromEntries(
      [
        'GetProviderSchema',
        'ValidateProviderConfig',
        'ValidateResourceConfig',
        'ValidateDataResourceConfig',
        'ValidateEphemeralResourceConfig',
        'UpgradeResourceState',
        'ConfigureProvider',
        'ReadResource',
        'PlanResourceChange',
        'ApplyResourceChange',
        'ImportResourceState',
        'ReadDataSource',
        'OpenEphemeralResource',
        'RenewEphemeralResource',
        'CloseEphemeralResource',
        'StopProvider',
      ].map((name) => [name, rpc(name)]),
    ),
  },
};

// go-plugin's own services (package `plugin`) and the standard health check.
const plugin = {
  Empty: msg({}),
  StdioData: msg({ channel: 'Channel 1', data: 'bytes 2' }, { Channel: enumOf(['INVALID', 'STDOUT', 'STDERR']) }),
  ConnInfo: msg(
    { service_id: 'uint32 1', network: 'string 2', address: 'string 3', knock: 'Knock 4' },
    { Knock: msg({ knock: 'bool 1', ack: 'bool 2', error: 'string 3' }) },
  ),
  GRPCController: { methods: { Shutdown: rpc('Shutdown', { in: 'Empty', out: 'Empty' }) } },
  GRPCStdio: {
    methods: {
      StreamStdio: { requestType: 'google.protobuf.Empty', responseType: 'StdioData', responseStream: true },
    },
  },
  GRPCBroker: { methods: { StartStream: rpc('StartStream', { in: 'ConnInfo', out: 'ConnInfo', stream: true }) } },
};

const health = {
  HealthCheckRequest: msg({ service: 'string 1' }),
  HealthCheckResponse: msg(
    { status: 'ServingStatus 1' },
    { ServingStatus: enumOf(['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN']) },
  ),
  Health: {
    methods: {
      Check: rpc('Check', { in: 'HealthCheckRequest', out: 'HealthCheckResponse' }),
      Watch: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse', responseStream: true },
    },
  },
};

export const DESCRIPTOR = {
  nested: {
    tfplugin6: { nested: tfplugin6 },
    plugin: { nested: plugin },
    grpc: { nested: { health: { nested: { v1: { nested: health } } } } },
    google: {
      nested: {
        protobuf: {
          nested: { Empty: msg({}), Timestamp: msg({ seconds: 'int64 1', nanos: 'int32 2' }) },
        },
      },
    },
  },
};

export function loadProtocol(): PackageDefinition {
  return fromJSON(DESCRIPTOR as unknown as Parameters<typeof fromJSON>[0], {
    keepCase: true,
    longs: Number,
    enums: Number,
    defaults: true,
    oneofs: true,
  });
}
