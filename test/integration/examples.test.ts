// Every example under examples/ run for real: a server with the `npm start` demo's role and secret, a real
// OIDC issuer, the example's own agent.yaml (only `server` substituted; its relative paths land in a temp
// dir laid out like the repository), and the example app as a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { CLI, freePort, REPO } from '../support/process.js';
import { startTestServer, type TestServer, tempDir } from '../support/server.js';

const EXAMPLES = join(REPO, 'examples');

let issuer: OidcIssuer;
let server: TestServer;
let admin: SecretsManagerClient;
/** Stands for the repository root: holds keysafe-dev/agent/ and examples/<name>/agent.yaml. */
let root: string;
const children: ChildProcess[] = [];

const until = async (check: () => boolean, ms: number, what = 'condition'): Promise<void> => {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

const contains = (path: string, text: string) => existsSync(path) && readFileSync(path, 'utf8').includes(text);

interface Running {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(command, args, { cwd: REPO, env: { PATH: process.env.PATH, HOME: root, ...env } });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exited };
}

/** Rotates the demo secret to a new password. */
async function rotate(password: string): Promise<void> {
  await admin.send(
    new PutSecretValueCommand({
      SecretId: 'keysafe-demo/db',
      SecretString: JSON.stringify({ username: 'app', password }),
    }),
  );
}

