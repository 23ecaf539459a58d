// AWS JSON 1.1 input parsing: zod schemas for blobs and bounded fields, with AWS's error texts.
import { z } from 'zod';
import { AppError } from './errors.js';
import { ownRecord } from './records.js';
import {
  enumSetText,
  markBlob,
  markEnum,
  modelPattern,
  validationClauses,
  validationSentence,
} from './validation-message.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A base64 blob member decoded to bytes; its length bounds apply to the decoded bytes. */
export function blob(min = 1, max = 6144) {
  return markBlob(
    z
      .string()
      .refine((s) => BASE64.test(s), { message: 'base64', params: { serialization: true } })
      .transform((s) => Buffer.from(s, 'base64'))
      .refine((b) => b.length >= min, { message: `Member must have length greater than or equal to ${min}` })
      .refine((b) => b.length <= max, { message: `Member must have length less than or equal to ${max}` }),
  );
}

/**
 * A string member with the model's length bounds (`min` undefined: the model gives none) and, if it has one,
 * its pattern (named in AWS's message).
 */
export function str(min: number | undefined, max: number, pattern?: string) {
  const s = min === undefined ? z.string().max(max) : z.string().min(min).max(max);
  if (pattern === undefined) return s;
  const { regex, message } = modelPattern(pattern);
  return s.regex(regex, { message });
}
/**
 * An enum member Keysafe accepts `supported` values of. A value outside the model's set is refused naming
 * the model's set (in the model's order, as AWS prints it); a value of the model Keysafe does not support
 * yet is refused naming what Keysafe accepts.
 */
export function awsEnum<const T extends readonly [string, ...string[]]>(
  supported: T,
  model: readonly string[] = supported,
) {
  const inModel = enumSetText(model);
  const ours = enumSetText(supported);
  return markEnum(z.enum(supported, { error: (iss) => (model.includes(String(iss.input)) ? ours : inModel) }), model);
}

export const int = (min: number, max: number) => z.number().int().min(min).max(max);
/**
 * An encryption context: a JSON object of strings. Not z.record, which skips a "__proto__" key: the
 * context {"__proto__":"x"} would bind nothing, and its ciphertext would decrypt with no context.
 */
export const context = z
  .custom<Record<string, string>>(
    (v) =>
      typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'),
    { params: { serialization: true } },
  )
  // Own data properties, "__proto__" included, on an ordinary object.
  .transform((v) => ownRecord(Object.entries(v)))
  .optional();

/**
 * Parses an operation's input. Type mismatches and bad base64 are SerializationException (as
 * AWS answers them); constraint violations are ValidationException in AWS's exact sentence
 * (validation-message.ts: which values are echoed, paths, lists).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const serialization = result.error.issues.find(
    (i) =>
      (i.code === 'invalid_type' && !isMissing(valueAt(input, i.path))) ||
      (i.code === 'custom' && i.params?.serialization),
  );
  if (serialization) {
    throw new AppError(
      'SerializationException',
      `Could not parse '${serialization.path.map(String).join('.')}': wrong type or encoding`,
    );
  }
  throw new AppError('ValidationException', validationSentence(validationClauses(schema, result.error.issues, input)));
}

const isMissing = (v: unknown) => v === undefined || v === null;

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** Epoch seconds, the AWS JSON protocol's timestamp encoding. */
export const epochSeconds = (ms: number): number => ms / 1000;

/** Opaque pagination markers (base64url of the store cursor). */
export const encodeMarker = (cursor: string): string => Buffer.from(cursor, 'utf8').toString('base64url');
export function decodeMarker(marker: string | undefined): string | undefined {
  if (marker === undefined) return undefined;
  const decoded = Buffer.from(marker, 'base64url').toString('utf8');
  if (encodeMarker(decoded) !== marker) throw new AppError('InvalidMarkerException', 'The marker is invalid.');
  return decoded;
}
