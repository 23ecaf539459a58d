// Roles: which workloads (issuer, bound subjects and claims) may act as a role, for how long, with what policy.
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { globMatches, MAX_PATTERN_LENGTH } from './glob.js';
import { claimAt, claimValues } from './identity.js';
import { type CompiledPolicy, compilePolicy } from './policy.js';

export const ROLE_DEFAULTS = {
  sessionTtl: '15m',
} as const;

const DURATION = /^(\d+)(s|m|h)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** "90s", "15m", "12h" → ms. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m)
    throw new AppError(
      'ValidationException',
      `Invalid duration ${JSON.stringify(text.slice(0, 32))}: use e.g. 15m, 1h.`,
    );
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const MIN_SESSION_MS = 60_000;
/** The longest session any role, login or STS, may have (AWS's 12 hours). */
export const MAX_SESSION_MS = 12 * 3_600_000;

/** A glob on a claim: bounded as policy patterns are, so that matching one stays cheap. */
const pattern = z.string().min(1).max(MAX_PATTERN_LENGTH);

export const roleSchema = z
  .object({
    name: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'IAM role name characters (letters, digits, +=,.@_-), 1–64'),
    issuer: z.string().min(1),
    /** Glob patterns on the token's `sub`. */
    subjects: z.array(pattern).min(1),
    /** Claim path → required value(s); globs allowed. e.g. {"kubernetes.io.namespace": "shop"} */
    claims: z
      .unknown()
      // z.record skips a "__proto__" key: that bound claim would vanish and the role bind less.
      .refine((c) => !(c && typeof c === 'object' && Object.hasOwn(c, '__proto__')), '"__proto__" is not a claim path')
      .pipe(z.record(z.string().min(1), z.union([pattern, z.array(pattern).min(1)])))
      .optional(),
    sessionTtl: z
      .string()
      .regex(DURATION, 'a duration such as 15m or 1h')
      .refine((d) => {
        const ms = parseDuration(d);
        return ms >= MIN_SESSION_MS && ms <= MAX_SESSION_MS;
      }, 'between 1m and 12h')
      .optional(),
    policy: z.record(z.string(), z.unknown()),
  })
  .strict();

export type RoleConfig = z.infer<typeof roleSchema>;

/** A role ready for use: its policy compiled. */
export interface Role {
  config: RoleConfig;
  policy: CompiledPolicy;
  sessionTtlMs: number;
}

export function compileRole(config: RoleConfig, accountId: string): Role {
  return {
    config,
    policy: compilePolicy(config.policy, 'identity', accountId),
    sessionTtlMs: parseDuration(config.sessionTtl ?? ROLE_DEFAULTS.sessionTtl),
  };
}

/**
 * Throws IDPRejectedClaim unless the verified claims are bound to the role. The message names the
 * role and the kind of mismatch, never the claim values.
 */
export function requireBound(role: Role, claims: Record<string, unknown> & { sub: string }): void {
  const { config } = role;
  if (!config.subjects.some((p) => globMatches(p, claims.sub))) {
    throw new AppError('IDPRejectedClaim', `The token's subject is not bound to role ${config.name}.`);
  }
  for (const [path, wanted] of Object.entries(config.claims ?? {})) {
    const actual = claimValues(claimAt(claims, path));
    const actuals = actual === undefined ? [] : typeof actual === 'string' ? [actual] : actual;
    const patterns = typeof wanted === 'string' ? [wanted] : wanted;
    if (!actuals.some((a) => patterns.some((p) => globMatches(p, a)))) {
      throw new AppError('IDPRejectedClaim', `The token's claim ${path} does not match role ${config.name}.`);
    }
  }
}
