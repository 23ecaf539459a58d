// `keysafe dev` (npm start): everything on one machine for a first look — a server on ./keysafe-dev
// with a demo key and secret, a demo workload identity, and a sidecar agent writing files and
// serving the localhost endpoint — and what to try first.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { parseAgentConfig, startAgent } from '../agent/index.js';
import { newUuid, randomToken } from '../crypto/index.js';
import { createLogger } from '../observability/logger.js';
import { loadServerConfig, type ServerConfig } from '../server/config.js';
import { type RunningServer, startServer } from '../server/main.js';
import { serveEndpoint } from './agent.js';
import { parseFlags, untilSignal } from './args.js';

const USAGE = `usage: keysafe dev [--listen HOST:PORT] [--agent-listen HOST:PORT] [--data-dir DIR]

Runs, in one process, a server on an embedded SQLite store under ./keysafe-dev with a demo key
(alias/keysafe-demo) and a demo secret (keysafe-demo/db) that rotates every minute, a local JWT
issuer standing for a Kubernetes cluster, and a sidecar agent acting as the workload
system:serviceaccount:demo:app: it writes the secret to files and serves it on 127.0.0.1:2773.
Prints what to try.
`;

const DEMO_ALIAS = 'alias/keysafe-demo';
const DEMO_SECRET = 'keysafe-demo/db';
const DEMO_ROLE = 'demo-app';
const DEMO_SUBJECT = 'system:serviceaccount:demo:app';
const ISSUER = 'https://keysafe.local/dev-cluster';
const ROTATE_EVERY_MS = 60_000;
const TOKEN_LIFETIME_S = 3600;

export async function runDev(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    { listen: { type: 'string' }, 'agent-listen': { type: 'string' }, 'data-dir': { type: 'string' } },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const base = loadServerConfig({ listen: values.listen, dataDir: values['data-dir'] ?? './keysafe-dev' });
  const issuerDir = join(base.dataDir, 'dev-issuer');
  const signer = await devIssuer(issuerDir);
  const config = devConfig(base, issuerDir);
  const server = await startServer(config);
  await seedDemo(server);
  const workload = await startWorkload(server, base.dataDir, signer, values['agent-listen'] ?? '127.0.0.1:2773');
  process.stdout.write(welcome(server, config, workload));
  await untilSignal();
  await workload.stop();
  await server.close();
  return 0;
}

/** The server config with the demo's issuer and role, and a short scheduler interval. */
function devConfig(base: ServerConfig, issuerDir: string): Readonly<ServerConfig> {
  return Object.freeze({
    ...base,
    schedulerIntervalMs: 5_000,
    issuers: [{ name: 'dev-cluster', issuer: ISSUER, audiences: ['keysafe'], jwksFile: join(issuerDir, 'jwks.json') }],
    roles: [
      {
        name: DEMO_ROLE,
        issuer: 'dev-cluster',
        subjects: [DEMO_SUBJECT],
        claims: { 'kubernetes.io.namespace': 'demo' },
        sessionTtl: '15m',
        policy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
              Resource: ['arn:aws:secretsmanager:*:*:secret:keysafe-demo/*'],
            },
          ],
        },
      },
    ],
  });
}

/** The demo key and the demo secret with its rotation, unless an earlier run made them. */
async function seedDemo(server: RunningServer): Promise<void> {
  const aliases = await server.kms.listAliases(1000);
  if (!aliases.items.some((a) => a.name === DEMO_ALIAS)) {
    const key = await server.kms.createKey({ description: 'keysafe dev demo key' });
    await server.kms.createAlias(DEMO_ALIAS, key.keyId);
  }
  if (!(await server.secrets.listAll()).some((s) => s.name === DEMO_SECRET)) {
    const value = JSON.stringify({ username: 'app', password: randomToken(18) });
    await server.secrets.createSecret({ name: DEMO_SECRET, value: { string: value } });
    await server.rotation.rotateSecret(DEMO_SECRET, {
      lambdaArn: 'keysafe:rotation:random-password?field=password&length=24',
      rules: { AutomaticallyAfterDays: 1 },
      rotateImmediately: false,
      principal: { kind: 'admin' }, // the demo's own setup, as the admin
    });
  }
}

interface Workload {
  agentDir: string;
  secretsDir: string;
  endpointUrl: string;
  stop(): Promise<void>;
}

