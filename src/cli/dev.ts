// `keysafe dev` (npm start): a server on ./keysafe-dev with a demo key, and what to try first.
import { resolve } from 'node:path';
import { randomToken } from '../crypto/index.js';
import { loadServerConfig } from '../server/config.js';
import { startServer } from '../server/main.js';
import { parseFlags, untilSignal } from './args.js';

const USAGE = `usage: keysafe dev [--listen HOST:PORT] [--data-dir DIR]

Runs a server on an embedded SQLite store under ./keysafe-dev with a demo key
(alias/keysafe-demo) and a demo secret (keysafe-demo/db), and prints how to reach
them with the aws CLI.
`;

const DEMO_ALIAS = 'alias/keysafe-demo';
const DEMO_SECRET = 'keysafe-demo/db';

export async function runDev(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { listen: { type: 'string' }, 'data-dir': { type: 'string' } }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = loadServerConfig({ listen: values.listen, dataDir: values['data-dir'] ?? './keysafe-dev' });
  const server = await startServer(config);
  const aliases = await server.kms.listAliases(1000);
  if (!aliases.items.some((a) => a.name === DEMO_ALIAS)) {
    const key = await server.kms.createKey({ description: 'keysafe dev demo key' });
    await server.kms.createAlias(DEMO_ALIAS, key.keyId);
  }
  if (!(await server.secrets.listAll()).some((s) => s.name === DEMO_SECRET)) {
    const value = JSON.stringify({ username: 'app', password: randomToken(18) });
    await server.secrets.createSecret({ name: DEMO_SECRET, value: { string: value } });
  }
  const { accessKeyId } = server.admin;
  const credentials = resolve(server.adminCredentialsFile);
  process.stdout.write(`
Keysafe is running: ${server.url}
  admin credentials: ${credentials}
  data:              ${resolve(config.dataDir)}

Try it with the aws CLI (in another shell):
  export AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=$(node -p "require('${credentials}').secretAccessKey") AWS_DEFAULT_REGION=${config.region} AWS_ENDPOINT_URL=${server.url}
  aws kms list-aliases --query 'Aliases[].AliasName'
  printf 'hello keysafe' > /tmp/keysafe-demo.txt && aws kms encrypt --key-id ${DEMO_ALIAS} --plaintext fileb:///tmp/keysafe-demo.txt --query CiphertextBlob --output text | base64 -d > /tmp/keysafe-demo.bin
  aws kms decrypt --ciphertext-blob fileb:///tmp/keysafe-demo.bin --query Plaintext --output text | base64 -d
  aws secretsmanager get-secret-value --secret-id ${DEMO_SECRET} --query SecretString --output text

Press Ctrl-C to stop.
`);
  await untilSignal();
  await server.close();
  return 0;
}
