// A small resource framework over tfplugin6: schemas, validation with attribute paths, planning (computed
// attributes unknown on create, prior copied otherwise, "forces replacement", write-only attributes never
// planned or stored), apply, refresh (drift), import, data sources and ephemeral resources.
import { KeysafeApiError, type KeysafeClient } from './client.js';
import {
  type CtyObject,
  type CtyType,
  type CtyValue,
  ctyEqual,
  decodeDynamic,
  encodeDynamic,
  isUnknown,
  normalize,
  UNKNOWN,
} from './cty.js';
import { type Attributes, type Schema, schemaMessage, schemaType } from './schema.js';

export interface Diagnostic {
  severity: 'error' | 'warning';
  summary: string;
  detail?: string;
  /** Attribute path: attribute or block names (strings), map keys (`{ key }`) or list indexes (numbers). */
  path?: (string | number | { key: string })[];
}

/** Throw to report diagnostics (e.g. a validation failure found while applying). */
export class DiagnosticError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => d.summary).join('; '));
  }
}

export interface PlanArgs {
  prior: CtyObject | null;
  planned: CtyObject;
  config: CtyObject;
}

export interface ResourceDefinition {
  typeName: string;
  schema: Schema;
  validate?(config: CtyObject): Diagnostic[];
  /** Resource-specific plan adjustments after the generic ones (e.g. a computed value that will change). */
  modifyPlan?(args: PlanArgs): void;
  create(client: KeysafeClient, planned: CtyObject, config: CtyObject): Promise<CtyObject>;
  /** The resource as it is now, or null when it is gone. `state` is the prior state (for kept values). */
  read(client: KeysafeClient, state: CtyObject): Promise<CtyObject | null>;
  update(client: KeysafeClient, prior: CtyObject, planned: CtyObject, config: CtyObject): Promise<CtyObject>;
  delete(client: KeysafeClient, prior: CtyObject): Promise<void>;
  /** The state to hand to read() for `terraform import … <id>`; default `{id}`. */
  importState?(id: string): CtyObject;
}

export interface DataSourceDefinition {
  typeName: string;
  schema: Schema;
  validate?(config: CtyObject): Diagnostic[];
  read(client: KeysafeClient, config: CtyObject): Promise<CtyObject>;
}

export interface EphemeralResourceDefinition {
  typeName: string;
  schema: Schema;
  validate?(config: CtyObject): Diagnostic[];
  open(client: KeysafeClient, config: CtyObject): Promise<CtyObject>;
}

export interface ProviderDefinition {
  schema: Schema;
  validate?(config: CtyObject): Diagnostic[];
  configure(config: CtyObject, env: NodeJS.ProcessEnv): KeysafeClient;
  resources: ResourceDefinition[];
  dataSources: DataSourceDefinition[];
  ephemeralResources: EphemeralResourceDefinition[];
}

type Dv = { msgpack?: Uint8Array; json?: Uint8Array } | null | undefined;
type Req = Record<string, unknown>;

function diagMessage(d: Diagnostic) {
  return {
    severity: d.severity === 'error' ? 1 : 2,
    summary: d.summary,
    detail: d.detail ?? '',
    ...(d.path &&
      d.path.length > 0 && {
        attribute: {
          steps: d.path.map((step) =>
            typeof step === 'string'
              ? { attribute_name: step }
              : typeof step === 'number'
                ? { element_key_int: step }
                : { element_key_string: step.key },
          ),
        },
      }),
  };
}

function errorDiagnostics(e: unknown, what: string): Diagnostic[] {
  if (e instanceof DiagnosticError) return e.diagnostics;
  const detail = e instanceof KeysafeApiError ? e.message : e instanceof Error ? e.message : String(e);
  return [{ severity: 'error', summary: what, detail }];
}

/** Null every write-only attribute: they never reach plan or state. */
function withoutWriteOnly(attributes: Attributes, value: CtyObject): CtyObject {
  const out = { ...value };
  for (const [k, a] of Object.entries(attributes)) if (a.writeOnly) out[k] = null;
  return out;
}

