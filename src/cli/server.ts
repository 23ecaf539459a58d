// `keysafe server`: run the server until SIGINT/SIGTERM, then drain and close cleanly.
import { loadServerConfig } from '../server/config.js';
import { startServer } from '../server/main.js';
import { parseFlags, untilSignal } from './args.js';

const USAGE = `usage: keysafe server [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--store URL]
                      [--root-key-file FILE] [--admin-credentials-file FILE]
                      [--tls-cert FILE --tls-key FILE]
                      [--insecure-plaintext-non-loopback]

  --config FILE        YAML or JSON server config (flags override it)
  --listen HOST:PORT   default 127.0.0.1:8270
  --data-dir DIR       default ./keysafe-data (root key, admin credentials, SQLite database)
  --store URL          default sqlite:<data-dir>/keysafe.db
  --root-key-file FILE default <data-dir>/root.key; KEYSAFE_ROOT_KEY (base64) takes precedence
  --admin-credentials-file FILE
                       default <data-dir>/admin-credentials.json (created if missing);
                       replicas share one
  --tls-cert/--tls-key serve HTTPS; the files are reloaded when they change
`;

export async function runServer(args: string[]): Promise<number | undefined> {
  const { values } = parseFlags(
    args,
    {
      config: { type: 'string' },
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      store: { type: 'string' },
      'root-key-file': { type: 'string' },
      'admin-credentials-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'insecure-plaintext-non-loopback': { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = loadServerConfig({
    config: values.config,
    listen: values.listen,
    dataDir: values['data-dir'],
    store: values.store,
    rootKeyFile: values['root-key-file'],
    adminCredentialsFile: values['admin-credentials-file'],
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    insecurePlaintextNonLoopback: values['insecure-plaintext-non-loopback'],
  });
  const server = await startServer(config);
  await untilSignal();
  await server.close();
  return 0;
}
