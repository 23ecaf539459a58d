// `keysafe inject`: the injector's mutation offline, on Kubernetes YAML (for GitOps without a webhook).
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/config-error.js';
import { injectYaml } from '../injector/index.js';
import { parseFlags } from './args.js';
import { DEFAULTS_FLAGS, DEFAULTS_USAGE, defaultsFromFlags } from './injector.js';

const USAGE = `usage: keysafe inject [-f FILE|-] [--image IMAGE] [--server URL] [--audience AUD]

Reads Kubernetes YAML (multi-document; stdin when -f is absent or -) and prints it with the Keysafe
agent added to every pod template annotated keysafe.dev/inject: "true" (Pod, Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job, CronJob) — the same mutation as the webhook. Other documents pass through.
${DEFAULTS_USAGE}`;

export async function runInject(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { file: { type: 'string', short: 'f' }, ...DEFAULTS_FLAGS }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const file = values.file ?? '-';
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch {
    throw new ConfigError(`cannot read ${file === '-' ? 'standard input' : file}`);
  }
  const result = injectYaml(text, defaultsFromFlags(values));
  process.stdout.write(result.yaml);
  process.stderr.write(
    result.injected.length > 0
      ? `keysafe inject: added the agent to ${result.injected.join(', ')}\n`
      : 'keysafe inject: no pod template asks for injection (keysafe.dev/inject: "true")\n',
  );
  return 0;
}
