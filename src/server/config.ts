// Server configuration: defaults, the YAML/JSON file, flags and the env; parsed once and frozen.
//
// Precedence: built-in defaults < config file < command-line flags. The environment is read for
// exactly two things, never silently overriding either: KEYSAFE_ROOT_KEY (the root key itself,
// base64) and KEYSAFE_LOG_LEVEL.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { type IssuerConfig, issuerSchema, LOGIN_LIMITS, type RoleConfig, roleSchema } from '../auth/index.js';
import { REGION_NAME } from '../core/arn.js';
import { ConfigError } from '../core/config-error.js';
import { readConfigDocument } from '../core/config-file.js';
import { parseWebhookAllowEntry } from '../secrets/index.js';
import { MAX_REGIONS } from './regions.js';

export const DEFAULTS = {
  listen: '127.0.0.1:8270',
  dataDir: './keysafe-data',
  region: 'us-east-1',
  accountId: '000000000000',
  /** How often the rotation and deletion scheduler looks for due work. */
  schedulerIntervalMs: 60_000,
  /** A claimed rotation step not finished by then (its runner crashed) is run again. */
  rotationLeaseMs: 5 * 60_000,
  /** Largest request body accepted (AWS JSON). */
  maxBodyBytes: 1024 * 1024,
  /** How long in-flight requests may run on shutdown before sockets are closed. */
  shutdownGraceMs: 10_000,
  /** Audit log segments are closed and a new one started at this size. */
  auditMaxSegmentBytes: 64 * 1024 * 1024,
  /** How often admin-API changes to issuers and roles made on other replicas are picked up. */
  authRefreshMs: 1000,
  watchHeartbeatMs: 15_000,
  /** Largest Terraform state accepted by the http backend (states grow with the infrastructure). */
  terraformMaxStateBytes: 16 * 1024 * 1024,
  /** How many versions of each Terraform state are kept, newest first, for rolling back. */
  terraformKeepVersions: 10,
  /** Rotation webhooks may go nowhere until the operator lists where. */
  rotationWebhookAllow: [] as readonly string[],
} as const;

/** Shortest webhook signing secret accepted (bytes of UTF-8): a 256-bit key written as base64 or hex. */
const MIN_WEBHOOK_SECRET = 32;

