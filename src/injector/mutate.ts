// Pure pod mutation: from a pod (or pod template) and its annotations to the JSON Patch that adds the agent.
//
// What the patch adds and why:
// - the agent as a native sidecar: the FIRST init container, `restartPolicy: Always` (Kubernetes ≥ 1.29),
//   with a startup probe on its /readyz. The kubelet starts the next init container and the app containers
//   only once that probe passes, i.e. once every secret file is written; and a native sidecar does not keep
//   a Job from completing (vault-k8s's two long-standing pain points). `mode: init-only` adds a plain init
//   container running `keysafe agent --once` instead (files written once, no refresh).
// - The probe is an `exec` probe: the agent's endpoint listens on 127.0.0.1 only (secrets must not be
//   reachable from the pod network), and httpGet/tcpSocket probes come from the kubelet on the pod IP.
//   An exec probe runs inside the agent container, so loopback works; it runs `node -e fetch(...)` with the
//   node the keysafe image already has, and only until the first success (startup probes stop then).
// - An emptyDir `medium: Memory` at /run/secrets/keysafe: read-write in the agent, read-only in every app
//   container AND every app init container (they run after the sidecar is started, so they can use secrets).
// - A projected service-account token (audience, expiry) mounted only in the agent: app containers never
//   see the credential that logs in to Keysafe.
// - The agent config travels as JSON in the agent's env var KEYSAFE_AGENT_CONFIG, not in a generated
//   ConfigMap: admission stays free of side effects (`sideEffects: None`, dry-run safe, no RBAC to create
//   ConfigMaps in every namespace, nothing to garbage-collect), `keysafe inject` output is self-contained,
//   and the config holds no secret (ids, paths, a role name).
// - `shareProcessNamespace: true` only when on-change signals the app (signal, restart): it lets every
//   container see the others' processes, so it is never turned on otherwise.
// - A hardened security context and small resources.
// The pod gets `keysafe.dev/status: injected`; a pod carrying it is left alone.
import { ConfigError } from '../core/config-error.js';
import {
  AnnotationError,
  type InjectionSpec,
  type OnChange,
  PREFIX,
  parseAnnotations,
  STATUS,
  STATUS_INJECTED,
  wantsInjection,
} from './annotations.js';

export interface InjectorDefaults {
  image: string;
  /** The Keysafe server the agents talk to. */
  server: string;
  audience: string;
  tokenExpirationSeconds: number;
  resources: { cpuRequest?: string; memoryRequest?: string; cpuLimit?: string; memoryLimit?: string };
}

export const INJECTOR_DEFAULTS: Readonly<InjectorDefaults> = Object.freeze({
  image: 'keysafe/keysafe:latest',
  server: 'http://keysafe.keysafe.svc:8270',
  audience: 'keysafe',
  tokenExpirationSeconds: 3600,
  // A Node agent idles around 40-60 MiB RSS and near-zero CPU; no CPU limit by default: throttling only
  // slows the start-up render the app is waiting for.
  resources: Object.freeze({ cpuRequest: '10m', memoryRequest: '48Mi', memoryLimit: '128Mi' }),
});

export const AGENT_CONTAINER = 'keysafe-agent';
export const SECRETS_VOLUME = 'keysafe-secrets';
export const TOKEN_VOLUME = 'keysafe-token';
export const SECRETS_DIR = '/run/secrets/keysafe';
/** Not under /var/run/secrets/keysafe: in many images /var/run is a symlink to /run (same mount point). */
export const TOKEN_DIR = '/var/run/secrets/keysafe.dev/serviceaccount';
export const AGENT_PORT = 2773;
export const CONFIG_ENV = 'KEYSAFE_AGENT_CONFIG';
/** uid used when neither the annotation nor the pod says one ("nonroot" in distroless images). */
export const FALLBACK_UID = 65532;

export type PatchOperation = { op: 'add'; path: string; value: unknown };

