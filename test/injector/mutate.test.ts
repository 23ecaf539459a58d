// The injector's mutation fed real AdmissionReview JSON; the patch applied with an independent JSON Patch library.
import { readFileSync } from 'node:fs';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/agent/index.js';
import { CONFIG_ENV, review, SECRETS_DIR, TOKEN_DIR } from '../../src/injector/index.js';

// biome-ignore lint/suspicious/noExplicitAny: test data walked freely
type Json = any;

const fixture = (name: string): Json =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

/** Sends the review through the injector and applies its patch (validated) to the pod it carried. */
function admit(ar: Json): { response: Json; pod: Json; patch: Json[] } {
  const answer = JSON.parse(JSON.stringify(review(ar)));
  expect(answer).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
  expect(answer.response.uid).toBe(ar.request.uid);
  if (!answer.response.patch) return { response: answer.response, pod: ar.request.object, patch: [] };
  expect(answer.response.patchType).toBe('JSONPatch');
  const patch = JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8'));
  expect(jsonpatch.validate(patch, ar.request.object)).toBeUndefined();
  const pod = jsonpatch.applyPatch(structuredClone(ar.request.object), patch, true, false).newDocument;
  return { response: answer.response, pod, patch };
}

const withAnnotations = (ar: Json, set: Record<string, string | undefined>): Json => {
  const copy = structuredClone(ar);
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined) delete copy.request.object.metadata.annotations[k];
    else copy.request.object.metadata.annotations[k] = v;
  }
  return copy;
};

const agentOf = (pod: Json) => pod.spec.initContainers.find((c: Json) => c.name === 'keysafe-agent');
const configOf = (pod: Json) => JSON.parse(agentOf(pod).env.find((e: Json) => e.name === CONFIG_ENV).value);
const refusal = (ar: Json): string => {
  const { response } = admit(ar);
  expect(response.allowed).toBe(false);
  expect(response.patch).toBeUndefined();
  return response.status.message;
};

describe('mutating a Deployment pod (no command, two containers, volumes and an init container of its own)', () => {
  const ar = fixture('admission-review-pod.json');
  const { response, pod } = admit(ar);

  it('allows the pod with a JSON Patch', () => {
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
  });

  it('adds the agent as a native sidecar before the pod’s own init container, with a startup probe on /readyz', () => {
    expect(pod.spec.initContainers.map((c: Json) => c.name)).toEqual(['keysafe-agent', 'migrate']);
    const agent = agentOf(pod);
    expect(agent.restartPolicy).toBe('Always');
    expect(agent.args).toEqual(['agent']);
    expect(agent.startupProbe.exec.command.join(' ')).toContain('http://127.0.0.1:2773/readyz');
    expect(agent.startupProbe.periodSeconds).toBe(1);
  });

  it('mounts the tmpfs volume read-only in every app container and app init container, read-write in the agent', () => {
    const volume = pod.spec.volumes.find((v: Json) => v.name === 'keysafe-secrets');
    expect(volume.emptyDir.medium).toBe('Memory');
    for (const c of [...pod.spec.containers, pod.spec.initContainers[1]]) {
      expect(c.volumeMounts).toContainEqual({ name: 'keysafe-secrets', mountPath: SECRETS_DIR, readOnly: true });
    }
    expect(agentOf(pod).volumeMounts).toContainEqual({ name: 'keysafe-secrets', mountPath: SECRETS_DIR });
  });

  it('keeps the pod’s existing volumes and mounts', () => {
    expect(pod.spec.volumes.map((v: Json) => v.name)).toEqual([
      'cache',
      'kube-api-access-x7k2p',
      'keysafe-secrets',
      'keysafe-token',
    ]);
    expect(pod.spec.containers[0].volumeMounts.slice(0, 2)).toEqual(ar.request.object.spec.containers[0].volumeMounts);
    expect(pod.spec.initContainers[1].args).toEqual(['--up']);
  });

  it('mounts the projected service-account token (audience keysafe) only in the agent', () => {
    const token = pod.spec.volumes.find((v: Json) => v.name === 'keysafe-token');
    expect(token.projected.sources).toEqual([
      { serviceAccountToken: { audience: 'keysafe', expirationSeconds: 3600, path: 'token' } },
    ]);
    const mountsToken = (c: Json) => (c.volumeMounts ?? []).some((m: Json) => m.name === 'keysafe-token');
    expect([...pod.spec.initContainers, ...pod.spec.containers].filter(mountsToken).map((c: Json) => c.name)).toEqual([
      'keysafe-agent',
    ]);
    expect(agentOf(pod).volumeMounts).toContainEqual({ name: 'keysafe-token', mountPath: TOKEN_DIR, readOnly: true });
  });

  it('hardens the agent: non-root, read-only root, no privilege escalation, no capabilities, small resources', () => {
    const agent = agentOf(pod);
    expect(agent.securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(agent.securityContext.runAsUser).toBeGreaterThan(0);
    expect(agent.resources).toEqual({ requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '128Mi' } });
  });

  it('does not share the process namespace when nothing signals the app', () => {
    expect(pod.spec.shareProcessNamespace).toBeUndefined();
  });

  it('hands the agent a config it accepts: the files under the volume, the token file, the local endpoint', () => {
    const raw = configOf(pod);
    const config = parseAgentConfig(raw);
    expect(config.auth).toEqual({ role: 'web', tokenFile: `${TOKEN_DIR}/token` });
    expect(config.server).toEqual(['http://keysafe.keysafe.svc:8270']);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 2773 });
    expect(config.secrets.map((s) => [s.id, s.path, s.format])).toEqual([
      ['app/db', `${SECRETS_DIR}/db-url`, 'template'],
      ['app/db', `${SECRETS_DIR}/db.json`, 'json'],
    ]);
    // The app's uid is unknown: the files must still be readable by it.
    expect(config.secrets[0]!.mode).toBe(0o444);
  });

  it('marks the pod injected and leaves an injected pod alone', () => {
    expect(pod.metadata.annotations['keysafe.dev/status']).toBe('injected');
    expect(pod.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBe('2026-05-01T10:00:00Z');
    const again = structuredClone(ar);
    again.request.object = pod;
    const second = admit(again);
    expect(second.response).toEqual({ uid: ar.request.uid, allowed: true });
    expect(second.pod).toEqual(pod);
  });
});

