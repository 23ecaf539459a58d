// botocore's KMS and Secrets Manager service models, read at test time from the botocore on the machine.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface ShapeRef {
  shape: string;
}
export interface Shape {
  type: string;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  sensitive?: boolean;
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
}
export interface ServiceModel {
  operations: Record<string, { input?: ShapeRef }>;
  shapes: Record<string, Shape>;
}

let botocoreDir: string | undefined;

/** The newest model of `service` (botocore's directory name: `kms`, `secretsmanager`). */
export function loadModel(service: string): ServiceModel {
  botocoreDir ??= execFileSync('python3', ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__))'], {
    encoding: 'utf8',
  }).trim();
  const dir = join(botocoreDir, 'data', service);
  const version = readdirSync(dir).sort().at(-1) ?? '';
  return JSON.parse(gunzipSync(readFileSync(join(dir, version, 'service-2.json.gz'))).toString('utf8'));
}

/** A model pattern as AWS applies it: the whole value must match (Java's `matches()`). */
export const patternRegex = (pattern: string) => new RegExp(`^(?:${pattern})$`);