interface Container {
  name: string;
  command?: string[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: { runAsUser?: number };
  [key: string]: unknown;
}

/** The parts of a Pod (or a pod template: metadata + spec) that the mutation reads. */
export interface PodLike {
  metadata?: { annotations?: Record<string, string>; [key: string]: unknown };
  spec?: {
    containers?: Container[];
    initContainers?: Container[];
    volumes?: { name: string; [key: string]: unknown }[];
    securityContext?: { runAsUser?: number; [key: string]: unknown };
    restartPolicy?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** JSON Pointer escaping of one path segment (RFC 6901). */
const seg = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The JSON Patch that injects the agent, or [] when the pod does not ask for it (or was injected already).
 * Throws AnnotationError (naming the annotation) or ConfigError when it cannot be done.
 */
export function mutate(
  pod: PodLike,
  annotations: Readonly<Record<string, string>> | undefined,
  defaults: Readonly<InjectorDefaults> = INJECTOR_DEFAULTS,
): PatchOperation[] {
  if (!wantsInjection(annotations)) return [];
  const spec = parseAnnotations(annotations!);
  const podSpec = pod.spec;
  const containers = podSpec?.containers ?? [];
  if (!podSpec || containers.length === 0) throw new ConfigError('the pod has no containers to inject into');
  const initContainers = podSpec.initContainers ?? [];
  for (const c of [...containers, ...initContainers]) {
    if (c.name === AGENT_CONTAINER) throw new ConfigError(`the pod already has a container named ${AGENT_CONTAINER}`);
    for (const m of c.volumeMounts ?? []) {
      if (m.mountPath.replace(/\/+$/, '') === SECRETS_DIR) {
        throw new ConfigError(`container ${c.name} already mounts something at ${SECRETS_DIR}`);
      }
    }
  }
  for (const v of podSpec.volumes ?? []) {
    if (v.name === SECRETS_VOLUME || v.name === TOKEN_VOLUME) {
      throw new ConfigError(`the pod already has a volume named ${v.name}`);
    }
  }

  // The agent runs as the app's uid when known, so files of mode 0400 are readable by the app and a
  // signal on change is allowed (kill(2) needs the same uid once all capabilities are dropped).
  const appUid = (c: Container) => c.securityContext?.runAsUser ?? podSpec.securityContext?.runAsUser;
  const uids = new Set(containers.map(appUid));
  const knownAppUid = uids.size === 1 ? [...uids][0] : undefined;
  const uid = spec.runAsUser ?? (knownAppUid || FALLBACK_UID);
  const sameUid = uids.size === 1 && knownAppUid === uid;

  const onChange = agentOnChange(spec.onChange, containers[0]!, podSpec.restartPolicy);
  const config = agentConfig(spec, defaults, onChange, sameUid);
  const agent = agentContainer(spec, defaults, config, uid);

  const ops: PatchOperation[] = [];
  const annotationsPath = '/metadata/annotations';
  if (!pod.metadata) ops.push({ op: 'add', path: '/metadata', value: { annotations: { [STATUS]: STATUS_INJECTED } } });
  else if (!pod.metadata.annotations)
    ops.push({ op: 'add', path: annotationsPath, value: { [STATUS]: STATUS_INJECTED } });
  else ops.push({ op: 'add', path: `${annotationsPath}/${seg(STATUS)}`, value: STATUS_INJECTED });

  const volumes = [
    { name: SECRETS_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: spec.audience ?? defaults.audience,
              expirationSeconds: spec.tokenExpirationSeconds ?? defaults.tokenExpirationSeconds,
              path: 'token',
            },
          },
        ],
      },
    },
  ];
  if (!podSpec.volumes) ops.push({ op: 'add', path: '/spec/volumes', value: volumes });
  else for (const v of volumes) ops.push({ op: 'add', path: '/spec/volumes/-', value: v });

  const appMount = { name: SECRETS_VOLUME, mountPath: SECRETS_DIR, readOnly: true };
  const mountAll = (list: Container[], field: 'containers' | 'initContainers') => {
    list.forEach((c, i) => {
      if (!c.volumeMounts) ops.push({ op: 'add', path: `/spec/${field}/${i}/volumeMounts`, value: [appMount] });
      else ops.push({ op: 'add', path: `/spec/${field}/${i}/volumeMounts/-`, value: appMount });
    });
  };
  mountAll(containers, 'containers');
  // Before the agent is inserted at index 0: these indices are the pod's own.
  mountAll(initContainers, 'initContainers');
  if (!podSpec.initContainers) ops.push({ op: 'add', path: '/spec/initContainers', value: [agent] });
  else ops.push({ op: 'add', path: '/spec/initContainers/0', value: agent });

  if (onChange?.processName !== undefined) ops.push({ op: 'add', path: '/spec/shareProcessNamespace', value: true });
  return ops;
}

interface AgentOnChange {
  signal?: string;
  processName?: string;
  command?: string[];
  http?: string;
}

