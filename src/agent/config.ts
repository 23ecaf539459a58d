// Agent configuration: the YAML/JSON file parsed once with zod, defaults applied, normalised and frozen.
//
// Every problem is a ConfigError naming the bad key as a path such as `secrets[0].mode`. Relative file
// paths in the file (tokenFile, localTokenFile, secrets[].path, onChange.pidFile) are resolved against the
// directory holding the config file, so a config works the same from any working directory.
import { constants as osConstants } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { REGION_NAME } from '../core/arn.js';
import { ConfigError } from '../core/config-error.js';
import { readConfigDocument } from '../core/config-file.js';
import type { LogLevel } from '../observability/logger.js';
import { describeIssues } from './config-issues.js';
import { templateFields } from './render.js';

export const AGENT_DEFAULTS = {
  format: 'raw',
  /** Secret files are readable by their owner only unless the config says otherwise. */
  mode: 0o400,
  /** The first change reloads at once; later ones within this window reload once at its end. */
  debounceMs: 1000,
  execOnChange: 'restart',
  execSignal: 'SIGHUP',
  gracePeriodSeconds: 10,
  /** Safety-net poll; changes normally arrive over the watch stream. */
  pollIntervalSeconds: 300,
  /** 0: serve the last good value forever while the server is unreachable. */
  maxStaleSeconds: 0,
  logLevel: 'info',
  /** Host used when `listen` is a bare `:PORT`. */
  listenHost: '127.0.0.1',
} as const;

export type SecretFormat = 'raw' | 'json' | 'env' | 'shell' | 'template';

export interface AgentSecretConfig {
  /** Secret name or ARN. */
  id: string;
  /** Absolute file path; absent: served only over the localhost endpoint (and `keysafe exec`). */
  path?: string;
  format: SecretFormat;
  /** Present iff format is `template`. */
  template?: string;
  /** Permission bits, e.g. 0o400. */
  mode: number;
  owner?: number;
  group?: number;
  /** For `keysafe exec`: one variable holding the rendered value, or {jsonField: ENV_NAME}. */
  env?: string | Readonly<Record<string, string>>;
}

export interface AgentOnChangeConfig {
  /** Signal sent to the pid in pidFile or to the process named processName (exactly one of them). */
  signal?: NodeJS.Signals;
  pidFile?: string;
  processName?: string;
  command?: readonly string[];
  /** POSTed to after a change. */
  http?: string;
  debounceMs: number;
}

export interface AgentExecConfig {
  onChange: 'restart' | 'signal';
  signal: NodeJS.Signals;
  gracePeriodSeconds: number;
}

export interface AgentConfig {
  /** Server base URLs without a trailing slash, tried in order. */
  server: readonly string[];
  /**
   * The region the agent reads and watches secrets in, sent as x-keysafe-region on its native calls;
   * absent: the server's default region. An agent beside a replica names the replica's region.
   */
  region?: string;
  auth: { role: string; tokenFile: string };
  /** The localhost endpoint; absent: disabled. */
  listen?: { host: string; port: number };
  insecureListenNonLoopback: boolean;
  /** Set whenever listen is. */
  localTokenFile?: string;
  secrets: readonly AgentSecretConfig[];
  onChange?: AgentOnChangeConfig;
  exec: AgentExecConfig;
  pollIntervalSeconds: number;
  maxStaleSeconds: number;
  logLevel: LogLevel;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MODE = /^0?[0-7]{3}$/;
const SIGNALS = new Set(Object.keys(osConstants.signals));

const nonEmpty = z.string().min(1, 'must not be empty');

const serverUrl = z.string().refine((s) => {
  try {
    const url = new URL(s);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}, 'an http:// or https:// URL without query or fragment');

const signalName = z
  .string()
  .transform((s) => (s.startsWith('SIG') ? s : `SIG${s}`))
  .refine((s) => SIGNALS.has(s), 'a signal name such as SIGHUP')
  .transform((s) => s as NodeJS.Signals);

const envName = z.string().regex(ENV_NAME, 'an environment variable name ([A-Za-z_][A-Za-z0-9_]*)');

const secretSchema = z
  .object({
    id: nonEmpty.max(2048),
    path: nonEmpty.optional(),
    format: z.enum(['raw', 'json', 'env', 'shell', 'template']).default(AGENT_DEFAULTS.format),
    template: z.string().optional(),
    mode: z
      .unknown()
      .optional()
      .superRefine((m, ctx) => {
        if (m === undefined || (typeof m === 'string' && MODE.test(m))) return;
        ctx.addIssue({
          code: 'custom',
          message:
            typeof m === 'number'
              ? 'quote it as an octal string such as "0400" (a bare YAML number is read as decimal)'
              : 'an octal permission string such as "0400"',
        });
      })
      .transform((m) => (m === undefined ? AGENT_DEFAULTS.mode : Number.parseInt(m as string, 8))),
    owner: z.number().int().min(0).optional(),
    group: z.number().int().min(0).optional(),
    env: z.union([envName, z.record(nonEmpty, envName)]).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.format === 'template' && s.template === undefined) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: 'required when format is template' });
    }
    if (s.format !== 'template' && s.template !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: 'only allowed when format is template' });
    }
    if (s.template !== undefined) {
      try {
        templateFields(s.template);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['template'], message: (e as Error).message });
      }
    }
    if (s.path !== undefined) {
      const name = basename(s.path);
      if (s.path.endsWith('/') || name === '' || name === '.' || name === '..') {
        ctx.addIssue({ code: 'custom', path: ['path'], message: 'a file path, not a directory' });
      } else if (name.startsWith('..')) {
        // The atomic writer owns every `..*` name in the directory (`..data`, its timestamped dirs).
        ctx.addIssue({ code: 'custom', path: ['path'], message: 'file names starting with ".." are reserved' });
      }
    }
  });

