// Rendering a secret value into file bytes (raw, json, env, shell, template) and into exec environment variables; pure.
//
// Error messages name formats and JSON field names, never a value: they end up in logs. That is also why
// JSON.parse's own message (which quotes the input) is never passed on.
//
// `env` and `shell` files are read by programs that may run code (a shell sourcing the file), so every
// value is single-quoted: inside '…' a POSIX shell expands nothing (no `$`, backtick or backslash).
// - `shell` (sh, bash, dash, `. file`): `export KEY='value'`, each `'` written `'\''`: any value but NUL.
// - `env` (those shells AND dotenv loaders: Node's util.parseEnv/--env-file, npm dotenv, python-dotenv):
//   `KEY='value'`. The loaders do not understand `'\''` (worse: after a newline they read the rest of
//   the value as further variables); python-dotenv turns `\\` into `\`, reads a final `\` as escaping
//   the closing quote (running on into the next value) and expands `${…}` even in single quotes; they
//   all rewrite CR. A value holding any of these is refused (its files keep their last content) rather
//   than written in a form some reader would take differently.
import { AppError } from '../core/errors.js';
import type { SecretValue } from '../core/secret-value.js';

export interface RenderSpec {
  format: 'raw' | 'json' | 'env' | 'shell' | 'template';
  template?: string;
}

export interface EnvSpec extends RenderSpec {
  /** One variable for the rendered value, or {jsonField: ENV_NAME} taking fields of a JSON secret. */
  env?: string | Readonly<Record<string, string>>;
}

/** A secret that cannot be rendered as configured (code InvalidParameterException). */
export class RenderError extends AppError {
  constructor(message: string) {
    super('InvalidParameterException', message);
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `{{ field }}`, `{{a.b}}`: a field path of anything but braces and whitespace. */
const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The SecretString parsed as a JSON object, for the formats that take fields from one. */
function jsonObject(value: SecretValue, what: string): JsonObject {
  if (value.string === undefined) throw new RenderError(`${what} needs a JSON SecretString, the secret is binary`);
  let doc: unknown;
  try {
    doc = JSON.parse(value.string);
  } catch {
    throw new RenderError(`${what} needs a JSON SecretString, the secret is not valid JSON`);
  }
  if (!isObject(doc)) throw new RenderError(`${what} needs a JSON object, the secret is JSON but not an object`);
  return doc;
}

/** `a.b.0` in an object; an own key containing dots ("a.b") wins over the nested path. */
function fieldAt(doc: JsonObject, path: string): unknown {
  if (Object.hasOwn(doc, path)) return doc[path];
  let at: unknown = doc;
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, part)) return undefined;
    at = (at as JsonObject)[part];
  }
  return at;
}

/** A JSON scalar as text; objects, arrays and null are refused (naming the field, not the value). */
function scalarText(v: unknown, field: string, what: string): string {
  if (v === undefined) throw new RenderError(`${what}: the secret has no field ${field}`);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new RenderError(`${what}: field ${field} is ${v === null ? 'null' : 'not a string, number or boolean'}`);
}

/**
 * The field paths a template refers to, in order. Throws on a malformed placeholder (an unclosed `{{`,
 * an empty or spaced name), so config validation catches typos before any secret is fetched.
 */
export function templateFields(template: string): string[] {
  const fields: string[] = [];
  const rest = template.replace(PLACEHOLDER, (_m, field: string) => {
    fields.push(field);
    return '';
  });
  // Only a leftover `{{` is an error: `}}` is ordinary text in templates of nested JSON.
  if (rest.includes('{{')) {
    throw new RenderError('template: malformed placeholder (use {{field}} or {{a.b}}; names have no spaces)');
  }
  return fields;
}

function renderTemplate(value: SecretValue, template: string): Buffer {
  templateFields(template);
  const doc = jsonObject(value, 'format template');
  const out = template.replace(PLACEHOLDER, (_m, field: string) => scalarText(fieldAt(doc, field), field, 'template'));
  return Buffer.from(out, 'utf8');
}

/**
 * Variables that make a shell, the dynamic loader or a language runtime load or run code: a secret's
 * field must not set them in a process that sources its file (the secret's writer would run code there).
 */
const CODE_LOADING_NAME =
  /^(?:LD_\w*|DYLD_\w*|BASH_FUNC_\w*|BASH_ENV|ENV|PATH|IFS|PS4|PROMPT_COMMAND|SHELLOPTS|BASHOPTS|CDPATH|GLOBIGNORE|NODE_OPTIONS|NODE_PATH|PYTHONSTARTUP|PYTHONPATH|PYTHONHOME|PERL5OPT|PERL5LIB|PERLLIB|RUBYOPT|RUBYLIB|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|GCONV_PATH)$/;

