// The Kubernetes manifests under examples/kubernetes/: valid YAML, and the wiring that a cluster would only
// reveal at runtime checked here — selectors, ports, TLS Secret names, the webhook's safety settings,
// hardened security contexts, the server config parsed by the real loader, the demo pods injected by the
// real mutation and their agent config parsed by the real agent loader.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseAgentConfig } from '../../src/agent/config.js';
import { roleSchema } from '../../src/auth/index.js';
import { defaultsFromFlags } from '../../src/cli/injector.js';
import {
  AGENT_CONTAINER,
  applyPatch,
  CONFIG_ENV,
  mutate,
  type PodLike,
  SECRETS_DIR,
} from '../../src/injector/index.js';
import { loadServerConfig } from '../../src/server/config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = join(root, 'examples/kubernetes');

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped documents; the assertions check the shapes.
type K8s = any;

function yamlFiles(d: string): string[] {
  return readdirSync(d).flatMap((name) => {
    const p = join(d, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

const files = yamlFiles(dir);
const docs: { file: string; doc: K8s }[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${relative(root, file)}: ${d.errors[0]!.message}`);
    return { file: relative(dir, file), doc: d.toJS() };
  }),
);
const all = docs.map((d) => d.doc);
const ofKind = (kind: string) => all.filter((d) => d.kind === kind);
const one = (kind: string, name: string) => {
  const found = all.filter((d) => d.kind === kind && d.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0];
};
const deployment = (name: string) => one('Deployment', name);
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const argAfter = (args: string[], flag: string): string => {
  const value = args[args.indexOf(flag) + 1];
  if (!args.includes(flag) || value === undefined) throw new Error(`no ${flag} in ${args.join(' ')}`);
  return value;
};

const tmp = mkdtempSync(join(tmpdir(), 'keysafe-k8s-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('every manifest', () => {
  it('is valid YAML with apiVersion, kind and a name in every document', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const { file, doc } of docs) {
      expect(doc, file).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String) });
      expect(doc.metadata?.name, file).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    }
  });

  it('writes no leading-zero number, which YAML 1.1 (kubectl) reads as octal and YAML 1.2 as decimal', () => {
    for (const file of files) {
      expect(readFileSync(file, 'utf8'), relative(root, file)).not.toMatch(/:\s+0[0-7]+\s*(#.*)?$/m);
    }
  });

  it('puts every namespaced object in a namespace the manifests create', () => {
    const namespaces = new Set(ofKind('Namespace').map((n) => n.metadata.name));
    expect([...namespaces].sort()).toEqual(['keysafe', 'keysafe-demo']);
    const clusterScoped = new Set(['Namespace', 'ClusterRoleBinding', 'ClusterRole', 'MutatingWebhookConfiguration']);
    for (const { file, doc } of docs) {
      if (clusterScoped.has(doc.kind)) expect(doc.metadata.namespace, file).toBeUndefined();
      else expect(namespaces.has(doc.metadata.namespace), `${file}: ${doc.kind} ${doc.metadata.name}`).toBe(true);
    }
  });

  it('runs every pod non-root, read-only, without privilege escalation or capabilities, one image', () => {
    const deployments = ofKind('Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
      'endpoint-app',
      'file-app',
      'keysafe-injector',
      'keysafe-server',
    ]);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      const name = d.metadata.name;
      expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name} selector`).toBe(true);
      expect(pod.securityContext, name).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      // The image's USER is 10001; a numeric non-zero uid here makes runAsNonRoot checkable either way.
      expect(pod.securityContext.runAsUser, name).toBe(10001);
      for (const c of pod.containers) {
        expect(c.securityContext, `${name}/${c.name}`).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.image, `${name}/${c.name}`).toBe('keysafe:dev');
        expect(c.resources?.limits?.memory, `${name}/${c.name} memory limit`).toBeDefined();
      }
    }
  });

  it('points every Service at a Deployment and at a port its container exposes', () => {
    for (const svc of ofKind('Service')) {
      const targets = ofKind('Deployment').filter(
        (d) =>
          d.metadata.namespace === svc.metadata.namespace &&
          matches(svc.spec.selector, d.spec.template.metadata.labels),
      );
      expect(targets, `Service ${svc.metadata.name}`).toHaveLength(1);
      const ports = targets[0].spec.template.spec.containers.flatMap((c: K8s) => c.ports ?? []);
      for (const p of svc.spec.ports) {
        const target = p.targetPort ?? p.port;
        const found = ports.find((cp: K8s) => cp.name === target || cp.containerPort === target);
        expect(found, `Service ${svc.metadata.name} port ${p.port} → ${target}`).toBeDefined();
      }
    }
  });
});