describe('mutating a Job pod', () => {
  const ar = fixture('admission-review-job.json');

  it('uses a native sidecar, so the Job completes when its container exits', () => {
    const { pod } = admit(ar);
    expect(pod.spec.initContainers).toHaveLength(1);
    expect(agentOf(pod).restartPolicy).toBe('Always');
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.containers[0].volumeMounts).toContainEqual({
      name: 'keysafe-secrets',
      mountPath: SECRETS_DIR,
      readOnly: true,
    });
  });

  it('runs the agent as the app’s uid and keeps files owner-only', () => {
    const { pod } = admit(ar);
    expect(agentOf(pod).securityContext.runAsUser).toBe(1000);
    expect(configOf(pod).secrets[0].mode).toBe('0400');
  });

  it('in init-only mode adds a plain init container running agent --once, without endpoint or probe', () => {
    const { pod } = admit(withAnnotations(ar, { 'keysafe.dev/mode': 'init-only' }));
    const agent = agentOf(pod);
    expect(agent.args).toEqual(['agent', '--once']);
    expect(agent.restartPolicy).toBeUndefined();
    expect(agent.startupProbe).toBeUndefined();
    expect(configOf(pod).listen).toBeUndefined();
    expect(() => parseAgentConfig(configOf(pod))).not.toThrow();
  });

  it('takes image, server, audience, expiry, uid and resources from annotations', () => {
    const { pod } = admit(
      withAnnotations(ar, {
        'keysafe.dev/image': 'registry.local/keysafe:1.2.3',
        'keysafe.dev/server': 'https://keysafe.example:8270',
        'keysafe.dev/audience': 'keysafe-prod',
        'keysafe.dev/token-expiration-seconds': '900',
        'keysafe.dev/run-as-user': '4242',
        'keysafe.dev/cpu-limit': '100m',
        'keysafe.dev/memory-request': '40Mi',
      }),
    );
    const agent = agentOf(pod);
    expect(agent.image).toBe('registry.local/keysafe:1.2.3');
    expect(agent.securityContext.runAsUser).toBe(4242);
    expect(agent.resources).toEqual({
      requests: { cpu: '10m', memory: '40Mi' },
      limits: { cpu: '100m', memory: '128Mi' },
    });
    expect(configOf(pod).server).toBe('https://keysafe.example:8270');
    expect(pod.spec.volumes.at(-1).projected.sources[0].serviceAccountToken).toEqual({
      audience: 'keysafe-prod',
      expirationSeconds: 900,
      path: 'token',
    });
  });

  it('signals the app by its command name and only then shares the process namespace', () => {
    const { pod } = admit(withAnnotations(ar, { 'keysafe.dev/on-change': 'signal:HUP' }));
    expect(pod.spec.shareProcessNamespace).toBe(true);
    expect(configOf(pod).onChange).toEqual({ signal: 'SIGHUP', processName: 'report' });
    expect(() => parseAgentConfig(configOf(pod))).not.toThrow();
  });

  it('runs an on-change command or HTTP call without sharing the process namespace', () => {
    const cmd = admit(
      withAnnotations(ar, { 'keysafe.dev/on-change': 'command:wget -qO- http://127.0.0.1:8080/reload' }),
    );
    expect(configOf(cmd.pod).onChange).toEqual({
      command: ['/bin/sh', '-c', 'wget -qO- http://127.0.0.1:8080/reload'],
    });
    expect(cmd.pod.spec.shareProcessNamespace).toBeUndefined();
    const http = admit(withAnnotations(ar, { 'keysafe.dev/on-change': 'http:http://127.0.0.1:8080/-/reload' }));
    expect(configOf(http.pod).onChange).toEqual({ http: 'http://127.0.0.1:8080/-/reload' });
  });

  it('refuses restart on change for a pod that never restarts its containers', () => {
    expect(refusal(withAnnotations(ar, { 'keysafe.dev/on-change': 'restart' }))).toContain('keysafe.dev/on-change');
  });
});