const onChangeSchema = z
  .object({
    signal: signalName.optional(),
    pidFile: nonEmpty.optional(),
    processName: nonEmpty.optional(),
    command: z.array(nonEmpty).min(1, 'a non-empty argv array').optional(),
    http: serverUrl.optional(),
    debounceMs: z.number().int().min(0).default(AGENT_DEFAULTS.debounceMs),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.pidFile !== undefined && o.processName !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['processName'], message: 'give pidFile or processName, not both' });
    }
    if (o.signal !== undefined && o.pidFile === undefined && o.processName === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['signal'],
        message: 'needs pidFile or processName to know whom to signal',
      });
    }
    if ((o.pidFile !== undefined || o.processName !== undefined) && o.signal === undefined) {
      ctx.addIssue({ code: 'custom', path: ['signal'], message: 'required with pidFile or processName' });
    }
    const signals = o.signal !== undefined || o.pidFile !== undefined || o.processName !== undefined;
    if (!signals && o.command === undefined && o.http === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give at least one of signal, command or http' });
    }
  });

const execSchema = z
  .object({
    onChange: z.enum(['restart', 'signal']).default(AGENT_DEFAULTS.execOnChange),
    signal: signalName.default(AGENT_DEFAULTS.execSignal),
    gracePeriodSeconds: z.number().min(0).default(AGENT_DEFAULTS.gracePeriodSeconds),
  })
  .strict();

const fileSchema = z
  .object({
    server: z.union([serverUrl, z.array(serverUrl).min(1, 'at least one server URL')]),
    region: z.string().regex(REGION_NAME, 'a region such as eu-west-1').optional(),
    auth: z.object({ role: nonEmpty, tokenFile: nonEmpty }).strict(),
    listen: z.string().optional(),
    insecureListenNonLoopback: z.boolean().default(false),
    localTokenFile: nonEmpty.optional(),
    secrets: z.array(secretSchema).min(1, 'at least one secret'),
    onChange: onChangeSchema.optional(),
    exec: execSchema.default({
      onChange: AGENT_DEFAULTS.execOnChange,
      signal: AGENT_DEFAULTS.execSignal,
      gracePeriodSeconds: AGENT_DEFAULTS.gracePeriodSeconds,
    }),
    pollIntervalSeconds: z.number().int().min(1).default(AGENT_DEFAULTS.pollIntervalSeconds),
    maxStaleSeconds: z.number().int().min(0).default(AGENT_DEFAULTS.maxStaleSeconds),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default(AGENT_DEFAULTS.logLevel),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.listen !== undefined) {
      const listen = parseAgentListen(c.listen);
      if (!listen) {
        ctx.addIssue({ code: 'custom', path: ['listen'], message: 'expected HOST:PORT such as 127.0.0.1:2773' });
      } else if (!isLoopbackHost(listen.host) && !c.insecureListenNonLoopback) {
        ctx.addIssue({
          code: 'custom',
          path: ['listen'],
          message: 'not a loopback address; set insecureListenNonLoopback: true to expose secrets beyond this host',
        });
      }
      if (c.localTokenFile === undefined) {
        ctx.addIssue({ code: 'custom', path: ['localTokenFile'], message: 'required when listen is set' });
      }
    }
    const paths = new Map<string, number>();
    const envs = new Map<string, string>();
    for (const [n, s] of c.secrets.entries()) {
      if (s.path !== undefined) {
        const seen = paths.get(s.path);
        if (seen !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['secrets', n, 'path'], message: `same path as secrets[${seen}]` });
        }
        paths.set(s.path, n);
      }
      const names = s.env === undefined ? [] : typeof s.env === 'string' ? [s.env] : Object.values(s.env);
      for (const name of names) {
        const seen = envs.get(name);
        if (seen !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['secrets', n, 'env'],
            message: `variable ${name} is already set by ${seen}`,
          });
        }
        envs.set(name, `secrets[${n}]`);
      }
    }
  });

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback); undefined if malformed. */
export function parseAgentListen(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || AGENT_DEFAULTS.listenHost), port };
}

