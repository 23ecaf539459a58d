// Reads a YAML or JSON config file into a plain document; errors name the file, never quote its content.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';

export function readConfigDocument(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`config: cannot read ${path}`);
  }
  try {
    return parseYaml(text);
  } catch (e) {
    // Only the first line: the rest of yaml's message quotes the offending source line.
    throw new ConfigError(`config: ${path} is not valid YAML or JSON (${(e as Error).message.split('\n')[0]})`);
  }
}