describe('refusing invalid annotations with a message naming the annotation', () => {
  const ar = fixture('admission-review-pod.json');
  const cases: [string, Record<string, string | undefined>, string][] = [
    ['an unknown format', { 'keysafe.dev/format-db.json': 'xml' }, 'keysafe.dev/format-db.json'],
    ['a misspelt annotation', { 'keysafe.dev/secrets-cache': 'app/cache' }, 'keysafe.dev/secrets-cache'],
    ['a missing role', { 'keysafe.dev/role': undefined }, 'keysafe.dev/role'],
    ['a format for no secret', { 'keysafe.dev/format-nope': 'raw' }, 'keysafe.dev/format-nope'],
    ['a non-octal mode', { 'keysafe.dev/mode-db.json': '777x' }, 'keysafe.dev/mode-db.json'],
    ['an unknown mode', { 'keysafe.dev/mode': 'daemon' }, 'keysafe.dev/mode'],
    ['root as the agent uid', { 'keysafe.dev/run-as-user': '0' }, 'keysafe.dev/run-as-user'],
    ['a bad memory quantity', { 'keysafe.dev/memory-limit': 'lots' }, 'keysafe.dev/memory-limit'],
    [
      'a too short token expiry',
      { 'keysafe.dev/token-expiration-seconds': '60' },
      'keysafe.dev/token-expiration-seconds',
    ],
    ['a server that is no URL', { 'keysafe.dev/server': 'keysafe:8270' }, 'keysafe.dev/server'],
    ['an unknown on-change', { 'keysafe.dev/on-change': 'reboot' }, 'keysafe.dev/on-change'],
    // The first app container (web) has no command: the process to signal cannot be guessed.
    ['a signal without a process to send it to', { 'keysafe.dev/on-change': 'signal:HUP' }, 'keysafe.dev/on-change'],
    [
      'a file name with a slash-like dot prefix',
      { 'keysafe.dev/secret-.hidden': 'app/x' },
      'keysafe.dev/secret-.hidden',
    ],
  ];
  for (const [what, set, named] of cases) {
    it(`refuses ${what}`, () => {
      const message = refusal(withAnnotations(ar, set));
      expect(message).toContain(`annotation ${named}`);
    });
  }

  it('accepts a signal when the annotation names the process', () => {
    const { pod } = admit(withAnnotations(ar, { 'keysafe.dev/on-change': 'signal:SIGUSR1:web-server' }));
    expect(configOf(pod).onChange).toEqual({ signal: 'SIGUSR1', processName: 'web-server' });
  });
});

describe('pods and requests the injector does not touch', () => {
  const ar = fixture('admission-review-pod.json');

  it('allows an un-annotated pod untouched', () => {
    const plain = structuredClone(ar);
    plain.request.object.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': 'x' };
    expect(admit(plain).response).toEqual({ uid: ar.request.uid, allowed: true });
    delete plain.request.object.metadata.annotations;
    expect(admit(plain).response).toEqual({ uid: ar.request.uid, allowed: true });
  });

  it('allows a pod with inject "false" untouched even if its other annotations are wrong', () => {
    const off = withAnnotations(ar, { 'keysafe.dev/inject': 'false', 'keysafe.dev/format-db.json': 'xml' });
    expect(admit(off).response).toEqual({ uid: ar.request.uid, allowed: true });
  });

  it('allows other kinds and operations untouched', () => {
    const update = structuredClone(ar);
    update.request.operation = 'UPDATE';
    expect(admit(update).response).toEqual({ uid: ar.request.uid, allowed: true });
    const deployment = structuredClone(ar);
    deployment.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    expect(admit(deployment).response).toEqual({ uid: ar.request.uid, allowed: true });
  });

  it('rejects a body that is not an AdmissionReview v1', () => {
    expect(() =>
      review({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }),
    ).toThrow(TypeError);
  });
});
