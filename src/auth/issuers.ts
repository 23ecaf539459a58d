// Trusted JWT issuers: where their keys come from, and verifying a workload's token against them.
//
// Key sets come from OIDC discovery, a JWKS URL, a JWKS file (watched) or inline JSON. Remote sets
// are cached; an unknown `kid` triggers a refresh at most once per `minRefreshMs`, and a failed
// fetch keeps the last good set. jose does the JWS and claim work.
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { watch } from 'chokidar';
import { createLocalJWKSet, decodeProtectedHeader, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import { z } from 'zod';
import { ResponseTooLargeError } from '../client/errors.js';
import { send } from '../client/http.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';

export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export const ISSUER_DEFAULTS = {
  algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA', 'Ed25519'],
  /** Leeway for exp, nbf and iat, in seconds. */
  clockSkewSeconds: 30,
  /** Kubernetes projected tokens last 1 h by default; kubelet may ask for up to 48 h. */
  maxTokenLifetimeSeconds: 48 * 3600,
  maxTokenBytes: 16 * 1024,
  /** An unknown kid refreshes a remote key set at most this often. */
  minRefreshSeconds: 30,
  /** Remote key sets are re-fetched this often even when every kid is known. */
  refreshSeconds: 3600,
} as const;

/** Options that make the server read one of its own files: accepted only from the server's config file. */
export const ISSUER_FILE_OPTIONS = ['tokenFile', 'caFile', 'jwksFile'] as const;

/** Largest discovery document or key set read from an issuer; a longer body is abandoned mid-read. */
export const MAX_ISSUER_DOCUMENT_BYTES = 1024 * 1024;
const FETCH_TIMEOUT_MS = 5000;

const isHttpUrl = (value: string): boolean => {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
};
const HTTP_URL_ONLY = 'must be an http:// or https:// URL';

const jwk = z.record(z.string(), z.unknown());
const issuerFields = {
  name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'letters, digits, _ . - (1–64)'),
  issuer: z.string().min(1).max(2048),
  audiences: z.array(z.string().min(1)).min(1),
  discovery: z.boolean().optional(),
  jwksUrl: z.string().max(2048).refine(isHttpUrl, HTTP_URL_ONLY).optional(),
  jwks: z.object({ keys: z.array(jwk) }).optional(),
  // Symmetric algorithms are refused outright: with a public key as the HMAC secret, anyone could sign.
  algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).optional(),
  clockSkewSeconds: z.number().int().min(0).max(600).optional(),
  maxTokenLifetimeSeconds: z
    .number()
    .int()
    .min(60)
    .max(31 * 86_400)
    .optional(),
  maxTokenBytes: z
    .number()
    .int()
    .min(512)
    .max(1024 * 1024)
    .optional(),
  minRefreshSeconds: z.number().min(1).max(86_400).optional(),
};
const fileFields = {
  jwksFile: z.string().min(1).optional(),
  /** For discovery/jwksUrl over https with a private CA (a cluster's API server: its ca.crt). */
  caFile: z.string().min(1).optional(),
  /** A bearer token file sent with discovery/JWKS fetches to the issuer's own hosts (the server's service-account token). */
  tokenFile: z.string().min(1).optional(),
};

function checkKeySource(
  i: { issuer: string; discovery?: boolean; jwksUrl?: string; jwksFile?: string; jwks?: object },
  ctx: z.RefinementCtx,
): void {
  if ([i.discovery, i.jwksUrl, i.jwksFile, i.jwks].filter((x) => x !== undefined && x !== false).length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: 'give exactly one key source: discovery: true, jwksUrl, jwksFile or jwks',
    });
  }
  // With discovery the issuer is also the URL fetched.
  if (i.discovery && !isHttpUrl(i.issuer)) {
    ctx.addIssue({ code: 'custom', path: ['issuer'], message: `${HTTP_URL_ONLY} (it is the discovery base)` });
  }
}

/** An issuer in the server's config file: file options allowed, the operator owns the host. */
export const issuerSchema = z
  .object({ ...issuerFields, ...fileFields })
  .strict()
  .superRefine(checkKeySource);

const configFileOnly = (option: string) =>
  z
    .undefined({
      error: `${option} names a file on the server and is accepted only in the server's config file (issuers:), not through the admin API; put this issuer in the config file`,
    })
    .optional();

