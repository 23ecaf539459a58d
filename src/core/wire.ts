// AWS JSON 1.1 input parsing: zod schemas for blobs and bounded fields, with AWS's error texts.
import { z } from 'zod';
import { AppError } from './errors.js';
import { ownRecord } from './records.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A base64 blob member decoded to bytes; its length bounds apply to the decoded bytes. */
export function blob(min = 1, max = 6144) {
  return z
    .string()
    .refine((s) => BASE64.test(s), { message: 'base64', params: { serialization: true } })
    .transform((s) => Buffer.from(s, 'base64'))
    .refine((b) => b.length >= min, { message: `Member must have length greater than or equal to ${min}` })
    .refine((b) => b.length <= max, { message: `Member must have length less than or equal to ${max}` });
}

export const str = (min: number, max: number) => z.string().min(min).max(max);
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

const camel = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/**
 * Parses an operation's input. Type mismatches and bad base64 are SerializationException (as
 * AWS answers them); constraint violations are ValidationException in AWS's exact wording.
 * Values are echoed only for numbers and enum members, never for strings or blobs.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => describeIssue(issue, input));
  const serialization = result.error.issues.find(
    (i) =>
      (i.code === 'invalid_type' && valueAt(input, i.path) !== undefined) ||
      (i.code === 'custom' && i.params?.serialization),
  );
  if (serialization) {
    throw new AppError(
      'SerializationException',
      `Could not parse '${serialization.path.map(String).join('.')}': wrong type or encoding`,
    );
  }
  throw new AppError(
    'ValidationException',
    `${errors.length} validation error${errors.length === 1 ? '' : 's'} detected: ${errors.join('; ')}`,
  );
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = issue.path.map((p) => (typeof p === 'string' ? camel(p) : String(p))).join('.');
  const value = valueAt(input, issue.path);
  if (value === undefined) return `Value null at '${path}' failed to satisfy constraint: Member must not be null`;
  const shown =
    typeof value === 'number' || (issue.code === 'invalid_value' && typeof value === 'string' && value.length <= 64)
      ? `Value '${value}' `
      : '';
  return `${shown}at '${path}' failed to satisfy constraint: ${constraintText(issue)}`;
}

function constraintText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_big':
      return issue.origin === 'number'
        ? `Member must have value less than or equal to ${issue.maximum}`
        : `Member must have length less than or equal to ${issue.maximum}`;
    case 'too_small':
      return issue.origin === 'number'
        ? `Member must have value greater than or equal to ${issue.minimum}`
        : `Member must have length greater than or equal to ${issue.minimum}`;
    case 'invalid_value':
      return `Member must satisfy enum value set: [${issue.values.join(', ')}]`;
    case 'invalid_format':
      return 'Member must satisfy regular expression pattern';
    case 'custom':
      return issue.message;
    default:
      return 'Member must not be null';
  }
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