/** A UTF-16 surrogate without its pair: it would be written as U+FFFD, not as the value. */
const LONE_SURROGATE = /\p{Cs}/u;

/** What in a value no reader of the format would take back unchanged (undefined: the value is fine). */
function unrepresentable(text: string, format: 'env' | 'shell'): string | undefined {
  if (text.includes('\0')) return 'a NUL byte (no environment variable can hold one)';
  if (LONE_SURROGATE.test(text)) return 'text that is not valid Unicode (an unpaired surrogate)';
  if (format === 'shell') return undefined;
  if (text.includes("'")) return 'a single quote (dotenv loaders cannot read one back; use format shell)';
  if (text.includes('\r')) return 'a carriage return (dotenv loaders rewrite it)';
  if (text.includes('\\\\')) return 'two backslashes in a row (python-dotenv reads them as one)';
  // python-dotenv reads `\'` as a quote inside the value: it would run on into the next line's value.
  if (text.endsWith('\\')) return 'a backslash at the end (python-dotenv reads on past the closing quote)';
  if (text.includes('${')) return '"${" (python-dotenv expands it)';
  return undefined;
}

/** `'…'`: nothing inside is special to a shell but `'` itself, written `'\''` (close, escaped quote, reopen). */
const singleQuoted = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;

function renderEnv(value: SecretValue, format: 'env' | 'shell'): Buffer {
  const doc = jsonObject(value, `format ${format}`);
  const keys = Object.keys(doc).sort();
  let out = '';
  for (const key of keys) {
    if (!ENV_NAME.test(key)) {
      // The key is a field name, not a value, but it may be arbitrary text: name its position only.
      throw new RenderError(
        `format ${format}: field #${keys.indexOf(key) + 1} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)`,
      );
    }
    if (CODE_LOADING_NAME.test(key)) {
      throw new RenderError(`format ${format}: field ${key} names a variable that makes programs load code`);
    }
    const text = scalarText(doc[key], key, `format ${format}`);
    const problem = unrepresentable(text, format);
    if (problem !== undefined) throw new RenderError(`format ${format}: field ${key} holds ${problem}`);
    out += `${format === 'shell' ? 'export ' : ''}${key}=${singleQuoted(text)}\n`;
  }
  return Buffer.from(out, 'utf8');
}

/** The bytes of the file for a secret value in the configured format. */
export function renderSecret(value: SecretValue, spec: RenderSpec): Buffer {
  switch (spec.format) {
    case 'raw':
      if (value.string !== undefined) return Buffer.from(value.string, 'utf8');
      if (value.binary !== undefined) return Buffer.from(value.binary);
      throw new RenderError('format raw: the secret version has no value');
    case 'json':
      // Exactly the stored text: re-serializing could reorder keys or change number spellings.
      jsonObject(value, 'format json');
      return Buffer.from(value.string!, 'utf8');
    case 'env':
    case 'shell':
      return renderEnv(value, spec.format);
    case 'template':
      if (spec.template === undefined) throw new RenderError('format template: no template configured');
      return renderTemplate(value, spec.template);
    default:
      throw new TypeError(`unknown format ${String((spec as { format: unknown }).format)}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Environment variables for `keysafe exec` from a secret and its `env` mapping ({} without one). */
export function envFor(value: SecretValue, spec: EnvSpec): Record<string, string> {
  const env: Record<string, string> = {};
  if (spec.env === undefined) return env;
  if (typeof spec.env === 'string') {
    let text: string;
    try {
      text = utf8.decode(renderSecret(value, spec));
    } catch (e) {
      if (e instanceof RenderError) throw e;
      throw new RenderError(`env ${spec.env}: the value is not UTF-8 text`);
    }
    if (text.includes('\0')) throw new RenderError(`env ${spec.env}: the value contains a NUL byte`);
    if (LONE_SURROGATE.test(text)) throw new RenderError(`env ${spec.env}: the value is not valid Unicode`);
    env[spec.env] = text;
    return env;
  }
  const doc = jsonObject(value, 'env mapping');
  for (const [field, name] of Object.entries(spec.env)) {
    const text = scalarText(fieldAt(doc, field), field, `env ${name}`);
    if (text.includes('\0')) throw new RenderError(`env ${name}: field ${field} contains a NUL byte`);
    if (LONE_SURROGATE.test(text)) throw new RenderError(`env ${name}: field ${field} is not valid Unicode`);
    env[name] = text;
  }
  return env;
}
