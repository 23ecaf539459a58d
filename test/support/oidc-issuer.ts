// A real OIDC issuer on localhost for tests: discovery, JWKS, key rotation, Kubernetes-shaped tokens.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface KubernetesTokenOptions {
  namespace?: string;
  serviceAccount?: string;
  audience?: string | string[];
  /** seconds; default 3600 like a projected token */
  lifetime?: number;
  /** seconds since the epoch; default now */
  issuedAt?: number;
  kid?: string;
  /** Overrides merged into the payload last. */
  claims?: JWTPayload;
}

export interface OidcIssuer {
  /** The issuer URL (`iss`), also the discovery base. */
  url: string;
  jwksUrl: string;
  /** How many times each document was fetched. */
  fetches: { discovery: number; jwks: number };
  keys: SigningKey[];
  /** Makes a new signing key and publishes it; `retireOld` unpublishes the previous ones. */
  rotate(options?: { retireOld?: boolean; alg?: 'RS256' | 'ES256' | 'EdDSA' }): Promise<SigningKey>;
  /** While true, discovery and JWKS answer 503. */
  failing: boolean;
  sign(payload: JWTPayload, options?: { kid?: string; alg?: string; key?: CryptoKey }): Promise<string>;
  /** A token shaped like a Kubernetes projected service-account token. */
  kubernetesToken(options?: KubernetesTokenOptions): Promise<string>;
  stop(): Promise<void>;
}

export async function newSigningKey(alg: 'RS256' | 'ES256' | 'EdDSA' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A workload token (audience keysafe, subject system:serviceaccount:shop:web) signed by `key` for issuer `iss`. */
export function workloadToken(key: SigningKey, iss: string, lifetime = '10m'): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuer(iss)
    .setAudience('keysafe')
    .setSubject('system:serviceaccount:shop:web')
    .setIssuedAt()
    .setExpirationTime(lifetime)
    .sign(key.privateKey);
}

export async function startOidcIssuer(): Promise<OidcIssuer> {
  const server: Server = createServer((req, res) => {
    if (issuer.failing) {
      res.writeHead(503).end();
      return;
    }
    if (req.url === '/.well-known/openid-configuration') {
      issuer.fetches.discovery++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          issuer: issuer.url,
          jwks_uri: issuer.jwksUrl,
          id_token_signing_alg_values_supported: ['RS256'],
        }),
      );
    } else if (req.url === '/openid/v1/jwks') {
      issuer.fetches.jwks++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: issuer.keys.map((k) => k.publicJwk) }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const issuer: OidcIssuer = {
    url: base,
    jwksUrl: `${base}/openid/v1/jwks`,
    fetches: { discovery: 0, jwks: 0 },
    keys: [await newSigningKey()],
    failing: false,
    async rotate(options = {}) {
      const key = await newSigningKey(options.alg);
      issuer.keys = options.retireOld ? [key] : [...issuer.keys, key];
      return key;
    },
    async sign(payload, options = {}) {
      const key = options.kid ? issuer.keys.find((k) => k.kid === options.kid)! : issuer.keys[issuer.keys.length - 1]!;
      return new SignJWT(payload)
        .setProtectedHeader({ alg: options.alg ?? key.alg, kid: options.kid ?? key.kid })
        .sign(options.key ?? key.privateKey);
    },
    async kubernetesToken(o = {}) {
      const namespace = o.namespace ?? 'shop';
      const serviceAccount = o.serviceAccount ?? 'web';
      const iat = o.issuedAt ?? Math.floor(Date.now() / 1000);
      return issuer.sign(
        {
          aud: o.audience ?? ['keysafe'],
          exp: iat + (o.lifetime ?? 3600),
          iat,
          nbf: iat,
          iss: issuer.url,
          jti: randomUUID(),
          'kubernetes.io': {
            namespace,
            node: { name: 'node-1', uid: randomUUID() },
            pod: { name: `${serviceAccount}-7d4b9c-x2xq9`, uid: randomUUID() },
            serviceaccount: { name: serviceAccount, uid: randomUUID() },
          },
          sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
          ...o.claims,
        },
        o.kid ? { kid: o.kid } : {},
      );
    },
    stop: () => new Promise((ok) => server.close(() => ok())),
  };
  return issuer;
}
