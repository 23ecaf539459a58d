// `keysafe inject` (the real CLI process) on a multi-document file with a Deployment, a CronJob and others.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseAgentConfig } from '../../src/agent/index.js';
import { CLI } from '../support/process.js';
import { tempDir } from '../support/server.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML walked freely
type Json = any;

const MANIFESTS = `# The shop, as committed to Git.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
        keysafe.dev/inject: "true"
        keysafe.dev/role: web
        keysafe.dev/secret-db: app/db
        keysafe.dev/on-change: signal:HUP:nginx
    spec:
      serviceAccountName: web
      containers:
        - name: web
          image: nginx:1.27 # pinned
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly-report
  namespace: shop
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            keysafe.dev/inject: "true"
            keysafe.dev/role: web
            keysafe.dev/secret-db: app/db
            keysafe.dev/format-db: env
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: ghcr.io/example/report:2.0.0
              command: ["/bin/report"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: untouched
spec:
  template:
    spec:
      containers:
        - name: app
          image: busybox
`;

let dir: string;
const inject = (args: string[], input?: string) =>
  spawnSync(process.execPath, [CLI, 'inject', ...args], { input, encoding: 'utf8' });

beforeAll(() => {
  dir = tempDir('keysafe-inject-');
  writeFileSync(join(dir, 'shop.yaml'), MANIFESTS);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('keysafe inject', () => {
  it('adds the agent to the Deployment and the CronJob and passes the other documents through', () => {
    const run = inject(['-f', join(dir, 'shop.yaml')]);
    expect(run.stderr).toContain('added the agent to Deployment/web, CronJob/nightly-report');
    expect(run.status).toBe(0);
    const docs = parseAllDocuments(run.stdout).map((d) => d.toJS() as Json);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      'Deployment/web',
      'Service/web',
      'CronJob/nightly-report',
      'Deployment/untouched',
    ]);
    const [web, service, cron, untouched] = docs;

    const webPod = web.spec.template;
    expect(webPod.metadata.annotations['keysafe.dev/status']).toBe('injected');
    expect(webPod.spec.initContainers[0]).toMatchObject({ name: 'keysafe-agent', restartPolicy: 'Always' });
    expect(webPod.spec.shareProcessNamespace).toBe(true);
    expect(webPod.spec.containers[0].volumeMounts).toEqual([
      { name: 'keysafe-secrets', mountPath: '/run/secrets/keysafe', readOnly: true },
    ]);
    const webConfig = parseAgentConfig(JSON.parse(webPod.spec.initContainers[0].env[0].value));
    expect(webConfig.onChange).toMatchObject({ signal: 'SIGHUP', processName: 'nginx' });

    const cronPod = cron.spec.jobTemplate.spec.template;
    expect(cronPod.spec.initContainers[0]).toMatchObject({ name: 'keysafe-agent', restartPolicy: 'Always' });
    expect(cronPod.spec.volumes.map((v: Json) => v.name)).toEqual(['keysafe-secrets', 'keysafe-token']);
    expect(JSON.parse(cronPod.spec.initContainers[0].env[0].value).secrets[0].format).toBe('env');

    expect(service).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { ports: [{ port: 80, targetPort: 8080 }] },
    });
    expect(untouched.spec.template.spec).toEqual({ containers: [{ name: 'app', image: 'busybox' }] });
  });

  it('keeps comments and is idempotent: its own output comes back unchanged', () => {
    const once = inject(['-f', join(dir, 'shop.yaml')]).stdout;
    expect(once).toContain('# The shop, as committed to Git.');
    expect(once).toContain('image: nginx:1.27 # pinned');
    const twice = inject(['-f', '-'], once);
    expect(twice.status).toBe(0);
    expect(twice.stdout).toBe(once);
    expect(twice.stderr).toContain('no pod template asks for injection');
  });

  it('exits 2 naming the workload and the annotation when an annotation is invalid', () => {
    const run = inject([], MANIFESTS.replace('keysafe.dev/format-db: env', 'keysafe.dev/format-db: xml'));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('CronJob/nightly-report');
    expect(run.stderr).toContain('keysafe.dev/format-db');
    expect(run.stdout).toBe('');
  });
});

describe('the injector and agent command lines', () => {
  it('keysafe injector exits 2 without its TLS files', () => {
    const run = spawnSync(process.execPath, [CLI, 'injector'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--tls-cert and --tls-key are required');
  });

  it('keysafe agent --config-env reads the named variable and names it when its content is invalid', () => {
    const run = spawnSync(process.execPath, [CLI, 'agent', '--config-env', 'MY_AGENT_CONFIG', '--once'], {
      encoding: 'utf8',
      env: { ...process.env, MY_AGENT_CONFIG: '{"server": "http://127.0.0.1:1", "secrets": []}' },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('config in $MY_AGENT_CONFIG');
    expect(run.stderr).toContain("'auth'");
    const unset = spawnSync(process.execPath, [CLI, 'agent'], {
      encoding: 'utf8',
      env: { ...process.env, KEYSAFE_AGENT_CONFIG: '' },
    });
    expect(unset.status).toBe(2);
    expect(unset.stderr).toContain('--config-env NAME');
  });
});