/**
 * An issuer through the admin API (and as stored by it): no option that reads a server file. An admin
 * token is a network credential; the server's files (its root key above all) are not its to read.
 */
export const apiIssuerSchema = z
  .object({
    // First, so that a refused file option is the error reported.
    tokenFile: configFileOnly('tokenFile'),
    caFile: configFileOnly('caFile'),
    jwksFile: configFileOnly('jwksFile'),
    ...issuerFields,
  })
  .strict()
  .superRefine(checkKeySource);

export type IssuerConfig = z.infer<typeof issuerSchema>;
export type ApiIssuerConfig = z.infer<typeof apiIssuerSchema>;

/** A verified token's claims. */
export type VerifiedClaims = JWTPayload & { sub: string };

/** Why a token was refused, for the message; never the token or its claims. */
const REASONS = {
  tooLarge: 'The web identity token is too large.',
  malformed: 'The web identity token is not a well-formed JWT.',
  algorithm: 'The web identity token is signed with an algorithm this issuer does not allow.',
  unknownKey: "The web identity token's signing key is not in the issuer's key set.",
  signature: "The web identity token's signature is invalid.",
  issuer: 'The web identity token was issued by another issuer.',
  audience: 'The web identity token has the wrong audience.',
  expired: 'The web identity token is expired.',
  notYetValid: 'The web identity token is not valid yet.',
  lifetime: "The web identity token's lifetime is longer than this issuer allows.",
  claims: 'The web identity token lacks a required claim (sub, exp).',
  keys: "The issuer's keys could not be fetched.",
} as const;

const refuse = (reason: keyof typeof REASONS) =>
  new AppError(
    reason === 'expired'
      ? 'ExpiredTokenException'
      : reason === 'keys'
        ? 'IDPCommunicationError'
        : 'InvalidIdentityToken',
    REASONS[reason],
  );

export interface IssuerDeps {
  logger: Logger;
  /** seconds since the epoch, for exp/nbf/iat (tests move it). */
  now: () => number;
}

/** One trusted issuer with its key set. */
export class TrustedIssuer {
  readonly config: IssuerConfig;
  readonly #deps: IssuerDeps;
  #keys: ReturnType<typeof createLocalJWKSet> | undefined;
  #lastFetch = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  #watcher: ReturnType<typeof watch> | undefined;
  /** Remote fetches made (tests check the unknown-kid flood limit). */
  fetches = 0;

  constructor(config: IssuerConfig, deps: IssuerDeps) {
    this.config = config;
    this.#deps = deps;
    if (config.jwks) this.#keys = createLocalJWKSet(config.jwks as JSONWebKeySet);
  }

  /** Loads the key set and, for a file, starts watching it. */
  async start(): Promise<void> {
    if (this.config.jwksFile) {
      const file = resolve(this.config.jwksFile);
      // Watch the directory: Kubernetes volumes swap a symlink, which a file watch never sees.
      // followSymlinks: false, or chokidar follows ..data once and never reports its swap.
      const watcher = watch(dirname(file), { ignoreInitial: true, depth: 0, followSymlinks: false });
      this.#watcher = watcher;
      watcher.on('all', (_event, path) => {
        if (basename(path) === basename(file) || basename(path) === '..data') void this.#loadFile();
      });
      // Changes before the watcher is ready are never reported: read the file only once it is,
      // so no replacement can fall between the read and the watch.
      await new Promise<void>((ok) => watcher.once('ready', ok));
      await this.#loadFile();
    } else if (!this.config.jwks) {
      await this.#refresh(true).catch(() => undefined); // keep serving; the first token retries
    }
  }

  async close(): Promise<void> {
    await this.#watcher?.close();
  }

