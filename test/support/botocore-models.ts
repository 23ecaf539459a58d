// botocore's KMS and Secrets Manager service models, read from the botocore installed on the machine.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface ModelShape {
  type?: string;
  members?: Record<string, { shape: string; documentation?: string }>;
  exception?: boolean;
  fault?: boolean;
  error?: { httpStatusCode?: number; senderFault?: boolean };
}

export interface ServiceModel {
  operations: Record<string, { input?: { shape: string }; errors?: { shape: string }[] }>;
  shapes: Record<string, ModelShape>;
}

let root: string | undefined;

/** The newest model of `service` (`kms`, `secretsmanager`) in botocore's data directory. */
export function botocoreModel(service: 'kms' | 'secretsmanager'): ServiceModel {
  root ??= execFileSync('python3', ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__))'], {
    encoding: 'utf8',
  }).trim();
  const dir = join(root, 'data', service);
  const version = readdirSync(dir).sort().at(-1)!;
  return JSON.parse(gunzipSync(readFileSync(join(dir, version, 'service-2.json.gz'))).toString('utf8'));
}

/** Each operation's documented error shapes. */
export const errorsOf = (model: ServiceModel, operation: string): string[] =>
  (model.operations[operation]?.errors ?? []).map((e) => e.shape);
