// The listening socket: HTTP or HTTPS (certificate reloaded on change), its URL, and draining it at shutdown.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../core/config-error.js';
import type { Logger } from '../observability/logger.js';
import { watchCertificate } from '../tls/reload.js';
import { isLoopback, type ServerConfig } from './config.js';

export interface HttpEndpoint {
  /** Base URL, e.g. http://127.0.0.1:8270 */
  url: string;
  /** Stops accepting connections and waits for in-flight requests, at most `graceMs` before cutting them. */
  drain(graceMs: number): Promise<void>;
}

/** Refuses plaintext on a non-loopback address unless the operator said so, and warns when they did. */
export function checkListenAddress(config: Readonly<ServerConfig>, logger: Logger): void {
  if (config.tls || isLoopback(config.host)) return;
  if (!config.insecurePlaintextNonLoopback) {
    throw new ConfigError(
      `listen: refusing plaintext HTTP on non-loopback address ${config.host}; give --tls-cert/--tls-key, or --insecure-plaintext-non-loopback`,
    );
  }
  logger.warn(
    'serving plaintext HTTP on a non-loopback address: credentials and secrets cross the network unencrypted',
    {
      host: config.host,
    },
  );
}

/** Listens on the configured address; `onFailure` runs (closing the store) before a failure is thrown. */
export async function listen(
  config: Readonly<ServerConfig>,
  listener: RequestListener,
  logger: Logger,
  onFailure: () => Promise<void>,
): Promise<HttpEndpoint> {
  const tlsFiles = config.tls;
  const https =
    tlsFiles && createHttpsServer({ cert: readFileSync(tlsFiles.cert), key: readFileSync(tlsFiles.key) }, listener);
  const server: HttpServer = https || createHttpServer(listener);
  await bind(server, config).catch(async (e: NodeJS.ErrnoException) => {
    await onFailure();
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      throw new ConfigError(
        `listen: cannot listen on ${config.host}:${config.port} (${e.code}); is another server running? Use --listen`,
      );
    }
    throw e;
  });
  const tlsWatcher = https && tlsFiles && (await watchCertificate(https, tlsFiles, logger));
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${tlsFiles ? 'https' : 'http'}://${host}:${address.port}`,
    async drain(graceMs) {
      await tlsWatcher?.close();
      await new Promise<void>((ok) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          ok();
        });
        server.closeIdleConnections();
      });
    },
  };
}

function bind(server: HttpServer, { port, host }: Readonly<ServerConfig>): Promise<void> {
  return new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
}
