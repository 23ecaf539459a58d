// Trusted issuers against a real local OIDC issuer: discovery, rotation, outages, watched files, inline keys.
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiIssuerSchema, ISSUER_DEFAULTS, type IssuerConfig, issuerSchema } from '../../src/auth/issuer-config.js';
import { TrustedIssuer } from '../../src/auth/issuers.js';
import { compileRole, requireBound, roleSchema } from '../../src/auth/roles.js';
import { AppError } from '../../src/core/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  newSigningKey,
  type OidcIssuer,
  type SigningKey,
  startOidcIssuer,
  workloadToken,
} from '../support/oidc-issuer.js';
import { tempDir } from '../support/server.js';

let oidc: OidcIssuer;
const started: TrustedIssuer[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  oidc = await startOidcIssuer();
});
afterEach(async () => {
  for (const t of started.splice(0)) await t.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  oidc.failing = false;
});
afterAll(async () => {
  await oidc?.stop();
});

/** A started TrustedIssuer on a hand-moved clock (seconds), with its log lines. */
async function trusted(config: Partial<IssuerConfig> & Pick<IssuerConfig, 'name'>) {
  const clock = { seconds: Math.floor(Date.now() / 1000) };
  const logs: string[] = [];
  const issuer = new TrustedIssuer({ issuer: oidc.url, audiences: ['keysafe'], ...config } as IssuerConfig, {
    logger: createLogger('debug', (l) => logs.push(l)),
    now: () => clock.seconds,
  });
  await issuer.start();
  started.push(issuer);
  return { issuer, clock, logs };
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const e = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AppError);
  return e as AppError;
}

const jwks = (...keys: SigningKey[]) => JSON.stringify({ keys: keys.map((k) => k.publicJwk) });