/** The workload's side: a token file, the demo secret rotating every minute, and a sidecar agent with its endpoint. */
async function startWorkload(
  server: RunningServer,
  dataDir: string,
  signer: { token(): Promise<string> },
  listen: string,
): Promise<Workload> {
  // A projected-token stand-in, refreshed well before it expires.
  const agentDir = resolve(dataDir, 'agent');
  mkdirSync(agentDir, { recursive: true });
  const tokenFile = join(agentDir, 'token');
  const writeToken = async () => writeFileSync(tokenFile, await signer.token(), { mode: 0o600 });
  await writeToken();
  const tokenTimer = setInterval(() => void writeToken(), (TOKEN_LIFETIME_S / 2) * 1000);
  // The demo secret's "short schedule": a rotation a minute shows the files and endpoint following.
  const rotateTimer = setInterval(() => {
    void server.rotation.rotateSecret(DEMO_SECRET, {}).catch(() => undefined);
  }, ROTATE_EVERY_MS);

  const secretsDir = join(agentDir, 'secrets');
  const agentConfig = parseAgentConfig({
    server: server.url,
    auth: { role: DEMO_ROLE, tokenFile },
    listen,
    localTokenFile: join(agentDir, 'local-token'),
    secrets: [
      { id: DEMO_SECRET, path: join(secretsDir, 'db.json'), format: 'json' },
      // shell, not env: the demo's rotated passwords have AWS's punctuation, and env refuses a ' in a value.
      { id: DEMO_SECRET, path: join(secretsDir, 'db.sh'), format: 'shell' },
      {
        id: DEMO_SECRET,
        path: join(secretsDir, 'db.url'),
        format: 'template',
        template: 'postgres://{{username}}:{{password}}@localhost/app',
      },
    ],
    logLevel: 'warn',
  });
  const agentLogger = createLogger('warn');
  const agent = await startAgent(agentConfig, { logger: agentLogger });
  const endpoint = await serveEndpoint(agentConfig, agent, agentLogger);
  await agent.firstSync;
  return {
    agentDir,
    secretsDir,
    endpointUrl: endpoint.url,
    async stop() {
      clearInterval(tokenTimer);
      clearInterval(rotateTimer);
      await endpoint.close();
      await agent.stop();
    },
  };
}

/** What to try first. */
function welcome(
  server: RunningServer,
  config: Readonly<ServerConfig>,
  { agentDir, secretsDir, endpointUrl }: Workload,
) {
  const credentials = resolve(server.adminCredentialsFile);
  return `
Keysafe is running: ${server.url}
  admin credentials: ${credentials}
  data:              ${resolve(config.dataDir)}

Try it with the aws CLI (in another shell):
  export AWS_ACCESS_KEY_ID=${server.admin.accessKeyId} AWS_SECRET_ACCESS_KEY=$(node -p "require('${credentials}').secretAccessKey") AWS_DEFAULT_REGION=${config.region} AWS_ENDPOINT_URL=${server.url}
  aws kms list-aliases --query 'Aliases[].AliasName'
  printf 'hello keysafe' > /tmp/keysafe-demo.txt && aws kms encrypt --key-id ${DEMO_ALIAS} --plaintext fileb:///tmp/keysafe-demo.txt --query CiphertextBlob --output text | base64 -d > /tmp/keysafe-demo.bin
  aws kms decrypt --ciphertext-blob fileb:///tmp/keysafe-demo.bin --query Plaintext --output text | base64 -d
  aws secretsmanager get-secret-value --secret-id ${DEMO_SECRET} --query SecretString --output text

A sidecar agent runs as the workload ${DEMO_SUBJECT} (role ${DEMO_ROLE}, logged in with a JWT
from a local issuer the server trusts). The demo secret rotates every minute; watch it follow:
  cat ${join(secretsDir, 'db.json')} ${join(secretsDir, 'db.sh')} ${join(secretsDir, 'db.url')}
  curl -s -H "X-Aws-Parameters-Secrets-Token: $(cat ${join(agentDir, 'local-token')})" '${endpointUrl}/secretsmanager/get?secretId=${DEMO_SECRET}'
  rotate now (with the aws exports above): aws secretsmanager rotate-secret --secret-id ${DEMO_SECRET}

Press Ctrl-C to stop.
`;
}

/** A local JWT issuer for the demo: an RS256 key kept in `dir` (private key 0600, JWKS beside it). */
async function devIssuer(dir: string): Promise<{ token(): Promise<string> }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'signing-key.json');
  if (!existsSync(keyFile)) {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = newUuid();
    writeFileSync(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'RS256' }), { mode: 0o600 });
    writeFileSync(
      join(dir, 'jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] }),
    );
  }
  const jwk = JSON.parse(readFileSync(keyFile, 'utf8')) as JWK & { kid: string };
  const key = await importJWK(jwk, 'RS256');
  return {
    token: () => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        'kubernetes.io': {
          namespace: 'demo',
          serviceaccount: { name: 'app', uid: newUuid() },
          pod: { name: 'app-0', uid: newUuid() },
        },
      })
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
        .setIssuer(ISSUER)
        .setAudience(['keysafe'])
        .setSubject(DEMO_SUBJECT)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + TOKEN_LIFETIME_S)
        .sign(key);
    },
  };
}