const fileSchema = z
  .object({
    listen: z.string().optional(),
    dataDir: z.string().optional(),
    store: z.string().optional(),
    rootKeyFile: z.string().optional(),
    adminCredentialsFile: z.string().optional(),
    region: z.string().regex(REGION_NAME, 'a region such as us-east-1').optional(),
    regions: z.array(z.string().regex(REGION_NAME, 'a region such as us-east-1')).min(1).max(MAX_REGIONS).optional(),
    accountId: z
      .string()
      .regex(/^\d{12}$/, '12 digits')
      .optional(),
    tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
    insecurePlaintextNonLoopback: z.boolean().optional(),
    schedulerIntervalMs: z.number().int().min(100).optional(),
    rotationLeaseMs: z.number().int().min(1000).optional(),
    maxBodyBytes: z.number().int().min(1024).optional(),
    watchHeartbeatMs: z.number().int().min(100).max(60_000).optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).optional(),
    issuers: z.array(issuerSchema).optional(),
    roles: z.array(roleSchema).optional(),
    login: z
      .object({
        perSourcePerMinute: z.number().int().min(1).optional(),
        perRolePerMinute: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    audit: z
      .object({
        dir: z.string().optional(),
        maxSegmentBytes: z.number().int().min(4096).optional(),
        /** fsync each commit; off only for benchmarks of the rest. */
        insecureNoSync: z.boolean().optional(),
      })
      .strict()
      .optional(),
    terraform: z
      .object({
        maxStateBytes: z.number().int().min(1024).optional(),
        keepVersions: z.number().int().min(1).max(1000).optional(),
      })
      .strict()
      .optional(),
    rotation: z
      .object({
        /** URL prefixes rotation webhooks may go to: `https://host[:port]` or `https://host[:port]/path/`. */
        webhookAllow: z
          .array(
            z.string().refine((e) => parseWebhookAllowEntry(e) !== undefined, {
              message:
                'an http(s) origin, optionally with a path ending in "/" (no wildcard, credentials, query or fragment)',
            }),
          )
          .max(100)
          .optional(),
        /** The HMAC-SHA256 key webhook deliveries are signed with, inline… */
        webhookSecret: z.string().min(MIN_WEBHOOK_SECRET).optional(),
        /** …or in a file (its content, surrounding whitespace trimmed). */
        webhookSecretFile: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set((c.issuers ?? []).map((i) => i.name));
    for (const [n, role] of (c.roles ?? []).entries()) {
      if (!names.has(role.issuer)) {
        ctx.addIssue({
          code: 'custom',
          path: ['roles', n, 'issuer'],
          message: `no issuer named ${role.issuer} in issuers`,
        });
      }
    }
  });

export type ServerFileConfig = z.infer<typeof fileSchema>;

export interface ServerFlags {
  config?: string;
  listen?: string;
  dataDir?: string;
  store?: string;
  rootKeyFile?: string;
  adminCredentialsFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecurePlaintextNonLoopback?: boolean;
}

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  store: string;
  /** Root key bytes from the environment, if given there. */
  rootKeyFromEnv?: Buffer;
  rootKeyFile: string;
  /** The admin's credentials; replicas share one file (a mounted Secret). */
  adminCredentialsFile: string;
  /** The default region: Bearer-token and native calls without an x-keysafe-region header, and existing data. */
  region: string;
  /** The regions requests may name; absent: any well-formed region. */
  regions?: readonly string[];
  accountId: string;
  tls?: { cert: string; key: string };
  insecurePlaintextNonLoopback: boolean;
  schedulerIntervalMs: number;
  /** How long a claimed rotation step may run before it is retried elsewhere (after a crash). */
  rotationLeaseMs: number;
  maxBodyBytes: number;
  /** How often a watch stream carries a heartbeat; agents give up on a stream silent for three. */
  watchHeartbeatMs: number;
  shutdownGraceMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  issuers: IssuerConfig[];
  roles: RoleConfig[];
  login: { perSourcePerMinute: number; perRolePerMinute: number };
  audit: { dir: string; maxSegmentBytes: number; sync: boolean };
  authRefreshMs: number;
  terraform: { maxStateBytes: number; keepVersions: number };
  /** Rotation webhooks: where they may go, and the key that signs them (required when any may go). */
  rotation: { webhookAllow: readonly string[]; webhookSecret?: string };
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new ConfigError(`listen: expected HOST:PORT, got '${value}'`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function readConfigFile(path: string): ServerFileConfig {
  const doc = readConfigDocument(path);
  const parsed = fileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
    throw new ConfigError(
      `config: ${issue.code === 'unrecognized_keys' ? 'unknown key' : 'invalid value for'} '${key}' in ${path}: ${issue.message}`,
    );
  }
  return parsed.data;
}

function rootKeyFromEnv(env: NodeJS.ProcessEnv): Buffer | undefined {
  const value = env.KEYSAFE_ROOT_KEY;
  if (value === undefined || value === '') return undefined;
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== value.trim()) {
    throw new ConfigError('KEYSAFE_ROOT_KEY: expected 32 bytes, base64-encoded');
  }
  return bytes;
}

export function loadServerConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): Readonly<ServerConfig> {
  const file = flags.config ? readConfigFile(flags.config) : {};
  const { host, port } = parseListen(flags.listen ?? file.listen ?? DEFAULTS.listen);
  const dataDir = flags.dataDir ?? file.dataDir ?? DEFAULTS.dataDir;
  const certFile = flags.tlsCert ?? file.tls?.cert;
  const keyFile = flags.tlsKey ?? file.tls?.key;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError('tls: give both a certificate (--tls-cert) and a key (--tls-key)');
  }
  const logLevel = file.logLevel ?? (env.KEYSAFE_LOG_LEVEL as ServerConfig['logLevel'] | undefined) ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError('KEYSAFE_LOG_LEVEL: expected debug, info, warn or error');
  }
  const config: ServerConfig = {
    host,
    port,
    dataDir,
    store: flags.store ?? file.store ?? `sqlite:${join(dataDir, 'keysafe.db')}`,
    rootKeyFile: flags.rootKeyFile ?? file.rootKeyFile ?? join(dataDir, 'root.key'),
    adminCredentialsFile:
      flags.adminCredentialsFile ?? file.adminCredentialsFile ?? join(dataDir, 'admin-credentials.json'),
    region: file.region ?? DEFAULTS.region,
    accountId: file.accountId ?? DEFAULTS.accountId,
    insecurePlaintextNonLoopback: flags.insecurePlaintextNonLoopback ?? file.insecurePlaintextNonLoopback ?? false,
    schedulerIntervalMs: file.schedulerIntervalMs ?? DEFAULTS.schedulerIntervalMs,
    rotationLeaseMs: file.rotationLeaseMs ?? DEFAULTS.rotationLeaseMs,
    maxBodyBytes: file.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    watchHeartbeatMs: file.watchHeartbeatMs ?? DEFAULTS.watchHeartbeatMs,
    shutdownGraceMs: DEFAULTS.shutdownGraceMs,
    logLevel,
    issuers: file.issuers ?? [],
    roles: file.roles ?? [],
    login: { ...LOGIN_LIMITS, ...file.login },
    audit: {
      dir: file.audit?.dir ?? join(dataDir, 'audit'),
      maxSegmentBytes: file.audit?.maxSegmentBytes ?? DEFAULTS.auditMaxSegmentBytes,
      sync: !file.audit?.insecureNoSync,
    },
    authRefreshMs: DEFAULTS.authRefreshMs,
    terraform: {
      maxStateBytes: file.terraform?.maxStateBytes ?? DEFAULTS.terraformMaxStateBytes,
      keepVersions: file.terraform?.keepVersions ?? DEFAULTS.terraformKeepVersions,
    },
    rotation: { webhookAllow: DEFAULTS.rotationWebhookAllow },
  };
  config.rotation = rotationConfig(file.rotation);
  if (file.regions) config.regions = allowedRegions(file.regions, config.region, file.region !== undefined);
  const envKey = rootKeyFromEnv(env);
  if (envKey) config.rootKeyFromEnv = envKey;
  if (certFile && keyFile) config.tls = { cert: certFile, key: keyFile };
  return Object.freeze(config);
}

