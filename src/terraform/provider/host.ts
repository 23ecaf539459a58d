// go-plugin host glue: the process Terraform launches. Checks the magic cookie and protocol version,
// serves gRPC on a unix socket in a fresh temp dir with AutoMTLS, prints the handshake line (the only
// thing ever written to stdout), and exits on Shutdown, on SIGTERM, or when the parent goes away.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createSelfSignedCert } from '../../crypto/index.js';
import { type ProviderHandlers, safely } from './framework.js';
import { loadProtocol } from './protocol.js';

export const MAGIC_COOKIE_KEY = 'TF_PLUGIN_MAGIC_COOKIE';
export const MAGIC_COOKIE_VALUE = 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2';
const CORE_PROTOCOL_VERSION = 1;
const APP_PROTOCOL_VERSION = 6;
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export interface HostOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  exit?: (code: number) => void;
  stdout?: (line: string) => void;
}

type Service = grpc.ServiceDefinition;
interface Loaded {
  tfplugin6: { Provider: { service: Service } };
  plugin: { GRPCController: { service: Service }; GRPCStdio: { service: Service }; GRPCBroker: { service: Service } };
  grpc: { health: { v1: { Health: { service: Service } } } };
}

/**
 * Serves `handlers` as tfplugin6.Provider until Terraform shuts the plugin down. Returns the exit code to
 * use when it refuses to start (the reason already printed), or never resolves while serving.
 */
export async function servePlugin(handlers: ProviderHandlers, options: HostOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stdout = options.stdout ?? ((line: string) => process.stdout.write(`${line}\n`));
  const exit = options.exit ?? ((code: number) => process.exit(code));

  if (!handshakeAccepted(env, stdout)) return 1;
  const loaded = grpc.loadPackageDefinition(loadProtocol()) as unknown as Loaded;

  const socketDir = mkdtempSync(join(tmpdir(), 'plugin'));
  const socketPath = join(socketDir, 'plugin.sock');
  let stopping = false;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  const shutdown = (code: number) => {
    if (stopping) return;
    stopping = true;
    try {
      server.forceShutdown();
    } catch {
      // already down
    }
    rmSync(socketDir, { recursive: true, force: true });
    exit(code);
  };

  server.addService(loaded.tfplugin6.Provider.service, unaryHandlers(handlers, log));
  addPluginServices(server, loaded, shutdown);
  const { credentials, certField } = serverCredentials(env.PLUGIN_CLIENT_CERT);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, credentials, (error) => (error ? reject(error) : resolve())),
  );
  exitWithParent(shutdown);

  const fields = [CORE_PROTOCOL_VERSION, APP_PROTOCOL_VERSION, 'unix', socketPath, 'grpc'];
  stdout(`${fields.join('|')}${certField !== undefined ? `|${certField}` : ''}`);
  log(`keysafe-provider: serving protocol ${APP_PROTOCOL_VERSION} on ${socketPath}`);
  return new Promise<number>(() => {});
}

/** The magic cookie and a protocol version we speak; otherwise says why on stdout. */
function handshakeAccepted(env: NodeJS.ProcessEnv, stdout: (line: string) => void): boolean {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    // go-plugin shows a non-handshake first line to the user as "Unrecognized remote plugin message".
    stdout(
      'This is the Keysafe Terraform provider: a plugin that Terraform starts, not a program to run directly. Install it with `keysafe terraform install` and use it from Terraform.',
    );
    return false;
  }
  const versions = (env.PLUGIN_PROTOCOL_VERSIONS ?? '').split(',').map((v) => v.trim());
  if (!versions.includes(String(APP_PROTOCOL_VERSION))) {
    stdout(
      `The Keysafe provider speaks plugin protocol ${APP_PROTOCOL_VERSION} only; Terraform offered "${env.PLUGIN_PROTOCOL_VERSIONS ?? ''}" (Terraform 1.0 or later is required).`,
    );
    return false;
  }
  return true;
}

/** The provider's RPCs as gRPC unary calls, each timed in the log. */
function unaryHandlers(handlers: ProviderHandlers, log: (line: string) => void): grpc.UntypedServiceImplementation {
  const unary: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(handlers)) {
    const wrapped = safely(fn as (req: Record<string, unknown>) => unknown);
    unary[name] = (
      call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const started = performance.now();
      wrapped(call.request).then(
        (response) => {
          log(`keysafe-provider: ${name} ${(performance.now() - started).toFixed(1)} ms`);
          callback(null, response);
        },
        (e: unknown) => callback({ code: grpc.status.INTERNAL, details: String(e) }),
      );
    };
  }
  return unary;
}

/** go-plugin's own services: the controller's Shutdown, stdio, the broker and health. */
function addPluginServices(server: grpc.Server, loaded: Loaded, shutdown: (code: number) => void): void {
  server.addService(loaded.plugin.GRPCController.service, {
    Shutdown: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      callback(null, {});
      // Reply first, then go: go-plugin waits up to 2 s for the process otherwise.
      setTimeout(() => shutdown(0), 10);
    },
  });
  server.addService(loaded.plugin.GRPCStdio.service, {
    StreamStdio: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
  });
  server.addService(loaded.plugin.GRPCBroker.service, {
    StartStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      call.on('data', () => {});
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  });
  server.addService(loaded.grpc.health.v1.Health.service, {
    Check: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(null, { status: 1 }),
    Watch: (call: grpc.ServerWritableStream<unknown, unknown>) => call.write({ status: 1 }),
  });
}

/** AutoMTLS when Terraform sent its certificate: ours goes in the handshake line (`certField`). */
function serverCredentials(clientCert: string | undefined): {
  credentials: grpc.ServerCredentials;
  certField?: string;
} {
  if (!clientCert) return { credentials: grpc.ServerCredentials.createInsecure() };
  const cert = createSelfSignedCert({ commonName: 'localhost', dnsNames: ['localhost'] });
  const credentials = grpc.ServerCredentials.createSsl(
    Buffer.from(clientCert),
    [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.certPem) }],
    true,
  );
  return { credentials, certField: cert.certDer.toString('base64').replace(/=+$/, '') };
}

function exitWithParent(shutdown: (code: number) => void): void {
  // Die with the parent: go-plugin SIGKILLs only its direct child, and an orphan would hold stdout open.
  const parent = process.ppid;
  const watchdog = setInterval(() => {
    if (process.ppid !== parent) shutdown(0);
  }, 1000);
  watchdog.unref();
  process.on('SIGTERM', () => shutdown(0));
  // Terraform forwards Ctrl-C to the whole process group and then calls StopProvider: ignore the signal.
  process.on('SIGINT', () => {});
}
