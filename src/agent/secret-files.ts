// From fetched secrets to the file set: the value in a GetSecretValue answer, and each configured file rendered.
import type { SecretValue } from '../core/secret-value.js';
import type { AgentSecretConfig } from './config.js';
import { explain } from './explain.js';
import type { FileSetEntry } from './file-set.js';
import { renderSecret } from './render.js';

/** GetSecretValue JSON → the value (SecretBinary arrives base64). */
export function secretValueOf(body: Record<string, unknown>): SecretValue {
  if (typeof body.SecretString === 'string') return { string: body.SecretString };
  if (typeof body.SecretBinary === 'string') return { binary: Buffer.from(body.SecretBinary, 'base64') };
  return {};
}

/**
 * Renders every file of `specs`. A secret any of whose files cannot be rendered is left out
 * whole (its files must not switch half-way) and reported by id, never by value.
 */
export function renderAll(
  specs: readonly AgentSecretConfig[],
  values: ReadonlyMap<string, SecretValue>,
): { files: FileSetEntry[]; failed: Map<string, string> } {
  const failed = new Map<string, string>();
  const rendered = specs.flatMap((s) => {
    try {
      return [{ id: s.id, file: fileFor(s, values.get(s.id)!) }];
    } catch (e) {
      failed.set(s.id, explain(e));
      return [];
    }
  });
  return { files: rendered.filter((r) => !failed.has(r.id)).map((r) => r.file), failed };
}

function fileFor(s: AgentSecretConfig, value: SecretValue): FileSetEntry {
  return {
    path: s.path!,
    content: renderSecret(value, s),
    mode: s.mode,
    ...(s.owner !== undefined && { uid: s.owner }),
    ...(s.group !== undefined && { gid: s.group }),
  };
}
