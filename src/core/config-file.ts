// Reads a YAML or JSON config file into a plain document; errors name the file, never quote its content.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLError } from 'yaml';
import { ConfigError } from './config-error.js';

/**
 * logLevel error: yaml's warnings (an unknown tag …) go to stderr quoting the source line.
 * prettyErrors off: by default yaml adds a code frame to every error, which costs quadratic time
 * and memory on malformed input (yaml 2.9: 80 KB of "{{a}}" take ~20 s, 200 KB abort the process).
 */
export const YAML_OPTIONS = { logLevel: 'error', prettyErrors: false } as const;

export function readConfigDocument(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`config: cannot read ${path}`);
  }
  try {
    return parseYaml(text, YAML_OPTIONS);
  } catch (e) {
    throw new ConfigError(`config: ${path} is not valid YAML or JSON (${describeYamlError(e, text)})`);
  }
}

/**
 * The error's code and position only: yaml's messages quote the source, even on their first line
 * (an alias or tag name, an escape sequence), and a config file may hold a token or a password.
 */
export function describeYamlError(e: unknown, text: string): string {
  if (e instanceof YAMLError) {
    const before = text.slice(0, e.pos[0]);
    const line = before.split('\n').length;
    return `${e.code} at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
  }
  // yaml throws a ReferenceError for an alias without its anchor, a RangeError for alias bombs.
  if (e instanceof ReferenceError) return 'an alias refers to no anchor';
  if (e instanceof RangeError) return 'too many aliases or too deeply nested';
  return 'unreadable';
}
