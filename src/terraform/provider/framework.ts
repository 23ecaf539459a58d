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
import {
  type DataSourceDefinition,
  type Diagnostic,
  DiagnosticError,
  type EphemeralResourceDefinition,
  type ProviderDefinition,
  type ResourceDefinition,
} from './definitions.js';
import { type Attributes, type Schema, schemaMessage, schemaType } from './schema.js';

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
  const p = new ProviderState(def, env);
  return {
    ...providerHandlers(p),
    ...resourceHandlers(p),
    ...dataHandlers(p),
    StopProvider(_req: Req) {
      return { Error: '' };
    },
  };
}

/** What the handlers share: the definitions by type name, the cty types of their schemas, the configured client. */
class ProviderState {
  readonly resources: Map<string, ResourceDefinition>;
  readonly dataSources: Map<string, DataSourceDefinition>;
  readonly ephemerals: Map<string, EphemeralResourceDefinition>;
  private readonly types = new Map<Schema, CtyType>();
  client: KeysafeClient | undefined;

  constructor(
    readonly def: ProviderDefinition,
    readonly env: NodeJS.ProcessEnv,
  ) {
    this.resources = new Map(def.resources.map((r) => [r.typeName, r]));
    this.dataSources = new Map(def.dataSources.map((d) => [d.typeName, d]));
    this.ephemerals = new Map(def.ephemeralResources.map((d) => [d.typeName, d]));
  }

  typeOf(schema: Schema): CtyType {
    const cached = this.types.get(schema);
    if (cached) return cached;
    const t = schemaType(schema);
    this.types.set(schema, t);
    return t;
  }

  decode(schema: Schema, dv: unknown): CtyObject | null {
    return decodeDynamic(this.typeOf(schema), dv as Dv) as CtyObject | null;
  }

  encode(schema: Schema, value: CtyValue) {
    return encodeDynamic(this.typeOf(schema), value);
  }

  needClient(): KeysafeClient {
    if (!this.client)
      throw new DiagnosticError([{ severity: 'error', summary: 'The keysafe provider is not configured' }]);
    return this.client;
  }
}

function lookup<T>(map: Map<string, T>, name: unknown): T {
  const found = map.get(String(name));
  if (!found) throw new DiagnosticError([{ severity: 'error', summary: `Unknown type ${String(name)}` }]);
  return found;
}

/** Runs a validator, skipping attributes whose values are not known yet. */
function validate(
  validator: ((config: CtyObject) => Diagnostic[]) | undefined,
  config: CtyObject | null,
): Diagnostic[] {
  if (!validator || !config) return [];
  const known: CtyObject = {};
  for (const [k, v] of Object.entries(config)) known[k] = isUnknown(v) ? null : v;
  return validator(known);
}

function providerHandlers(p: ProviderState) {
  const { def } = p;
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
      const config = p.decode(def.schema, req.config);
      return { diagnostics: validate(def.validate, config).map(diagMessage) };
    },

    ConfigureProvider(req: Req) {
      const config = p.decode(def.schema, req.config) ?? {};
      try {
        p.client = def.configure(config, p.env);
        return { diagnostics: [] };
      } catch (e) {
        return { diagnostics: errorDiagnostics(e, 'Cannot configure the keysafe provider').map(diagMessage) };
      }
    },
  };
}

function resourceHandlers(p: ProviderState) {
  return {
    ValidateResourceConfig(req: Req) {
      const r = lookup(p.resources, req.type_name);
      return { diagnostics: validate(r.validate, p.decode(r.schema, req.config)).map(diagMessage) };
    },

    UpgradeResourceState(req: Req) {
      const r = lookup(p.resources, req.type_name);
      const raw = req.raw_state as { json?: Uint8Array } | undefined;
      const state =
        raw?.json && raw.json.length > 0
          ? (normalize(p.typeOf(r.schema), JSON.parse(Buffer.from(raw.json).toString('utf8'))) as CtyObject)
          : null;
      return {
        upgraded_state: p.encode(r.schema, state && withoutWriteOnly(r.schema.attributes, state)),
        diagnostics: [],
      };
    },

    ReadResource: (req: Req) => readResource(p, req),
    PlanResourceChange: (req: Req) => planResourceChange(p, req),
    ApplyResourceChange: (req: Req) => applyResourceChange(p, req),

    ImportResourceState(req: Req) {
      const r = lookup(p.resources, req.type_name);
      const id = String(req.id);
      const state = r.importState ? r.importState(id) : { id };
      return {
        imported_resources: [{ type_name: r.typeName, state: p.encode(r.schema, state) }],
        diagnostics: [],
      };
    },
  };
}

