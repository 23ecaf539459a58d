// A small schema DSL: attributes with their flags, turned into tfplugin6 Schema messages and cty types.
import type { CtyType, CtyValue } from './cty.js';

export interface Attribute {
  type: CtyType;
  description: string;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
  sensitive?: boolean;
  /** Terraform ≥ 1.11: only in config, never in plan or state. */
  writeOnly?: boolean;
  /** A change of this attribute replaces the resource ("forces replacement"). */
  forceNew?: boolean;
  /** For optional+computed attributes: the value planned on create when the config leaves it null. */
  default?: CtyValue;
}

export type Attributes = Record<string, Attribute>;

/** A nested block written `name { … }` at most once (nesting SINGLE): its value is an object, or null when absent. */
export interface NestedBlock {
  description: string;
  attributes: Attributes;
}

export interface Schema {
  version: number;
  description: string;
  attributes: Attributes;
  blocks?: Record<string, NestedBlock>;
}

type Flags = Omit<Attribute, 'type' | 'description'>;
const make =
  (type: CtyType) =>
  (description: string, flags: Flags = {}): Attribute => ({ type, description, ...flags });

export const attr = {
  string: make('string'),
  number: make('number'),
  bool: make('bool'),
  stringMap: make(['map', 'string']),
  stringList: make(['list', 'string']),
  stringSet: make(['set', 'string']),
};

export function objectType(attributes: Attributes, blocks: Record<string, NestedBlock> = {}): CtyType {
  return [
    'object',
    {
      ...Object.fromEntries(Object.entries(attributes).map(([k, a]) => [k, a.type])),
      ...Object.fromEntries(Object.entries(blocks).map(([k, b]) => [k, objectType(b.attributes)])),
    },
  ];
}

/** The cty type of a whole schema: its attributes and its blocks. */
export const schemaType = (schema: Schema): CtyType => objectType(schema.attributes, schema.blocks);

function attributeMessages(attributes: Attributes) {
  return Object.entries(attributes).map(([name, a]) => ({
    name,
    type: Buffer.from(JSON.stringify(a.type)),
    description: a.description,
    required: a.required === true,
    optional: a.optional === true,
    computed: a.computed === true,
    sensitive: a.sensitive === true || a.writeOnly === true,
    write_only: a.writeOnly === true,
    description_kind: 0,
  }));
}

/** The tfplugin6 `Schema` message for a block of attributes. */
export function schemaMessage(schema: Schema) {
  return {
    version: schema.version,
    block: {
      version: schema.version,
      description: schema.description,
      description_kind: 0,
      attributes: attributeMessages(schema.attributes),
      block_types: Object.entries(schema.blocks ?? {}).map(([name, b]) => ({
        type_name: name,
        nesting: 1, // SINGLE
        min_items: 0,
        max_items: 0,
        block: {
          version: schema.version,
          description: b.description,
          description_kind: 0,
          attributes: attributeMessages(b.attributes),
          block_types: [],
        },
      })),
    },
  };
}
