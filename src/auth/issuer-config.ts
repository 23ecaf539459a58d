// A trusted issuer's configuration: where its keys come from, its limits and defaults, and the schemas
// that check it in the config file (files allowed) and through the admin API (no local files).
import { z } from 'zod';

const ASYMMETRIC_ALGORITHMS = [
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

export const isHttpUrl = (value: string): boolean => {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
};
export const HTTP_URL_ONLY = 'must be an http:// or https:// URL';

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
