// `keysafe agent --once` (init-container mode): log in, fetch every configured secret, write the files, done.
import { readFile } from 'node:fs/promises';
import { AppError } from '../core/errors.js';
import { withRetry } from '../core/retry.js';
import type { SecretValue } from '../core/secret-value.js';
import type { Logger } from '../observability/logger.js';
import { type FetchedSecret, newAgentKeyPair, ServerClient } from './client.js';
import type { AgentConfig } from './config.js';
import { explain } from './explain.js';
import { writeFileSet } from './file-set.js';
import { renderAll, secretValueOf } from './secret-files.js';

/**
 * Throws (naming each secret that failed, never a value) if any could not be fetched or written.
 */
export async function syncOnce(config: Readonly<AgentConfig>, logger: Logger): Promise<Map<string, SecretValue>> {
  const client = new ServerClient(config.server, await newAgentKeyPair(), config.region);
  const { token } = await withRetry(async () => {
    const jwt = (await readFile(config.auth.tokenFile, 'utf8')).trim();
    return client.login(config.auth.role, jwt);
  });
  const results = await Promise.allSettled(config.secrets.map((s) => withRetry(() => client.getSecret(token, s.id))));
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${config.secrets[i]!.id} (${explain(r.reason)})`] : [],
  );
  if (failures.length > 0) throw new AppError('ResourceNotFoundException', `could not fetch ${failures.join(', ')}`);
  const values = new Map<string, SecretValue>();
  for (const [i, r] of results.entries())
    values.set(config.secrets[i]!.id, secretValueOf((r as PromiseFulfilledResult<FetchedSecret>).value.body));
  const { files, failed } = renderAll(
    config.secrets.filter((s) => s.path),
    values,
  );
  if (failed.size > 0) {
    const names = [...failed].map(([id, error]) => `${id} (${error})`).join(', ');
    throw new AppError('InvalidParameterException', `could not render ${names}`);
  }
  const { changed } = await writeFileSet(files);
  logger.info('secrets written', { secrets: values.size, files: files.length, changed: changed.length });
  return values;
}