function agentOnChange(
  onChange: OnChange | undefined,
  app: Container,
  restartPolicy: string | undefined,
): AgentOnChange | undefined {
  if (!onChange) return undefined;
  const key = `${PREFIX}on-change`;
  const processOf = (given: string | undefined, example: string) => {
    if (given !== undefined) return given;
    const first = app.command?.[0];
    const name = first?.split('/').pop();
    if (!name) {
      throw new AnnotationError(
        key,
        `needs the process to signal, e.g. ${example} (container ${app.name} has no command to take its name from)`,
      );
    }
    return name;
  };
  switch (onChange.kind) {
    case 'signal':
      return { signal: onChange.signal, processName: processOf(onChange.processName, 'signal:HUP:nginx') };
    case 'restart':
      // SIGTERM ends the app's process; the kubelet restarts the container. A pod that does not restart
      // its containers would just lose its app.
      if (restartPolicy !== undefined && restartPolicy !== 'Always') {
        throw new AnnotationError(key, `restart needs restartPolicy Always (this pod has ${restartPolicy})`);
      }
      return { signal: 'SIGTERM', processName: processOf(onChange.processName, 'restart:myapp') };
    case 'command':
      return { command: ['/bin/sh', '-c', onChange.command] };
    case 'http':
      return { http: onChange.url };
  }
}

/** The agent config (the contract of src/agent/config.ts), as JSON-ready data. */
function agentConfig(
  spec: InjectionSpec,
  defaults: Readonly<InjectorDefaults>,
  onChange: AgentOnChange | undefined,
  sameUid: boolean,
): Record<string, unknown> {
  // 0400 when the app runs as the agent's uid; otherwise world-readable: the volume is mounted only in
  // this pod's containers, and a file the app cannot read helps nobody. mode-<name> overrides.
  const defaultMode = sameUid ? '0400' : '0444';
  const config: Record<string, unknown> = {
    server: spec.server ?? defaults.server,
    auth: { role: spec.role, tokenFile: `${TOKEN_DIR}/token` },
  };
  if (spec.mode === 'sidecar') {
    config.listen = `127.0.0.1:${AGENT_PORT}`;
    // Hidden in the volume: the app reads it to call the endpoint; `..`-names belong to the file writer.
    config.localTokenFile = `${SECRETS_DIR}/.local-token`;
  }
  config.secrets = spec.secrets.map((s) => {
    const out: Record<string, unknown> = { id: s.id, path: `${SECRETS_DIR}/${s.name}` };
    if (s.format !== undefined) out.format = s.format;
    if (s.template !== undefined) out.template = s.template;
    out.mode = s.mode ?? defaultMode;
    if (s.env !== undefined) out.env = s.env;
    return out;
  });
  if (onChange) config.onChange = onChange;
  return config;
}

function agentContainer(
  spec: InjectionSpec,
  defaults: Readonly<InjectorDefaults>,
  config: Record<string, unknown>,
  uid: number,
): Record<string, unknown> {
  const r = { ...defaults.resources, ...spec.resources };
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (r.cpuRequest) requests.cpu = r.cpuRequest;
  if (r.memoryRequest) requests.memory = r.memoryRequest;
  if (r.cpuLimit) limits.cpu = r.cpuLimit;
  if (r.memoryLimit) limits.memory = r.memoryLimit;
  const container: Record<string, unknown> = {
    name: AGENT_CONTAINER,
    image: spec.image ?? defaults.image,
    args: spec.mode === 'sidecar' ? ['agent'] : ['agent', '--once'],
    env: [{ name: CONFIG_ENV, value: JSON.stringify(config) }],
    resources: {
      ...(Object.keys(requests).length > 0 && { requests }),
      ...(Object.keys(limits).length > 0 && { limits }),
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: uid,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: SECRETS_VOLUME, mountPath: SECRETS_DIR },
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    ],
  };
  if (spec.mode === 'sidecar') {
    container.restartPolicy = 'Always';
    container.startupProbe = {
      exec: { command: readyProbeCommand(AGENT_PORT) },
      periodSeconds: 1,
      timeoutSeconds: 5,
      // Up to five minutes for the server to answer before the kubelet restarts the agent.
      failureThreshold: 300,
    };
  }
  return container;
}

/** Exits 0 iff the agent's /readyz answers 200 (every secret written). Runs inside the agent container. */
export function readyProbeCommand(port: number): string[] {
  return [
    'node',
    '-e',
    `fetch('http://127.0.0.1:${port}/readyz').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))`,
  ];
}
