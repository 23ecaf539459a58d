// Every example under examples/ run for real: a server with the `npm start` demo's role and secret, a real
// OIDC issuer, the example's own agent.yaml (only `server` substituted; its relative paths land in a temp
// dir laid out like the repository), and the example app as a child process.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { writeAgentConfig } from '../support/agent.js';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import { type CapturedProcess, CLI, REPO, spawnCaptured } from '../support/process.js';
import { type TestServer, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { policyOf, startWorkloadServer } from '../support/workload.js';

const EXAMPLES = join(REPO, 'examples');

let issuer: OidcIssuer;
let server: TestServer;
let admin: SecretsManagerClient;
/** Stands for the repository root: holds keysafe-dev/agent/ and examples/<name>/agent.yaml. */
let root: string;
const children: ChildProcess[] = [];

const contains = (path: string, text: string) => existsSync(path) && readFileSync(path, 'utf8').includes(text);

/** Runs in the repository with a clean environment, HOME in the temp root; killed at the end if still running. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): CapturedProcess {
  const running = spawnCaptured(command, args, { cwd: REPO, env: { PATH: process.env.PATH, HOME: root, ...env } });
  children.push(running.child);
  return running;
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
  // The demo identity and secret of `keysafe dev` (src/cli/dev.ts).
  ({ issuer, server, admin } = await startWorkloadServer({
    issuerName: 'dev-cluster',
    roles: [
      {
        name: 'demo-app',
        subjects: ['system:serviceaccount:demo:app'],
        claims: { 'kubernetes.io.namespace': 'demo' },
        policy: policyOf([
          {
            Effect: 'Allow',
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: ['arn:aws:secretsmanager:*:*:secret:keysafe-demo/*'],
          },
        ]),
      },
    ],
  }));
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
    const { configFile, endpoint } = await writeAgentConfig({
      dir: agentDir,
      server: server.url,
      role: 'demo-app',
      secrets: [{ id: 'keysafe-demo/db', path: join(agentDir, 'secrets', 'db.json'), format: 'json' }],
    });
    await rotate('pw-endpoint');
    const agent = run(process.execPath, [CLI, 'agent', '--config', configFile]);
    await until(() => contains(join(agentDir, 'secrets', 'db.json'), 'pw-endpoint'), 10_000, 'agent files');
    const tokenFile = join(agentDir, 'local-token');
    const app = join(EXAMPLES, 'node-endpoint', 'app.mjs');

    // The token as a file:// setting, like the AWS agent's AWS_TOKEN=file:///var/run/awssmatoken.
    const viaFile = run(process.execPath, [app], { AGENT_ENDPOINT: endpoint, AWS_TOKEN: `file://${tokenFile}` });
    expect(await viaFile.exited, viaFile.output()).toBe(0);
    expect(viaFile.output()).toContain('app: keysafe-demo/db version ');
    expect(viaFile.output()).toContain('app: connecting to postgres://app:pw-endpoint@localhost/app');

    // The token itself in the variable; and a wrong one is refused (403 Bad Token): exit 1.
    const token = readFileSync(tokenFile, 'utf8').trim();
    const direct = run(process.execPath, [app], { AGENT_ENDPOINT: endpoint, AWS_TOKEN: token });
    expect(await direct.exited, direct.output()).toBe(0);
    expect(direct.output()).toContain('pw-endpoint@localhost');
    const wrong = run(process.execPath, [app], { AGENT_ENDPOINT: endpoint, AWS_TOKEN: 'not-the-token' });
    expect(await wrong.exited).toBe(1);
    expect(wrong.output()).toContain('the agent answered 403: Bad Token');

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
    await until(() => app.output().includes('app: running as pid'), 5000, 'app start');
    expect(app.output()).toContain('app: (re)connecting to postgres://app:pw-legacy-1@localhost/app');
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(app.child.pid));

    await rotate('pw-legacy-2');
    await until(() => app.output().includes('pw-legacy-2'), 5000, 'reload after rotation');
    expect(app.output()).toContain('app: (re)connecting to postgres://app:pw-legacy-2@localhost/app');
    expect(app.child.exitCode).toBeNull(); // reloaded in place, not restarted
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(app.child.pid));

    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.output()).toContain('consumer reloaded');
    expect(agent.output()).not.toContain('pw-legacy');
  });

  it('exec-env: keysafe exec runs the env-only app with the secret in its environment, restarting it on rotation', async () => {
    await rotate('pw-exec-1');
    const config = exampleConfig('exec-env');
    const app = join(EXAMPLES, 'exec-env', 'app.mjs');
    const exec = run(process.execPath, [CLI, 'exec', '--config', config, '--', process.execPath, app]);
    await until(() => exec.output().includes('started with'), 10_000, 'app start');
    expect(exec.output()).toContain('started with DB_USER=app, DATABASE_URL=postgres://app:pw-exec-1@localhost/app');

    await rotate('pw-exec-2');
    await until(() => exec.output().includes('pw-exec-2'), 8000, 'restart after rotation');
    expect(exec.output()).toMatch(
      /stopping\n[\s\S]*started with DB_USER=app, DATABASE_URL=postgres:\/\/app:pw-exec-2@/,
    );

    // Signals go to the app; keysafe exec exits with its code (0: it stopped cleanly on SIGTERM).
    exec.child.kill('SIGTERM');
    expect(await exec.exited).toBe(0);
  });

  it('exec-env: the app refuses to start outside keysafe exec', async () => {
    const app = run(process.execPath, [join(EXAMPLES, 'exec-env', 'app.mjs')]);
    expect(await app.exited).toBe(2);
    expect(app.output()).toContain('run me under keysafe exec');
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
    expect(await app.exited, app.output()).toBe(0);
    expect(app.output()).toContain('app: keysafe-demo/db version ');
    expect(app.output()).toContain('app: connecting to postgres://app:pw-sdk@localhost/app');
  });
});