/** True for addresses only this host can reach. The caller logs a warning when listening elsewhere. */
export const isLoopbackHost = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

export interface ParseOptions {
  /** Relative paths in the config are resolved against this directory (default: the working directory). */
  baseDir?: string;
  /** Names the config in error messages (default "agent config"). */
  source?: string;
}

/** Validates a parsed YAML/JSON document; throws ConfigError naming the bad key. */
export function parseAgentConfig(doc: unknown, options: ParseOptions = {}): Readonly<AgentConfig> {
  const source = options.source ?? 'agent config';
  // zod skips a "__proto__" key in a record: refuse it rather than lose that env mapping silently.
  const secrets = (doc as { secrets?: unknown } | null)?.secrets;
  if (Array.isArray(secrets)) {
    for (const [n, s] of secrets.entries()) {
      const env = (s as { env?: unknown } | null)?.env;
      if (env && typeof env === 'object' && Object.hasOwn(env, '__proto__')) {
        throw new ConfigError(
          `${source}: invalid value for 'secrets[${n}].env': a field named __proto__ is not supported`,
        );
      }
    }
  }
  const parsed = fileSchema.safeParse(doc ?? {}, {
    error: (issue) => (issue.input === undefined && issue.code !== 'custom' ? 'required' : undefined),
  });
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues, source));
  const c = parsed.data;
  const at = (p: string) => resolve(options.baseDir ?? process.cwd(), p);

  const config: AgentConfig = {
    server: (typeof c.server === 'string' ? [c.server] : c.server).map((s) => s.replace(/\/+$/, '')),
    auth: { role: c.auth.role, tokenFile: at(c.auth.tokenFile) },
    insecureListenNonLoopback: c.insecureListenNonLoopback,
    secrets: c.secrets.map((s) => {
      const secret: AgentSecretConfig = { id: s.id, format: s.format, mode: s.mode };
      if (s.path !== undefined) secret.path = at(s.path);
      if (s.template !== undefined) secret.template = s.template;
      if (s.owner !== undefined) secret.owner = s.owner;
      if (s.group !== undefined) secret.group = s.group;
      if (s.env !== undefined) secret.env = typeof s.env === 'string' ? s.env : { ...s.env };
      return secret;
    }),
    exec: { ...c.exec },
    pollIntervalSeconds: c.pollIntervalSeconds,
    maxStaleSeconds: c.maxStaleSeconds,
    logLevel: c.logLevel,
  };
  if (c.region !== undefined) config.region = c.region;
  if (c.listen !== undefined) config.listen = parseAgentListen(c.listen)!;
  if (c.localTokenFile !== undefined) config.localTokenFile = at(c.localTokenFile);
  if (c.onChange !== undefined) {
    const o = c.onChange;
    const onChange: AgentOnChangeConfig = { debounceMs: o.debounceMs };
    if (o.signal !== undefined) onChange.signal = o.signal;
    if (o.pidFile !== undefined) onChange.pidFile = at(o.pidFile);
    if (o.processName !== undefined) onChange.processName = o.processName;
    if (o.command !== undefined) onChange.command = [...o.command];
    if (o.http !== undefined) onChange.http = o.http;
    config.onChange = onChange;
  }
  return deepFreeze(config);
}

/** Reads, parses and validates the agent config file (YAML or JSON). */
export function loadAgentConfig(path: string): Readonly<AgentConfig> {
  return parseAgentConfig(readConfigDocument(path), { baseDir: dirname(resolve(path)), source: `config ${path}` });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
