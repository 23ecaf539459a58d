// Orderly shutdown: stop the jobs and streams, drain the socket, let rotation finish, then close what was opened.
import type { Logger } from '../observability/logger.js';
import type { Engines } from './engines.js';
import type { HttpEndpoint } from './http-server.js';
import type { ChangeSync } from './replica-sync.js';
import type { Schedulers } from './schedulers.js';
import type { Services } from './services.js';

export interface ShutdownParts {
  schedulers: Schedulers;
  sync: ChangeSync;
  http: HttpEndpoint;
  services: Pick<Services, 'rotationIn' | 'directory' | 'audit'>;
  engines: Pick<Engines, 'store' | 'inRegion' | 'replication'>;
  graceMs: number;
  logger: Logger;
}

export async function shutDown(p: ShutdownParts): Promise<void> {
  await p.schedulers.stop();
  p.sync.close(); // ends the watch streams, so draining does not wait for them
  await p.http.drain(p.graceMs);
  // A rotation step under way finishes; one that does not is resumed after its lease.
  const idle = Promise.all(p.services.rotationIn.built().map((r) => r.idle()));
  // Replica syncs under way finish too (one cut short is repaired by the reconciler after restart).
  const settled = Promise.all([idle, p.engines.replication.settled()]);
  await Promise.race([settled, new Promise((r) => setTimeout(r, p.graceMs).unref())]);
  await p.services.directory.close();
  await p.services.audit.close();
  // Key uses noted since the last flush (GetKeyLastUsage); a failure is logged and loses only those
  for (const { kms } of p.engines.inRegion.built()) await kms.flushKeyUsage();
  await p.engines.store.close();
  p.logger.info('keysafe server stopped');
}