/** `regions:` frozen, refusing a list that leaves out the default region (it holds the data of before). */
function allowedRegions(regions: string[], region: string, regionGiven: boolean): readonly string[] {
  if (!regions.includes(region)) {
    throw new ConfigError(
      `regions: the default region ${region}${regionGiven ? ' (region:)' : ' (the built-in default; set region:)'} must be one of ${regions.join(', ')}`,
    );
  }
  return Object.freeze([...new Set(regions)]);
}

/** The rotation section: an allow list needs a signing secret, given inline or in a file, not both. */
function rotationConfig(r: ServerFileConfig['rotation']): ServerConfig['rotation'] {
  const webhookAllow = Object.freeze([...(r?.webhookAllow ?? DEFAULTS.rotationWebhookAllow)]);
  if (r?.webhookSecret !== undefined && r.webhookSecretFile !== undefined) {
    throw new ConfigError('rotation: give webhookSecret or webhookSecretFile, not both');
  }
  let webhookSecret = r?.webhookSecret;
  if (r?.webhookSecretFile !== undefined) {
    try {
      webhookSecret = readFileSync(r.webhookSecretFile, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(
        `rotation.webhookSecretFile: cannot read ${r.webhookSecretFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    if (Buffer.byteLength(webhookSecret) < MIN_WEBHOOK_SECRET) {
      throw new ConfigError(
        `rotation.webhookSecretFile: ${r.webhookSecretFile} must hold at least ${MIN_WEBHOOK_SECRET} characters`,
      );
    }
  }
  if (webhookAllow.length > 0 && webhookSecret === undefined) {
    throw new ConfigError(
      'rotation.webhookAllow: webhooks are signed; give rotation.webhookSecret or webhookSecretFile',
    );
  }
  return { webhookAllow, ...(webhookSecret !== undefined && { webhookSecret }) };
}

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
