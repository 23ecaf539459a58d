// What a provider built on the framework declares: its resources, data sources and ephemeral resources, and diagnostics.
import type { KeysafeClient } from './client.js';
import type { CtyObject } from './cty.js';
import type { Schema } from './schema.js';

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