/** The RPC handlers of tfplugin6.Provider, as plain async functions from request to response objects. */
export function createProviderHandlers(def: ProviderDefinition, env: NodeJS.ProcessEnv = process.env) {
  const resources = new Map(def.resources.map((r) => [r.typeName, r]));
  const dataSources = new Map(def.dataSources.map((d) => [d.typeName, d]));
  const ephemerals = new Map(def.ephemeralResources.map((d) => [d.typeName, d]));
  const types = new Map<Schema, CtyType>();
  const typeOf = (schema: Schema): CtyType => {
    const cached = types.get(schema);
    if (cached) return cached;
    const t = schemaType(schema);
    types.set(schema, t);
    return t;
  };
  const decode = (schema: Schema, dv: unknown) => decodeDynamic(typeOf(schema), dv as Dv) as CtyObject | null;
  const encode = (schema: Schema, value: CtyValue) => encodeDynamic(typeOf(schema), value);
  let client: KeysafeClient | undefined;

  const lookup = <T>(map: Map<string, T>, name: unknown): T => {
    const found = map.get(String(name));
    if (!found) throw new DiagnosticError([{ severity: 'error', summary: `Unknown type ${String(name)}` }]);
    return found;
  };
  const needClient = (): KeysafeClient => {
    if (!client) throw new DiagnosticError([{ severity: 'error', summary: 'The keysafe provider is not configured' }]);
    return client;
  };
  /** Runs a validator, skipping attributes whose values are not known yet. */
  const validate = (
    validator: ((config: CtyObject) => Diagnostic[]) | undefined,
    config: CtyObject | null,
  ): Diagnostic[] => {
    if (!validator || !config) return [];
    const known: CtyObject = {};
    for (const [k, v] of Object.entries(config)) known[k] = isUnknown(v) ? null : v;
    return validator(known);
  };

  return {
    GetProviderSchema(_req: Req) {
      return {
        provider: schemaMessage(def.schema),
        resource_schemas: Object.fromEntries(def.resources.map((r) => [r.typeName, schemaMessage(r.schema)])),
        data_source_schemas: Object.fromEntries(def.dataSources.map((d) => [d.typeName, schemaMessage(d.schema)])),
        ephemeral_resource_schemas: Object.fromEntries(
          def.ephemeralResources.map((d) => [d.typeName, schemaMessage(d.schema)]),
        ),
        provider_meta: { version: 0, block: { attributes: [], block_types: [] } },
        server_capabilities: { plan_destroy: false, get_provider_schema_optional: true, move_resource_state: false },
        diagnostics: [],
      };
    },

    ValidateProviderConfig(req: Req) {
      const config = decode(def.schema, req.config);
      return { diagnostics: validate(def.validate, config).map(diagMessage) };
    },

    ConfigureProvider(req: Req) {
      const config = decode(def.schema, req.config) ?? {};
      try {
        client = def.configure(config, env);
        return { diagnostics: [] };
      } catch (e) {
        return { diagnostics: errorDiagnostics(e, 'Cannot configure the keysafe provider').map(diagMessage) };
      }
    },

    ValidateResourceConfig(req: Req) {
      const r = lookup(resources, req.type_name);
      return { diagnostics: validate(r.validate, decode(r.schema, req.config)).map(diagMessage) };
    },

    UpgradeResourceState(req: Req) {
      const r = lookup(resources, req.type_name);
      const raw = req.raw_state as { json?: Uint8Array } | undefined;
      const state =
        raw?.json && raw.json.length > 0
          ? (normalize(typeOf(r.schema), JSON.parse(Buffer.from(raw.json).toString('utf8'))) as CtyObject)
          : null;
      return {
        upgraded_state: encode(r.schema, state && withoutWriteOnly(r.schema.attributes, state)),
        diagnostics: [],
      };
    },

    async ReadResource(req: Req) {
      const r = lookup(resources, req.type_name);
      const current = decode(r.schema, req.current_state);
      if (!current) return { new_state: encode(r.schema, null), diagnostics: [], private: req.private };
      try {
        const now = await r.read(needClient(), current);
        return {
          new_state: encode(r.schema, now && withoutWriteOnly(r.schema.attributes, now)),
          diagnostics: [],
          private: req.private,
        };
      } catch (e) {
        return {
          new_state: encode(r.schema, current),
          diagnostics: errorDiagnostics(e, `Cannot read ${r.typeName}`).map(diagMessage),
        };
      }
    },

    PlanResourceChange(req: Req) {
      const r = lookup(resources, req.type_name);
      const attributes = r.schema.attributes;
      const prior = decode(r.schema, req.prior_state);
      const proposed = decode(r.schema, req.proposed_new_state);
      const config = decode(r.schema, req.config) ?? {};
      if (!proposed) return { planned_state: encode(r.schema, null), requires_replace: [], diagnostics: [] };
      const planned = withoutWriteOnly(attributes, proposed);
      const requiresReplace: string[] = [];
      if (prior) {
        for (const [k, a] of Object.entries(attributes)) {
          if (a.forceNew && !ctyEqual(prior[k], planned[k])) requiresReplace.push(k);
        }
      }
      if (!prior || requiresReplace.length > 0) {
        for (const [k, a] of Object.entries(attributes)) {
          if (a.computed && (config[k] ?? null) === null) planned[k] = a.default !== undefined ? a.default : UNKNOWN;
        }
      }
      try {
        r.modifyPlan?.({ prior: requiresReplace.length > 0 ? null : prior, planned, config });
      } catch (e) {
        return {
          planned_state: encode(r.schema, planned),
          requires_replace: [],
          diagnostics: errorDiagnostics(e, `Cannot plan ${r.typeName}`).map(diagMessage),
        };
      }
      return {
        planned_state: encode(r.schema, planned),
        requires_replace: requiresReplace.map((k) => ({ steps: [{ attribute_name: k }] })),
        planned_private: req.prior_private,
        diagnostics: [],
      };
    },

    async ApplyResourceChange(req: Req) {
      const r = lookup(resources, req.type_name);
      const attributes = r.schema.attributes;
      const prior = decode(r.schema, req.prior_state);
      const planned = decode(r.schema, req.planned_state);
      const config = decode(r.schema, req.config) ?? {};
      try {
        let state: CtyObject | null;
        if (!planned) {
          if (prior) await r.delete(needClient(), prior);
          state = null;
        } else if (!prior) {
          state = await r.create(needClient(), planned, config);
        } else {
          state = await r.update(needClient(), prior, planned, config);
        }
        return { new_state: encode(r.schema, state && withoutWriteOnly(attributes, state)), diagnostics: [] };
      } catch (e) {
        const op = !planned ? 'delete' : !prior ? 'create' : 'update';
        return {
          new_state: encode(r.schema, prior),
          diagnostics: errorDiagnostics(e, `Cannot ${op} ${r.typeName}`).map(diagMessage),
        };
      }
    },

    ImportResourceState(req: Req) {
      const r = lookup(resources, req.type_name);
      const id = String(req.id);
      const state = r.importState ? r.importState(id) : { id };
      return {
        imported_resources: [{ type_name: r.typeName, state: encode(r.schema, state) }],
        diagnostics: [],
      };
    },

    ValidateDataResourceConfig(req: Req) {
      const d = lookup(dataSources, req.type_name);
      return { diagnostics: validate(d.validate, decode(d.schema, req.config)).map(diagMessage) };
    },

    async ReadDataSource(req: Req) {
      const d = lookup(dataSources, req.type_name);
      const config = decode(d.schema, req.config) ?? {};
      try {
        return { state: encode(d.schema, await d.read(needClient(), config)), diagnostics: [] };
      } catch (e) {
        return { diagnostics: errorDiagnostics(e, `Cannot read data source ${d.typeName}`).map(diagMessage) };
      }
    },

    ValidateEphemeralResourceConfig(req: Req) {
      const d = lookup(ephemerals, req.type_name);
      return { diagnostics: validate(d.validate, decode(d.schema, req.config)).map(diagMessage) };
    },

    async OpenEphemeralResource(req: Req) {
      const d = lookup(ephemerals, req.type_name);
      const config = decode(d.schema, req.config) ?? {};
      try {
        return { result: encode(d.schema, await d.open(needClient(), config)), diagnostics: [] };
      } catch (e) {
        return { diagnostics: errorDiagnostics(e, `Cannot open ${d.typeName}`).map(diagMessage) };
      }
    },

    RenewEphemeralResource(_req: Req) {
      return { diagnostics: [] };
    },

    CloseEphemeralResource(_req: Req) {
      return { diagnostics: [] };
    },

    StopProvider(_req: Req) {
      return { Error: '' };
    },
  };
}

export type ProviderHandlers = ReturnType<typeof createProviderHandlers>;

/** Wraps a handler so a thrown DiagnosticError (e.g. an unknown type) becomes a diagnostics response. */
export function safely<T extends (req: Req) => unknown>(fn: T) {
  return async (req: Req): Promise<unknown> => {
    try {
      return await fn(req);
    } catch (e) {
      return { diagnostics: errorDiagnostics(e, 'Provider error').map(diagMessage) };
    }
  };
}