/** examples/<name>/agent.yaml pointed at the test server, written to <root>/examples/<name>/agent.yaml. */
function exampleConfig(name: string): string {
  const doc = parseYaml(readFileSync(join(EXAMPLES, name, 'agent.yaml'), 'utf8')) as Record<string, unknown>;
  // As shipped, the example talks to `npm start`.
  expect(doc.server).toBe('http://127.0.0.1:8270');
  expect(doc.auth).toEqual({ role: 'demo-app', tokenFile: '../../keysafe-dev/agent/token' });
  const dir = join(root, 'examples', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'agent.yaml'), stringifyYaml({ ...doc, server: server.url }));
  return join(dir, 'agent.yaml');
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
  // The demo identity and secret of `keysafe dev` (src/cli/dev.ts).
  server = await startTestServer({
    config: {
      issuers: [{ name: 'dev-cluster', issuer: issuer.url, audiences: ['keysafe'], discovery: true }],
      roles: [
        {
          name: 'demo-app',
          issuer: 'dev-cluster',
          subjects: ['system:serviceaccount:demo:app'],
          claims: { 'kubernetes.io.namespace': 'demo' },
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
    },
  });
  admin = new SecretsManagerClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: server.admin.accessKeyId, secretAccessKey: server.admin.secretAccessKey },
  });
  await admin.send(
    new CreateSecretCommand({
      Name: 'keysafe-demo/db',
      SecretString: JSON.stringify({ username: 'app', password: 'pw-initial' }),
    }),
  );
  root = tempDir('keysafe-examples-');
  mkdirSync(join(root, 'keysafe-dev', 'agent'), { recursive: true });
  writeFileSync(
    join(root, 'keysafe-dev', 'agent', 'token'),
    await issuer.kubernetesToken({ namespace: 'demo', serviceAccount: 'app' }),
  );
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await server?.stop();
  await issuer?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('examples', () => {
  it('node-endpoint: the app reads the secret from the agent endpoint as from the AWS agent', async () => {
    // The agent `npm start` runs: files under keysafe-dev/agent/secrets, the endpoint, the local token.
    const agentDir = join(root, 'keysafe-dev', 'agent');
    const port = await freePort();
    writeFileSync(
      join(agentDir, 'agent.json'),
      JSON.stringify({
        server: server.url,
        auth: { role: 'demo-app', tokenFile: join(agentDir, 'token') },
        listen: `127.0.0.1:${port}`,
        localTokenFile: join(agentDir, 'local-token'),
        secrets: [{ id: 'keysafe-demo/db', path: join(agentDir, 'secrets', 'db.json'), format: 'json' }],
      }),
    );
    await rotate('pw-endpoint');
    const agent = run(process.execPath, [CLI, 'agent', '--config', join(agentDir, 'agent.json')]);
    await until(() => contains(join(agentDir, 'secrets', 'db.json'), 'pw-endpoint'), 10_000, 'agent files');
    const tokenFile = join(agentDir, 'local-token');
    const endpoint = `http://127.0.0.1:${port}`;
    const app = join(EXAMPLES, 'node-endpoint', 'app.mjs');

    // The token as a file:// setting, like the AWS agent's AWS_TOKEN=file:///var/run/awssmatoken.
    const viaFile = run(process.execPath, [app], { AGENT_ENDPOINT: endpoint, AWS_TOKEN: `file://${tokenFile}` });
    expect(await viaFile.exited, viaFile.out()).toBe(0);
    expect(viaFile.out()).toContain('app: keysafe-demo/db version ');
    expect(viaFile.out()).toContain('app: connecting to postgres://app:pw-endpoint@localhost/app');

    // The token itself in the variable; and a wrong one is refused (403 Bad Token): exit 1.
    const token = readFileSync(tokenFile, 'utf8').trim();
    const direct = run(process.execPath, [app], { AGENT_ENDPOINT: endpoint, AWS_TOKEN: token });
    expect(await direct.exited, direct.out()).toBe(0);
    expect(direct.out()).toContain('pw-endpoint@localhost');
    const wrong = run(process.execPath, [app], { AGENT_ENDPOINT: endpoint, AWS_TOKEN: 'not-the-token' });
    expect(await wrong.exited).toBe(1);
    expect(wrong.out()).toContain('the agent answered 403: Bad Token');

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });

  it('legacy-file: the shell app reads the file, and re-reads it on the SIGHUP the agent sends after a rotation', async () => {
    await rotate('pw-legacy-1');
    const config = exampleConfig('legacy-file');
    const runDir = join(root, 'examples', 'legacy-file', 'run');
    const secretFile = join(runDir, 'secrets', 'db.url');
    const pidFile = join(runDir, 'app.pid');
    const agent = run(process.execPath, [CLI, 'agent', '--config', config]);
    await until(() => existsSync(secretFile), 10_000, 'secret file');
    // Run in place (its defaults point into examples/; the env points it where the agent wrote).
    const app = run(join(EXAMPLES, 'legacy-file', 'app.sh'), [], { SECRET_FILE: secretFile, PID_FILE: pidFile });
    await until(() => app.out().includes('app: running as pid'), 5000, 'app start');
    expect(app.out()).toContain('app: (re)connecting to postgres://app:pw-legacy-1@localhost/app');
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(app.child.pid));

    await rotate('pw-legacy-2');
    await until(() => app.out().includes('pw-legacy-2'), 5000, 'reload after rotation');
    expect(app.out()).toContain('app: (re)connecting to postgres://app:pw-legacy-2@localhost/app');
    expect(app.child.exitCode).toBeNull(); // reloaded in place, not restarted
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(app.child.pid));

    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.out()).toContain('consumer reloaded');
    expect(agent.out()).not.toContain('pw-legacy');
  });

  it('exec-env: keysafe exec runs the env-only app with the secret in its environment, restarting it on rotation', async () => {
    await rotate('pw-exec-1');
    const config = exampleConfig('exec-env');
    const app = join(EXAMPLES, 'exec-env', 'app.mjs');
    const exec = run(process.execPath, [CLI, 'exec', '--config', config, '--', process.execPath, app]);
    await until(() => exec.out().includes('started with'), 10_000, 'app start');
    expect(exec.out()).toContain('started with DB_USER=app, DATABASE_URL=postgres://app:pw-exec-1@localhost/app');

    await rotate('pw-exec-2');
    await until(() => exec.out().includes('pw-exec-2'), 8000, 'restart after rotation');
    expect(exec.out()).toMatch(/stopping\n[\s\S]*started with DB_USER=app, DATABASE_URL=postgres:\/\/app:pw-exec-2@/);

    // Signals go to the app; keysafe exec exits with its code (0: it stopped cleanly on SIGTERM).
    exec.child.kill('SIGTERM');
    expect(await exec.exited).toBe(0);
  });

  it('exec-env: the app refuses to start outside keysafe exec', async () => {
    const app = run(process.execPath, [join(EXAMPLES, 'exec-env', 'app.mjs')]);
    expect(await app.exited).toBe(2);
    expect(app.out()).toContain('run me under keysafe exec');
  });

  it('aws-sdk: the SDK configured only by web identity environment variables reads the secret', async () => {
    await rotate('pw-sdk');
    const app = run(process.execPath, [join(EXAMPLES, 'aws-sdk', 'app.mjs')], {
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: server.url,
      AWS_ROLE_ARN: 'arn:aws:iam::000000000000:role/demo-app',
      AWS_WEB_IDENTITY_TOKEN_FILE: join(root, 'keysafe-dev', 'agent', 'token'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '1',
    });
    expect(await app.exited, app.out()).toBe(0);
    expect(app.out()).toContain('app: keysafe-demo/db version ');
    expect(app.out()).toContain('app: connecting to postgres://app:pw-sdk@localhost/app');
  });
});
