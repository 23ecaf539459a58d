// `keysafe injector`: the mutating admission webhook that adds the agent to annotated pods.
import { ConfigError } from '../core/config-error.js';
import { INJECTOR_DEFAULTS, type InjectorDefaults, startInjector } from '../injector/index.js';
import { createLogger, type LogLevel } from '../observability/logger.js';
import { parseFlags, untilSignal } from './args.js';

export const DEFAULTS_FLAGS = {
  image: { type: 'string' },
  server: { type: 'string' },
  audience: { type: 'string' },
} as const;

export const DEFAULTS_USAGE = `
  --image IMAGE     agent image when a pod does not say keysafe.dev/image (default ${INJECTOR_DEFAULTS.image})
  --server URL      Keysafe server when a pod does not say keysafe.dev/server (default ${INJECTOR_DEFAULTS.server})
  --audience AUD    service-account token audience when a pod does not say keysafe.dev/audience (default ${INJECTOR_DEFAULTS.audience})
`;

export function defaultsFromFlags(values: { image?: string; server?: string; audience?: string }): InjectorDefaults {
  if (values.server !== undefined) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(values.server).protocol);
    } catch {}
    if (!ok) throw new ConfigError('--server: expected an http:// or https:// URL');
  }
  return {
    ...INJECTOR_DEFAULTS,
    resources: { ...INJECTOR_DEFAULTS.resources },
    ...(values.image && { image: values.image }),
    ...(values.server && { server: values.server }),
    ...(values.audience && { audience: values.audience }),
  };
}

const USAGE = `usage: keysafe injector --tls-cert FILE --tls-key FILE [--listen [HOST]:PORT] [--log-level LEVEL]

The mutating admission webhook: POST /mutate takes an AdmissionReview v1 and adds the Keysafe agent
to pods annotated keysafe.dev/inject: "true"; pods with invalid keysafe.dev annotations are refused
with a message naming the annotation. The certificate is reloaded when its files change.
  --listen          default :8443 (all interfaces: the API server calls in over the pod network)
${DEFAULTS_USAGE}`;

export async function runInjector(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      listen: { type: 'string' },
      'log-level': { type: 'string' },
      ...DEFAULTS_FLAGS,
    },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values['tls-cert'] || !values['tls-key'])
    throw new ConfigError(`--tls-cert and --tls-key are required\n\n${USAGE}`);
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(values.listen ?? ':8443');
  if (!m || Number(m[3]) > 65535) throw new ConfigError('--listen: expected [HOST]:PORT such as :8443');
  const level = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw new ConfigError('--log-level: debug, info, warn or error');
  const logger = createLogger(level as LogLevel);
  let injector: Awaited<ReturnType<typeof startInjector>>;
  try {
    injector = await startInjector({
      certFile: values['tls-cert'],
      keyFile: values['tls-key'],
      ...(m[1] || m[2] ? { host: m[1] ?? m[2] } : {}),
      port: Number(m[3]),
      defaults: defaultsFromFlags(values),
      logger,
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') throw new ConfigError(`cannot read the TLS files (${code})`);
    throw e;
  }
  await untilSignal();
  await injector.close();
  return 0;
}
