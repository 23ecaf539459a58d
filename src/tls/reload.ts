// Reloads a TLS server's certificate when its files change: rotation without a restart.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import { dirname } from 'node:path';
import { watch } from 'chokidar';
import type { Logger } from '../observability/logger.js';

/**
 * Watches the directories, not the files: Kubernetes secret volumes swap a `..data` symlink,
 * which a watch on the file itself never sees (and following `..data` would report nothing).
 * Resolves once watching: a renewal right after start-up is not missed.
 */
export async function watchCertificate(server: Server, files: { cert: string; key: string }, logger: Logger) {
  const watcher = watch([...new Set([dirname(files.cert), dirname(files.key)])], {
    ignoreInitial: true,
    depth: 0,
    followSymlinks: false,
  });
  watcher.on('all', () => {
    try {
      server.setSecureContext({ cert: readFileSync(files.cert), key: readFileSync(files.key) });
      logger.info('reloaded TLS certificate', { cert: files.cert });
    } catch (e) {
      // A half-written pair fails here; the next change event brings the complete one.
      logger.warn('could not reload TLS certificate; keeping the previous one', { error: (e as Error).message });
    }
  });
  await new Promise<void>((ready) => watcher.once('ready', () => ready()));
  return watcher;
}