describe('the server', () => {
  const server = deployment('keysafe-server');
  const pod = server.spec.template.spec;
  const container = pod.containers[0];
  const mountOf = (volume: string) => container.volumeMounts.find((m: K8s) => m.name === volume);
  const configMap = one('ConfigMap', 'keysafe-server-config');

  it('runs one replica, replaced not rolled, on the PersistentVolumeClaim (SQLite has one writer)', () => {
    expect(server.spec.replicas).toBe(1);
    expect(server.spec.strategy).toEqual({ type: 'Recreate' });
    const data = pod.volumes.find((v: K8s) => v.name === 'data');
    one('PersistentVolumeClaim', data.persistentVolumeClaim.claimName);
    // A recursive chown on every start would make root.key group-readable, and the server refuses that.
    expect(pod.securityContext.fsGroupChangePolicy).toBe('OnRootMismatch');
  });

  it('has a config the real loader accepts, listening where the Service sends and storing on the volume', () => {
    const configPath = argAfter(container.args, '--config');
    const mount = container.volumeMounts.find((m: K8s) => configPath.startsWith(`${m.mountPath}/`));
    const volume = pod.volumes.find((v: K8s) => v.name === mount.name);
    expect(volume.configMap.name).toBe(configMap.metadata.name);
    const key = configPath.slice(mount.mountPath.length + 1);
    const file = join(tmp, 'server.yaml');
    writeFileSync(file, configMap.data[key]);

    const config = loadServerConfig({ config: file }, {});
    expect(config.host).toBe('0.0.0.0');
    expect(container.ports).toContainEqual({ name: 'http', containerPort: config.port });
    expect(one('Service', 'keysafe').spec.ports[0].port).toBe(config.port);
    expect(config.dataDir).toBe(mountOf('data').mountPath);
    // Plain HTTP on the pod network must be asked for by name (no TLS in the demo).
    expect(config.insecurePlaintextNonLoopback || config.tls !== undefined).toBe(true);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      expect(container[probe].httpGet.port, probe).toBe('http');
    }
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
  });

  it("trusts the cluster's service-account issuer by OIDC discovery, with the API server's CA", () => {
    const file = join(tmp, 'issuer.yaml');
    writeFileSync(file, configMap.data['server.yaml']);
    const [issuer] = loadServerConfig({ config: file }, {}).issuers;
    expect(issuer).toMatchObject({
      name: 'cluster',
      issuer: 'https://kubernetes.default.svc.cluster.local',
      discovery: true,
    });
    // The projected tokens the injector asks for carry this audience.
    const injectorArgs = deployment('keysafe-injector').spec.template.spec.containers[0].args;
    expect(issuer!.audiences).toContain(argAfter(injectorArgs, '--audience'));

    const caEnv = container.env.find((e: K8s) => e.name === 'NODE_EXTRA_CA_CERTS').value as string;
    const caMount = container.volumeMounts.find((m: K8s) => caEnv.startsWith(`${m.mountPath}/`));
    const caVolume = pod.volumes.find((v: K8s) => v.name === caMount.name);
    expect(caVolume.configMap.name).toBe('kube-root-ca.crt');
    expect(caEnv.slice(caMount.mountPath.length + 1)).toBe('ca.crt');
  });

  it('may read the issuer discovery documents, also anonymously (the fetch sends no token)', () => {
    const binding = ofKind('ClusterRoleBinding').find(
      (b) => b.roleRef.name === 'system:service-account-issuer-discovery',
    );
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', apiGroup: 'rbac.authorization.k8s.io' });
    expect(binding.subjects).toContainEqual({
      kind: 'ServiceAccount',
      name: pod.serviceAccountName,
      namespace: 'keysafe',
    });
    // The fetch presents the server's own token: nothing anonymous is granted.
    expect(JSON.stringify(binding.subjects)).not.toContain('system:unauthenticated');
    expect(pod.automountServiceAccountToken).toBe(true);
    one('ServiceAccount', pod.serviceAccountName);
  });
});

