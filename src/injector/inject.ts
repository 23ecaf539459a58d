// `keysafe inject` offline: the webhook's mutation applied to the pod templates of multi-document YAML.
import { type Document, isSeq, parseAllDocuments } from 'yaml';
import { ConfigError } from '../core/config-error.js';
import { describeYamlError, YAML_OPTIONS } from '../core/config-file.js';
import { applyPatch } from './json-patch.js';
import { INJECTOR_DEFAULTS, type InjectorDefaults, mutate, type PatchOperation, type PodLike } from './mutate.js';

/** Where each workload kind keeps its pod (template): a path of object keys from the document root. */
const POD_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export interface InjectResult {
  yaml: string;
  /** `Kind/name` of every workload that got the agent. */
  injected: string[];
}

/** The pod (template) of a Kubernetes object, or undefined for kinds that have none (passed through). */
export function podOf(object: unknown): PodLike | undefined {
  if (object === null || typeof object !== 'object') return undefined;
  const kind = (object as { kind?: unknown }).kind;
  const path = typeof kind === 'string' && Object.hasOwn(POD_PATHS, kind) ? POD_PATHS[kind] : undefined;
  if (!path) return undefined;
  let at: unknown = object;
  for (const key of path) at = (at as Record<string, unknown> | undefined)?.[key];
  return at !== null && typeof at === 'object' ? (at as PodLike) : undefined;
}

/**
 * Injects every annotated pod template of a multi-document YAML stream; other documents (and
 * un-annotated workloads) come out as they went in. The patch is applied to the YAML document itself,
 * so comments, key order and styles of what was there are kept. Errors name the document and the annotation.
 */
export function injectYaml(text: string, defaults: Readonly<InjectorDefaults> = INJECTOR_DEFAULTS): InjectResult {
  const docs = parseAllDocuments(text, YAML_OPTIONS);
  const injected: string[] = [];
  const out: string[] = [];
  docs.forEach((doc, n) => {
    if ('errors' in doc && doc.errors.length > 0) {
      throw new ConfigError(`document ${n + 1}: not valid YAML (${describeYamlError(doc.errors[0], text)})`);
    }
    const document = doc as Document;
    const object = document.toJS() as unknown;
    const rendered = document.toString({ lineWidth: 0 });
    // An empty document (e.g. after a trailing `---`) is dropped, unless it holds comments.
    if (object == null && rendered.replace(/^---\s*/, '').trim() === '') return;
    const pod = podOf(object);
    const kind = (object as { kind?: string } | null)?.kind;
    const name = (object as { metadata?: { name?: string } } | null)?.metadata?.name ?? '?';
    let ops: PatchOperation[] = [];
    if (pod) {
      try {
        ops = mutate(pod, pod.metadata?.annotations, defaults);
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(`${kind}/${name} (document ${n + 1}): ${e.message}`);
        throw e;
      }
    }
    let result = rendered;
    if (ops.length > 0) {
      // Checked on plain data first (it throws on a path that does not fit), then done on the document.
      applyPatch(pod, ops);
      const base = POD_PATHS[kind!]!;
      for (const op of ops) applyToDocument(document, [...base, ...pointer(op.path)], op.value);
      injected.push(`${kind}/${name}`);
      result = document.toString({ lineWidth: 0 });
    }
    out.push(out.length === 0 || result.startsWith('---') ? result : `---\n${result}`);
  });
  return { yaml: out.join(''), injected };
}

const pointer = (path: string) =>
  path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

/** One JSON Patch `add` on a YAML document: object member set, array append (`-`) or insert at an index. */
function applyToDocument(doc: Document, path: string[], value: unknown): void {
  const last = path.at(-1)!;
  const parent = path.slice(0, -1);
  const node = parent.length === 0 ? doc.contents : doc.getIn(parent, true);
  if (isSeq(node)) {
    const item = doc.createNode(value);
    if (last === '-') node.items.push(item);
    else node.items.splice(Number(last), 0, item);
  } else {
    doc.setIn(path, doc.createNode(value));
  }
}