  async #loadFile(): Promise<void> {
    const path = this.config.jwksFile!;
    try {
      const set = parseKeySet(await readIssuerFile(path, 'key file'), `the key file ${path}`);
      this.#keys = createLocalJWKSet(set);
    } catch (e) {
      // A half-written file: keep the last good set; the next change event brings the whole one.
      this.#deps.logger.warn('could not read issuer key set; keeping the previous one', {
        issuer: this.config.name,
        error: describeFailure(e),
      });
    }
  }

  /**
   * Fetches the remote key set (or re-reads the key file) unless that was done within minRefresh
   * (or `force`).
   */
  #refresh(force = false): Promise<void> {
    const minMs = (this.config.minRefreshSeconds ?? ISSUER_DEFAULTS.minRefreshSeconds) * 1000;
    if (this.#loading) return this.#loading;
    if (!force && this.#nowMs() - this.#lastFetch < minMs) return Promise.resolve();
    this.#lastFetch = this.#nowMs();
    if (this.config.jwksFile) {
      // The watcher can miss a second replacement made while it re-arms after the first one; an
      // unknown kid re-reading the file (paced like a fetch) makes a new key work regardless.
      this.#loading = this.#loadFile().finally(() => {
        this.#loading = undefined;
      });
      return this.#loading;
    }
    this.#loading = this.#fetchKeys()
      .then((set) => {
        this.#keys = createLocalJWKSet(set);
      })
      .catch((e: unknown) => {
        this.#deps.logger.warn('could not fetch issuer key set; keeping the previous one', {
          issuer: this.config.name,
          error: describeFailure(e),
        });
        if (!this.#keys) throw refuse('keys');
      })
      .finally(() => {
        this.#loading = undefined;
      });
    return this.#loading;
  }

  async #fetchKeys(): Promise<JSONWebKeySet> {
    this.fetches++;
    const c = this.config;
    // Read at each fetch: kubelet rotates the token file, and a CA bundle may be renewed too.
    const ca = c.caFile ? await readIssuerFile(c.caFile, 'CA file') : undefined;
    if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new IssuerKeysError(`the CA file ${c.caFile} holds no PEM certificate`);
    }
    const token = c.tokenFile ? (await readIssuerFile(c.tokenFile, 'token file')).trim() : undefined;
    const configured = new URL(
      c.discovery ? `${c.issuer.replace(/\/$/, '')}/.well-known/openid-configuration` : c.jwksUrl!,
    );
    // The token is the server's own credential, for the issuer it was configured for: its origin, or
    // another https origin whose certificate verifies against caFile (with a CA given, no other is
    // trusted, so that host is the issuer's own). Kubernetes needs the latter: its discovery document
    // names the API server's advertise address (https://<ip>:6443/openid/v1/jwks), not the
    // kubernetes.default.svc name the issuer uses, and that key set wants the token.
    const mayCarryToken = (url: URL) =>
      url.origin === configured.origin || (ca !== undefined && url.protocol === 'https:');
    const get = async (url: URL, what: string): Promise<unknown> => {
      const res = await send(url, {
        timeoutMs: FETCH_TIMEOUT_MS,
        ...(ca && { ca }),
        ...(token && mayCarryToken(url) && { headers: { authorization: `Bearer ${token}` } }),
      });
      // No redirect is followed (the client's default): a 3xx is a failure here, and the token goes nowhere else.
      if (res.status !== 200) {
        res.discard();
        throw new IssuerKeysError(`GET ${shortUrl(url)}: HTTP ${res.status}`);
      }
      let text: string;
      try {
        text = await res.text(MAX_ISSUER_DOCUMENT_BYTES);
      } catch (e) {
        if (e instanceof ResponseTooLargeError) {
          throw new IssuerKeysError(
            `GET ${shortUrl(url)}: the ${what} is larger than ${MAX_ISSUER_DOCUMENT_BYTES} bytes`,
          );
        }
        throw e;
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new IssuerKeysError(`GET ${shortUrl(url)}: the ${what} is not valid JSON`);
      }
    };
    let keysUrl = configured;
    if (c.discovery) {
      const doc = (await get(configured, 'discovery document')) as { issuer?: unknown; jwks_uri?: unknown } | null;
      if (doc?.issuer !== c.issuer) throw new IssuerKeysError('discovery document names another issuer');
      if (typeof doc.jwks_uri !== 'string') throw new IssuerKeysError('discovery document has no jwks_uri');
      if (!isHttpUrl(doc.jwks_uri)) throw new IssuerKeysError(`discovery document's jwks_uri ${HTTP_URL_ONLY}`);
      keysUrl = new URL(doc.jwks_uri);
    }
    return keySet(await get(keysUrl, 'key set'), `the key set at ${shortUrl(keysUrl)}`);
  }

  /** Verifies `token` for this issuer; throws AppError naming the failed check. */
  async verify(token: string): Promise<VerifiedClaims> {
    const c = this.config;
    if (Buffer.byteLength(token) > (c.maxTokenBytes ?? ISSUER_DEFAULTS.maxTokenBytes)) throw refuse('tooLarge');
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw refuse('malformed');
    }
    const algorithms = c.algorithms ?? ISSUER_DEFAULTS.algorithms;
    if (alg === undefined || !(algorithms as readonly string[]).includes(alg)) throw refuse('algorithm');

    const refreshAge = ISSUER_DEFAULTS.refreshSeconds * 1000;
    if (this.#isRemote() && (!this.#keys || this.#nowMs() - this.#lastFetch > refreshAge)) {
      await this.#refresh(!this.#keys).catch(() => undefined);
    }
    if (!this.#keys) throw refuse('keys');
    let payload: JWTPayload;
    try {
      payload = await this.#verifyWithKeys(token, algorithms);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey) || !(this.#isRemote() || this.config.jwksFile)) {
        throw this.#reason(e);
      }
      await this.#refresh();
      try {
        payload = await this.#verifyWithKeys(token, algorithms);
      } catch (again) {
        throw this.#reason(again);
      }
    }
    if (typeof payload.sub !== 'string' || payload.sub === '' || typeof payload.exp !== 'number') {
      throw refuse('claims');
    }
    const skew = c.clockSkewSeconds ?? ISSUER_DEFAULTS.clockSkewSeconds;
    if (typeof payload.iat === 'number' && payload.iat > this.#deps.now() + skew) throw refuse('notYetValid');
    const start =
      typeof payload.iat === 'number' ? payload.iat : typeof payload.nbf === 'number' ? payload.nbf : this.#deps.now();
    if (payload.exp - start > (c.maxTokenLifetimeSeconds ?? ISSUER_DEFAULTS.maxTokenLifetimeSeconds)) {
      throw refuse('lifetime');
    }
    return payload as VerifiedClaims;
  }

  /** The injected clock, not Date.now(): refresh pacing must follow the same time as exp/nbf (and tests). */
  #nowMs(): number {
    return this.#deps.now() * 1000;
  }

  #isRemote(): boolean {
    return !!(this.config.discovery || this.config.jwksUrl);
  }

  #verifyWithKeys(token: string, algorithms: readonly string[]): Promise<JWTPayload> {
    const c = this.config;
    return jwtVerify(token, this.#keys!, {
      issuer: c.issuer,
      audience: c.audiences,
      algorithms: [...algorithms],
      clockTolerance: c.clockSkewSeconds ?? ISSUER_DEFAULTS.clockSkewSeconds,
      currentDate: new Date(this.#deps.now() * 1000),
      requiredClaims: ['exp', 'sub'],
    }).then((r) => r.payload);
  }

  #reason(e: unknown): AppError {
    if (e instanceof AppError) return e;
    if (e instanceof errors.JWTExpired) return refuse('expired');
    if (e instanceof errors.JWTClaimValidationFailed) {
      if (e.claim === 'iss') return refuse('issuer');
      if (e.claim === 'aud') return refuse('audience');
      if (e.claim === 'nbf' || e.claim === 'iat') return refuse('notYetValid');
      return refuse('claims');
    }
    if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys)
      return refuse('unknownKey');
    if (e instanceof errors.JWSSignatureVerificationFailed) return refuse('signature');
    if (e instanceof errors.JOSEAlgNotAllowed) return refuse('algorithm');
    return refuse('malformed');
  }
}

/** A failure to get an issuer's keys, with a message we wrote: names a path or URL, never content read. */
class IssuerKeysError extends Error {}

/** What a key fetch or file read failure says in the log: our own message, else only the error's code or name. */
function describeFailure(e: unknown): string {
  if (e instanceof IssuerKeysError || e instanceof AppError) return e.message;
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.name : 'unknown error';
}

async function readIssuerFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new IssuerKeysError(`cannot read the ${what} ${path} (${describeFailure(e)})`);
  }
}

/** The key file's text as a key set; a failure names the file and the problem, never its content. */
function parseKeySet(text: string, where: string): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new IssuerKeysError(`${where} is not valid JSON`);
  }
  return keySet(doc, where);
}

function keySet(doc: unknown, where: string): JSONWebKeySet {
  if (!Array.isArray((doc as { keys?: unknown } | null)?.keys))
    throw new IssuerKeysError(`${where} has no "keys" array`);
  return doc as JSONWebKeySet;
}

/** A URL for a log line, bounded: a discovered jwks_uri is chosen by the remote side. */
const shortUrl = (url: URL): string => (url.href.length > 256 ? `${url.href.slice(0, 256)}…` : url.href);