describe('the injector and its webhook', () => {
  const injector = deployment('keysafe-injector');
  const pod = injector.spec.template.spec;
  const container = pod.containers[0];
  const webhookConfig = ofKind('MutatingWebhookConfiguration')[0];
  const [webhook] = webhookConfig.webhooks;
  const service = one('Service', webhook.clientConfig.service.name);

  it('fails closed, has no side effects, speaks AdmissionReview v1 and mutates pods on create', () => {
    expect(webhookConfig.webhooks).toHaveLength(1);
    expect(webhook).toMatchObject({
      failurePolicy: 'Fail',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      reinvocationPolicy: 'Never',
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    });
    expect(webhook.timeoutSeconds).toBeLessThanOrEqual(10);
  });

  it('selects the demo namespace but never the injector, its namespace or unlabelled namespaces', () => {
    const labelsOf = (ns: string) => one('Namespace', ns).metadata.labels;
    const selector = webhook.namespaceSelector.matchLabels;
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    expect(matches(selector, labelsOf('keysafe-demo'))).toBe(true);
    expect(matches(selector, labelsOf('keysafe'))).toBe(false);
    expect(matches(selector, {})).toBe(false);
    expect(webhook.namespaceSelector.matchExpressions).toBeUndefined();

    const [excluded] = webhook.objectSelector.matchExpressions;
    expect(excluded.operator).toBe('NotIn');
    expect(excluded.values).toContain(injector.spec.template.metadata.labels[excluded.key]);
  });

  it('calls the injector Service on /mutate, on a port that reaches the --listen port', () => {
    const ref = webhook.clientConfig.service;
    expect(ref).toMatchObject({ namespace: injector.metadata.namespace, path: '/mutate' });
    expect(service.metadata.namespace).toBe(ref.namespace);
    const port = service.spec.ports.find((p: K8s) => p.port === ref.port);
    const containerPort = container.ports.find((p: K8s) => p.name === port.targetPort).containerPort;
    expect(argAfter(container.args, '--listen')).toBe(`:${containerPort}`);
  });

  it('serves the certificate from the Secret that cert-manager issues for the Service name', () => {
    const certFile = argAfter(container.args, '--tls-cert');
    const keyFile = argAfter(container.args, '--tls-key');
    const mount = container.volumeMounts.find((m: K8s) => certFile.startsWith(`${m.mountPath}/`));
    expect(keyFile.startsWith(`${mount.mountPath}/`)).toBe(true);
    expect(mount.readOnly).toBe(true);
    const volume = pod.volumes.find((v: K8s) => v.name === mount.name);
    expect([certFile, keyFile].map((f) => f.slice(mount.mountPath.length + 1))).toEqual(['tls.crt', 'tls.key']);
    // 0440 is readable by the fsGroup, not by everyone.
    expect(volume.secret.defaultMode).toBe(0o440);
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);

    const [ns, name] = webhookConfig.metadata.annotations['cert-manager.io/inject-ca-from'].split('/');
    const cert = one('Certificate', name);
    expect(cert.metadata.namespace).toBe(ns);
    expect(cert.spec.secretName).toBe(volume.secret.secretName);
    expect(cert.spec.dnsNames).toContain(`${service.metadata.name}.${service.metadata.namespace}.svc`);
    const issuer = one('Issuer', cert.spec.issuerRef.name);
    one(
      'Certificate',
      ofKind('Certificate').find((c) => c.spec.secretName === issuer.spec.ca.secretName).metadata.name,
    );
  });

  it('stays available through voluntary disruptions (it fails closed)', () => {
    expect(injector.spec.replicas).toBeGreaterThanOrEqual(2);
    const pdb = one('PodDisruptionBudget', 'keysafe-injector');
    expect(matches(pdb.spec.selector.matchLabels, injector.spec.template.metadata.labels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeLessThan(injector.spec.replicas);
  });
});

describe('the demo apps', () => {
  const injectorArgs = deployment('keysafe-injector').spec.template.spec.containers[0].args;
  const defaults = defaultsFromFlags({
    image: argAfter(injectorArgs, '--image'),
    server: argAfter(injectorArgs, '--server'),
    audience: argAfter(injectorArgs, '--audience'),
  });
  const demoConfig = one('ConfigMap', 'demo-apps');

  /** The demo Deployment's pod as the webhook would admit it, and its agent's parsed config. */
  function injected(name: string) {
    const template = deployment(name).spec.template;
    const pod = applyPatch(
      structuredClone(template) as PodLike,
      mutate(template, template.metadata.annotations, defaults),
    );
    const agent = (pod.spec!.initContainers as K8s[]).find((c) => c.name === AGENT_CONTAINER);
    const json = agent.env.find((e: K8s) => e.name === CONFIG_ENV).value;
    return { pod: pod as K8s, agent, config: parseAgentConfig(JSON.parse(json)) };
  }

  it('get an agent that logs in to the server Service with a role the server accepts', () => {
    const service = one('Service', 'keysafe');
    const role = roleSchema.parse(JSON.parse(readFileSync(join(dir, 'demo/role-demo.json'), 'utf8')));
    // The role, added to the server's own config, passes the real loader (its issuer exists there).
    const serverConfig = one('ConfigMap', 'keysafe-server-config').data['server.yaml'].replace('roles: []', '');
    const file = join(tmp, 'with-role.yaml');
    writeFileSync(file, `${serverConfig}\nroles: ${JSON.stringify([role])}\n`);
    expect(loadServerConfig({ config: file }, {}).roles.map((r) => r.name)).toEqual(['demo']);

    for (const name of ['file-app', 'endpoint-app']) {
      const { agent, config, pod } = injected(name);
      expect(agent.image).toBe('keysafe:dev');
      expect(config.server).toEqual([`http://${service.metadata.name}.${service.metadata.namespace}.svc:8270`]);
      expect(service.spec.ports[0].port).toBe(8270);
      expect(config.auth.role).toBe(role.name);
      expect(role.subjects).toContain(`system:serviceaccount:keysafe-demo:${pod.spec.serviceAccountName}`);
      one('ServiceAccount', pod.spec.serviceAccountName);
      const token = pod.spec.volumes.find((v: K8s) => v.projected).projected.sources[0].serviceAccountToken;
      expect(role.issuer).toBe('cluster');
      expect(token.audience).toBe('keysafe');
    }
  });

  it('file-app reads the file the agent writes and is signalled by name in a shared process namespace', () => {
    const { pod, config } = injected('file-app');
    const script = demoConfig.data['file-app.sh'] as string;
    const path = /^\s*file=(\S+)$/m.exec(script)![1]!;
    expect(config.secrets.map((s) => s.path)).toEqual([path]);
    expect(path.startsWith(`${SECRETS_DIR}/`)).toBe(true);
    expect(config.secrets[0]).toMatchObject({ format: 'template', mode: 0o400 });
    // SIGHUP to the process named like the container's command: the script, run by its shebang.
    const command = pod.spec.containers[0].command;
    expect(config.onChange).toMatchObject({ signal: 'SIGHUP', processName: command[0].split('/').pop() });
    expect(pod.spec.shareProcessNamespace).toBe(true);
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    const code = pod.spec.volumes.find((v: K8s) => v.name === 'code').configMap;
    expect(code.defaultMode).toBe(0o555);
    execFileSync('sh', ['-n', '-c', script]);
  });

  it('endpoint-app asks the localhost endpoint with the token file the agent writes', () => {
    const { pod, config } = injected('endpoint-app');
    const code = demoConfig.data['endpoint-app.mjs'] as string;
    expect(code).toContain(`'http://127.0.0.1:${config.listen!.port}'`);
    expect(code).toContain(`'${config.localTokenFile}'`);
    expect(pod.spec.shareProcessNamespace).toBeUndefined();
    const file = join(tmp, 'endpoint-app.mjs');
    writeFileSync(file, code);
    execFileSync(process.execPath, ['--check', file]);
  });
});