/** Refresh: the resource as it is now (drift shows in the plan), null when it is gone. */
async function readResource(p: ProviderState, req: Req) {
  const r = lookup(p.resources, req.type_name);
  const current = p.decode(r.schema, req.current_state);
  if (!current) return { new_state: p.encode(r.schema, null), diagnostics: [], private: req.private };
  try {
    const now = await r.read(p.needClient(), current);
    return {
      new_state: p.encode(r.schema, now && withoutWriteOnly(r.schema.attributes, now)),
      diagnostics: [],
      private: req.private,
    };
  } catch (e) {
    return {
      new_state: p.encode(r.schema, current),
      diagnostics: errorDiagnostics(e, `Cannot read ${r.typeName}`).map(diagMessage),
    };
  }
}

/** Plan: computed attributes unknown on create or replacement, "forces replacement", write-only never planned. */
function planResourceChange(p: ProviderState, req: Req) {
  const r = lookup(p.resources, req.type_name);
  const attributes = r.schema.attributes;
  const prior = p.decode(r.schema, req.prior_state);
  const proposed = p.decode(r.schema, req.proposed_new_state);
  const config = p.decode(r.schema, req.config) ?? {};
  if (!proposed) return { planned_state: p.encode(r.schema, null), requires_replace: [], diagnostics: [] };
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
      planned_state: p.encode(r.schema, planned),
      requires_replace: [],
      diagnostics: errorDiagnostics(e, `Cannot plan ${r.typeName}`).map(diagMessage),
    };
  }
  return {
    planned_state: p.encode(r.schema, planned),
    requires_replace: requiresReplace.map((k) => ({ steps: [{ attribute_name: k }] })),
    planned_private: req.prior_private,
    diagnostics: [],
  };
}

/** Apply: create, update or delete as the plan says; on failure the prior state stands. */
async function applyResourceChange(p: ProviderState, req: Req) {
  const r = lookup(p.resources, req.type_name);
  const attributes = r.schema.attributes;
  const prior = p.decode(r.schema, req.prior_state);
  const planned = p.decode(r.schema, req.planned_state);
  const config = p.decode(r.schema, req.config) ?? {};
  try {
    let state: CtyObject | null;
    if (!planned) {
      if (prior) await r.delete(p.needClient(), prior);
      state = null;
    } else if (!prior) {
      state = await r.create(p.needClient(), planned, config);
    } else {
      state = await r.update(p.needClient(), prior, planned, config);
    }
    return { new_state: p.encode(r.schema, state && withoutWriteOnly(attributes, state)), diagnostics: [] };
  } catch (e) {
    const op = !planned ? 'delete' : !prior ? 'create' : 'update';
    return {
      new_state: p.encode(r.schema, prior),
      diagnostics: errorDiagnostics(e, `Cannot ${op} ${r.typeName}`).map(diagMessage),
    };
  }
}

function dataHandlers(p: ProviderState) {
  return {
    ValidateDataResourceConfig(req: Req) {
      const d = lookup(p.dataSources, req.type_name);
      return { diagnostics: validate(d.validate, p.decode(d.schema, req.config)).map(diagMessage) };
    },

    async ReadDataSource(req: Req) {
      const d = lookup(p.dataSources, req.type_name);
      const config = p.decode(d.schema, req.config) ?? {};
      try {
        return { state: p.encode(d.schema, await d.read(p.needClient(), config)), diagnostics: [] };
      } catch (e) {
        return { diagnostics: errorDiagnostics(e, `Cannot read data source ${d.typeName}`).map(diagMessage) };
      }
    },

    ValidateEphemeralResourceConfig(req: Req) {
      const d = lookup(p.ephemerals, req.type_name);
      return { diagnostics: validate(d.validate, p.decode(d.schema, req.config)).map(diagMessage) };
    },

    async OpenEphemeralResource(req: Req) {
      const d = lookup(p.ephemerals, req.type_name);
      const config = p.decode(d.schema, req.config) ?? {};
      try {
        return { result: p.encode(d.schema, await d.open(p.needClient(), config)), diagnostics: [] };
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
