// Who is calling: the admin, or a workload acting as a role. Pure.

export interface AdminIdentity {
  kind: 'admin';
  arn: string;
}

/** A workload in a session of a role, from a login or STS AssumeRoleWithWebIdentity. */
export interface RoleIdentity {
  kind: 'role';
  role: string;
  roleArn: string;
  /** arn:aws:sts::<account>:assumed-role/<role>/<session name> */
  arn: string;
  sessionName: string;
  /** The JWT's `sub`. */
  subject: string;
  /** The JWT's claims (without iss/aud/exp/nbf/iat/jti), for `jwt:` condition keys. */
  claims: Readonly<Record<string, unknown>>;
  via: 'login' | 'sts';
  /** ms since the epoch */
  issuedAt: number;
  expiresAt: number;
  /** For STS credentials: the ASIA… key id bound to this session. */
  accessKeyId?: string;
  /** An agent's public key (JWK) that secret values for this session are encrypted to. */
  publicKey?: { kty: string; crv: string; x: string; y?: string };
}

export type Identity = AdminIdentity | RoleIdentity;

export const roleArn = (accountId: string, role: string): string => `arn:aws:iam::${accountId}:role/${role}`;

export const assumedRoleArn = (accountId: string, role: string, sessionName: string): string =>
  `arn:aws:sts::${accountId}:assumed-role/${role}/${sessionName}`;

export const adminIdentity = (accountId: string): AdminIdentity => ({
  kind: 'admin',
  arn: `arn:aws:iam::${accountId}:root`,
});

/** A session name from a JWT subject: STS's alphabet, 2–64 characters. */
export function sessionNameFor(subject: string): string {
  const name = subject.replace(/[^\w+=,.@-]/g, '.').slice(-64);
  return name.length >= 2 ? name : `session-${name}`;
}

/**
 * A claim by dotted path. Keys that themselves contain dots (`kubernetes.io`) are matched first,
 * longest key wins, so `kubernetes.io.serviceaccount.name` reads the Kubernetes claim.
 */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let best: string | undefined;
  for (const key of Object.keys(claims)) {
    if (path.startsWith(`${key}.`) && (best === undefined || key.length > best.length)) best = key;
  }
  if (best === undefined) return undefined;
  const next = claims[best];
  if (typeof next !== 'object' || next === null || Array.isArray(next)) return undefined;
  return claimAt(next as Record<string, unknown>, path.slice(best.length + 1));
}

/** A claim as condition values: strings, numbers and booleans as text; lists of them. */
export function claimValues(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const out = value.filter((v) => ['string', 'number', 'boolean'].includes(typeof v)).map(String);
    return out.length === value.length ? out : undefined;
  }
  return undefined;
}