describe('trusted issuer key sources', () => {
  it('finds the key set through OIDC discovery and verifies a Kubernetes projected token', async () => {
    const before = { ...oidc.fetches };
    const { issuer } = await trusted({ name: 'disco', discovery: true });
    expect(oidc.fetches.discovery).toBe(before.discovery + 1);
    expect(oidc.fetches.jwks).toBe(before.jwks + 1);
    const claims = await issuer.verify(await oidc.kubernetesToken({ namespace: 'shop', serviceAccount: 'web' }));
    expect(claims.sub).toBe('system:serviceaccount:shop:web');
    expect(claims.iss).toBe(oidc.url);
    expect(claims['kubernetes.io']).toMatchObject({ namespace: 'shop', serviceaccount: { name: 'web' } });
    // Verifying more tokens with known keys fetches nothing.
    await issuer.verify(await oidc.kubernetesToken());
    expect(issuer.fetches).toBe(1);
  });

  it('refuses discovery whose document names another issuer, and says the keys could not be fetched', async () => {
    const { issuer, logs } = await trusted({ name: 'wrong-disco', discovery: true, issuer: `${oidc.url}/` });
    const e = await refusal(issuer.verify(await oidc.kubernetesToken()));
    expect(e.code).toBe('IDPCommunicationError');
    expect(e.message).toMatch(/keys could not be fetched/);
    expect(logs.join('')).toMatch(/discovery document names another issuer/);
  });

  it('fetches a JWKS URL directly without discovery', async () => {
    const before = { ...oidc.fetches };
    const { issuer } = await trusted({ name: 'url', jwksUrl: oidc.jwksUrl });
    await issuer.verify(await oidc.kubernetesToken());
    expect(oidc.fetches.discovery).toBe(before.discovery);
    expect(oidc.fetches.jwks).toBe(before.jwks + 1);
  });

  it('verifies against an inline key set without any fetch', async () => {
    const before = { ...oidc.fetches };
    const { issuer } = await trusted({ name: 'inline', jwks: { keys: oidc.keys.map((k) => k.publicJwk) } });
    expect((await issuer.verify(await oidc.kubernetesToken())).sub).toBe('system:serviceaccount:shop:web');
    const unknown = await newSigningKey('ES256');
    const e = await refusal(
      issuer.verify(
        await oidc.sign(
          { sub: 'x', aud: 'keysafe', iss: oidc.url, exp: 2e9 },
          { kid: unknown.kid, alg: unknown.alg, key: unknown.privateKey },
        ),
      ),
    );
    expect(e.code).toBe('InvalidIdentityToken');
    expect(e.message).toMatch(/not in the issuer's key set/);
    expect(issuer.fetches).toBe(0);
    expect(oidc.fetches).toEqual(before);
  });
});

describe('trusted issuer key rotation', () => {
  it('verifies a token from a key rotated in mid-test after exactly one refresh', async () => {
    const { issuer, clock } = await trusted({ name: 'rotating', discovery: true, minRefreshSeconds: 30 });
    const oldKid = oidc.keys.at(-1)!.kid;
    await issuer.verify(await oidc.kubernetesToken({ issuedAt: clock.seconds }));
    const rotated = await oidc.rotate({ alg: 'ES256' });
    const fresh = await oidc.kubernetesToken({ issuedAt: clock.seconds, kid: rotated.kid });

    // Within minRefreshSeconds of the last fetch, an unknown kid does not refetch.
    clock.seconds += 10;
    const early = await refusal(issuer.verify(fresh));
    expect(early.code).toBe('InvalidIdentityToken');
    expect(early.message).toMatch(/signing key is not in the issuer's key set/);
    expect(issuer.fetches).toBe(1);

    clock.seconds += 21;
    expect((await issuer.verify(fresh)).sub).toBe('system:serviceaccount:shop:web');
    expect(issuer.fetches).toBe(2);
    // The old key is still published, so its tokens still verify; no further fetch.
    await issuer.verify(await oidc.kubernetesToken({ issuedAt: clock.seconds, kid: oldKid }));
    expect(issuer.fetches).toBe(2);
  });

  it('stops trusting a retired key once the issuer unpublishes it and a refresh happens', async () => {
    const { issuer, clock } = await trusted({ name: 'retiring', jwksUrl: oidc.jwksUrl, minRefreshSeconds: 5 });
    const oldKid = oidc.keys.at(-1)!.kid;
    const oldToken = await oidc.kubernetesToken({ issuedAt: clock.seconds, kid: oldKid });
    await issuer.verify(oldToken);
    const next = await oidc.rotate({ retireOld: true, alg: 'ES256' });
    clock.seconds += 6;
    await issuer.verify(await oidc.kubernetesToken({ issuedAt: clock.seconds, kid: next.kid }));
    const e = await refusal(issuer.verify(oldToken));
    expect(e.message).toMatch(/not in the issuer's key set/);
  });

  it('keeps verifying with the last good key set while the issuer is failing', async () => {
    const { issuer, clock, logs } = await trusted({ name: 'outage', discovery: true, minRefreshSeconds: 1 });
    const known = await oidc.kubernetesToken({ issuedAt: clock.seconds, lifetime: 7 * 3600 });
    await issuer.verify(known);
    oidc.failing = true;
    // Past the periodic refresh age: a refetch is attempted and fails.
    clock.seconds += ISSUER_DEFAULTS.refreshSeconds + 1;
    const fetched = issuer.fetches;
    expect((await issuer.verify(known)).sub).toBe('system:serviceaccount:shop:web');
    expect(issuer.fetches).toBe(fetched + 1);
    expect(logs.some((l) => l.includes('keeping the previous one'))).toBe(true);
    // An unknown kid during the outage is an unknown key, not an outage of the known ones.
    clock.seconds += 2;
    const rogue = await newSigningKey('ES256');
    const e = await refusal(
      issuer.verify(
        await oidc.sign(
          { sub: 'x', aud: 'keysafe', iss: oidc.url, iat: clock.seconds, exp: clock.seconds + 60 },
          { key: rogue.privateKey, kid: rogue.kid, alg: rogue.alg },
        ),
      ),
    );
    expect(e.code).toBe('InvalidIdentityToken');
    expect(e.message).toMatch(/not in the issuer's key set/);
    expect((await issuer.verify(known)).sub).toBe('system:serviceaccount:shop:web');
    // No log line carries the token.
    expect(logs.join('\n')).not.toContain(known);
  });

  it('answers IDPCommunicationError when the issuer never served a key set', async () => {
    oidc.failing = true;
    const { issuer } = await trusted({ name: 'never', discovery: true });
    const e = await refusal(issuer.verify(await oidc.kubernetesToken()));
    expect(e.code).toBe('IDPCommunicationError');
    expect(e.message).toMatch(/keys could not be fetched/);
  });
});

describe('trusted issuer key file', () => {
  /** Polls `verify` until it succeeds, for at most `ms`. */
  async function eventually(verify: () => Promise<unknown>, ms = 4000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        await verify();
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  it('reloads a watched JWKS file replaced atomically by rename', async () => {
    const dir = tempDir('keysafe-jwks-');
    dirs.push(dir);
    const file = join(dir, 'jwks.json');
    const first = await newSigningKey('ES256');
    const second = await newSigningKey('ES256');
    writeFileSync(file, jwks(first));
    const { issuer, clock } = await trusted({ name: 'file', jwksFile: file, minRefreshSeconds: 30 });
    const tokenBy = (k: SigningKey) =>
      oidc.sign(
        {
          sub: 'system:serviceaccount:shop:web',
          aud: ['keysafe'],
          iss: oidc.url,
          iat: clock.seconds,
          exp: clock.seconds + 600,
        },
        { key: k.privateKey, kid: k.kid, alg: k.alg },
      );
    await issuer.verify(await tokenBy(first));
    const secondToken = await tokenBy(second);
    // This unknown kid re-reads the file once; the clock stands still, so no later verify can:
    // only the watcher can bring the second key in below.
    expect((await refusal(issuer.verify(secondToken))).message).toMatch(/not in the issuer's key set/);

    writeFileSync(join(dir, '.jwks.json.tmp'), jwks(second));
    renameSync(join(dir, '.jwks.json.tmp'), file);
    await eventually(() => issuer.verify(secondToken));
    // The file now holds only the second key: the first is no longer trusted.
    expect((await refusal(issuer.verify(await tokenBy(first)))).message).toMatch(/not in the issuer's key set/);
    expect(issuer.fetches).toBe(0);
  });

  it('keeps the last good key set when the file is replaced by garbage', async () => {
    const dir = tempDir('keysafe-jwks-');
    dirs.push(dir);
    const file = join(dir, 'jwks.json');
    const key = await newSigningKey('ES256');
    const next = await newSigningKey('ES256');
    writeFileSync(file, jwks(key));
    const { issuer, clock, logs } = await trusted({ name: 'file-bad', jwksFile: file });
    const token = await oidc.sign(
      { sub: 's', aud: 'keysafe', iss: oidc.url, iat: clock.seconds, exp: clock.seconds + 600 },
      { key: key.privateKey, kid: key.kid, alg: key.alg },
    );
    writeFileSync(join(dir, 'tmp'), '{"keys": [');
    renameSync(join(dir, 'tmp'), file);
    const deadline = Date.now() + 4000;
    while (!logs.some((l) => l.includes('could not read issuer key set')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(logs.some((l) => l.includes('could not read issuer key set'))).toBe(true);
    expect((await issuer.verify(token)).sub).toBe('s');
    // And a good file after that is picked up.
    writeFileSync(join(dir, 'tmp'), jwks(next));
    renameSync(join(dir, 'tmp'), file);
    const nextToken = await oidc.sign(
      { sub: 'n', aud: 'keysafe', iss: oidc.url, iat: clock.seconds, exp: clock.seconds + 600 },
      { key: next.privateKey, kid: next.kid, alg: next.alg },
    );
    await eventually(() => issuer.verify(nextToken));
  });

  it('follows a Kubernetes-style ..data symlink swap of a mounted key set', async () => {
    const dir = tempDir('keysafe-jwks-');
    dirs.push(dir);
    const first = await newSigningKey('ES256');
    const second = await newSigningKey('ES256');
    mkdirSync(join(dir, '..2026_01'));
    writeFileSync(join(dir, '..2026_01', 'jwks.json'), jwks(first));
    symlinkSync('..2026_01', join(dir, '..data'));
    symlinkSync('..data/jwks.json', join(dir, 'jwks.json'));
    const { issuer, clock } = await trusted({
      name: 'configmap',
      jwksFile: join(dir, 'jwks.json'),
      minRefreshSeconds: 30,
    });
    const tokenBy = (k: SigningKey) =>
      oidc.sign(
        { sub: 's', aud: 'keysafe', iss: oidc.url, iat: clock.seconds, exp: clock.seconds + 600 },
        { key: k.privateKey, kid: k.kid, alg: k.alg },
      );
    await issuer.verify(await tokenBy(first));
    const secondToken = await tokenBy(second);
    // Spends the unknown-kid re-read: below, only the watcher can bring the second key in.
    expect((await refusal(issuer.verify(secondToken))).message).toMatch(/not in the issuer's key set/);
    // What the kubelet does: a new timestamped dir, a new symlink, renamed over ..data.
    mkdirSync(join(dir, '..2026_02'));
    writeFileSync(join(dir, '..2026_02', 'jwks.json'), jwks(second));
    symlinkSync('..2026_02', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await eventually(() => issuer.verify(secondToken));
  });

  it('re-reads the key file on an unknown kid, at most once per minRefreshSeconds, when no change was reported', async () => {
    const dir = tempDir('keysafe-jwks-');
    dirs.push(dir);
    const file = join(dir, 'jwks.json');
    const [a, b, c] = [await newSigningKey('ES256'), await newSigningKey('ES256'), await newSigningKey('ES256')];
    writeFileSync(file, jwks(a));
    const { issuer, clock } = await trusted({ name: 'unwatched', jwksFile: file, minRefreshSeconds: 30 });
    const tokenBy = (k: SigningKey) =>
      oidc.sign(
        { sub: 's', aud: 'keysafe', iss: oidc.url, iat: clock.seconds, exp: clock.seconds + 600 },
        { key: k.privateKey, kid: k.kid, alg: k.alg },
      );
    await issuer.close(); // no change events from here on: only the fallback can reload
    writeFileSync(file, jwks(a, b));
    expect((await issuer.verify(await tokenBy(b))).sub).toBe('s');
    writeFileSync(file, jwks(a, b, c));
    clock.seconds += 10;
    expect((await refusal(issuer.verify(await tokenBy(c)))).message).toMatch(/not in the issuer's key set/);
    clock.seconds += 21;
    expect((await issuer.verify(await tokenBy(c))).sub).toBe('s');
    expect(issuer.fetches).toBe(0);
  });
});

describe('Kubernetes token claims and role bindings', () => {
  const role = compileRole(
    {
      name: 'web',
      issuer: 'cluster',
      subjects: ['system:serviceaccount:shop:*'],
      claims: { 'kubernetes.io.namespace': 'shop', 'kubernetes.io.serviceaccount.name': ['web', 'web-*'] },
      policy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' }],
      },
    },
    '000000000000',
  );

  it('refuses a role whose claims name "__proto__", which a record schema would silently drop', () => {
    const doc = JSON.parse(
      '{"name":"web","issuer":"cluster","subjects":["*"],"claims":{"__proto__":"shop"},"policy":{"Statement":[]}}',
    );
    const parsed = roleSchema.safeParse(doc);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe('"__proto__" is not a claim path');
  });

  it('binds a verified projected token by its namespace and service account claims', async () => {
    const { issuer } = await trusted({ name: 'k8s', discovery: true });
    for (const serviceAccount of ['web', 'web-canary']) {
      const claims = await issuer.verify(await oidc.kubernetesToken({ namespace: 'shop', serviceAccount }));
      expect(() => requireBound(role, claims)).not.toThrow();
    }
  });

  it('rejects a token whose service account or namespace claim is not bound, naming the claim only', async () => {
    const { issuer } = await trusted({ name: 'k8s-reject', discovery: true });
    const cases = [
      { token: { namespace: 'shop', serviceAccount: 'api' }, claim: 'kubernetes.io.serviceaccount.name' },
      // The subject glob matches (shop:*) but the namespace claim inside says otherwise.
      {
        token: {
          namespace: 'shop',
          serviceAccount: 'web',
          claims: { 'kubernetes.io': { namespace: 'billing', serviceaccount: { name: 'web' } } },
        },
        claim: 'kubernetes.io.namespace',
      },
      { token: { namespace: 'billing', serviceAccount: 'web' }, claim: 'subject' },
    ];
    for (const c of cases) {
      const claims = await issuer.verify(await oidc.kubernetesToken(c.token));
      let error: unknown;
      try {
        requireBound(role, claims);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('IDPRejectedClaim');
      expect((error as AppError).message).toContain(c.claim);
      expect((error as AppError).message).toContain('role web');
      expect((error as AppError).message).not.toContain(claims.sub);
      expect((error as AppError).message).not.toMatch(/billing|\bapi\b/);
    }
  });
});

describe('trusted issuer behind https with a private CA and a bearer token (a cluster API server)', () => {
  it('fetches discovery and keys with the CA file and token file, and fails without the token', async () => {
    const { createSelfSignedCert } = await import('../../src/crypto/self-signed-cert.js');
    const { createServer } = await import('node:https');
    const { SignJWT } = await import('jose');
    const cert = createSelfSignedCert({ commonName: 'api', dnsNames: ['localhost'] });
    const key = await newSigningKey();
    const dir = tempDir();
    dirs.push(dir);
    writeFileSync(join(dir, 'ca.crt'), cert.certPem);
    writeFileSync(join(dir, 'token'), 'sa-token-1\n');
    let base = '';
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      if (req.headers.authorization !== 'Bearer sa-token-1') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/.well-known/openid-configuration')
        res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/keys` }));
      else res.end(JSON.stringify({ keys: [key.publicJwk] }));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `https://localhost:${(server.address() as { port: number }).port}`;
    try {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: key.kid })
        .setIssuer(base)
        .setAudience('keysafe')
        .setSubject('system:serviceaccount:shop:web')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key.privateKey);
      const config = { issuer: base, discovery: true, caFile: join(dir, 'ca.crt') };
      const withToken = await trusted({ name: 'api', ...config, tokenFile: join(dir, 'token') });
      expect((await withToken.issuer.verify(token)).sub).toBe('system:serviceaccount:shop:web');
      const anonymous = await trusted({ name: 'anon', ...config });
      expect((await refusal(anonymous.issuer.verify(token))).code).toBe('IDPCommunicationError');
      expect(anonymous.logs.join('\n')).toContain('HTTP 401');
    } finally {
      server.close();
    }
  });

  it("sends the token to another https origin only if its certificate verifies against caFile (Kubernetes's advertise address)", async () => {
    const { createSelfSignedCert } = await import('../../src/crypto/self-signed-cert.js');
    const { createServer } = await import('node:https');
    const cluster = createSelfSignedCert({ commonName: 'api', dnsNames: ['localhost'] });
    const stranger = createSelfSignedCert({ commonName: 'stranger', dnsNames: ['localhost'] });
    const key = await newSigningKey();
    const dir = tempDir();
    dirs.push(dir);
    writeFileSync(join(dir, 'ca.crt'), cluster.certPem);
    writeFileSync(join(dir, 'token'), 'sa-token-2\n');
    const seen: { server: string; authorization: string | undefined }[] = [];
    const listen = async (
      name: string,
      cert: { certPem: string; keyPem: string },
      handle: (url: string) => unknown,
    ) => {
      const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
        seen.push({ server: name, authorization: req.headers.authorization });
        if (req.headers.authorization !== 'Bearer sa-token-2') {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(handle(req.url ?? '')));
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      return { server, base: `https://localhost:${(server.address() as { port: number }).port}` };
    };
    // The API server on its advertise address (another port here: another origin all the same).
    const advertised = await listen('advertised', cluster, () => ({ keys: [key.publicJwk] }));
    const impostor = await listen('impostor', stranger, () => ({ keys: [key.publicJwk] }));
    const issuerHost = await listen('issuer', cluster, (url) => {
      const which = url.startsWith('/good/') ? 'good' : 'bad';
      const keysAt = which === 'good' ? advertised.base : impostor.base;
      return { issuer: `${issuerHost.base}/${which}`, jwks_uri: `${keysAt}/openid/v1/jwks` };
    });
    try {
      const tokenFor = (iss: string) => workloadToken(key, iss, '1h');
      const config = { discovery: true, caFile: join(dir, 'ca.crt'), tokenFile: join(dir, 'token') };
      const good = await trusted({ name: 'k8s-advertised', issuer: `${issuerHost.base}/good`, ...config });
      expect((await good.issuer.verify(await tokenFor(`${issuerHost.base}/good`))).sub).toBe(
        'system:serviceaccount:shop:web',
      );
      expect(seen.filter((s) => s.server === 'advertised')).toEqual([
        { server: 'advertised', authorization: 'Bearer sa-token-2' },
      ]);
      // A host whose certificate the cluster CA did not issue never gets as far as a request.
      const bad = await trusted({ name: 'k8s-impostor', issuer: `${issuerHost.base}/bad`, ...config });
      const e = await refusal(bad.issuer.verify(await tokenFor(`${issuerHost.base}/bad`)));
      expect(e.code).toBe('IDPCommunicationError');
      expect(seen.filter((s) => s.server === 'impostor')).toEqual([]);
      expect(bad.logs.join('\n')).not.toContain('sa-token-2');
    } finally {
      for (const l of [advertised, impostor, issuerHost]) l.server.close();
    }
  });
});

describe('issuer settings are bounded', () => {
  it('refuses a refresh interval under a second (a fetch per login) and a token lifetime over 31 days', () => {
    const base = { name: 'bounded', issuer: 'https://issuer.example', audiences: ['keysafe'], discovery: true };
    for (const schema of [issuerSchema, apiIssuerSchema]) {
      expect(schema.safeParse({ ...base, minRefreshSeconds: 0 }).success).toBe(false);
      expect(schema.safeParse({ ...base, maxTokenLifetimeSeconds: 32 * 86_400 }).success).toBe(false);
      expect(schema.safeParse({ ...base, minRefreshSeconds: 1, maxTokenLifetimeSeconds: 31 * 86_400 }).success).toBe(
        true,
      );
    }
  });
});
