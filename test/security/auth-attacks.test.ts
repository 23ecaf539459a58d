// The attack suite: forged, stolen, replayed and tampered tokens and credentials are refused with a clear
// reason that never echoes the token or its claims. A real server, a real OIDC issuer, real signers.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { type CryptoKey, decodeJwt, exportSPKI, importJWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { newSigningKey, type OidcIssuer, type SigningKey, startOidcIssuer } from '../support/oidc-issuer.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { bearerCall, login as loginAt, webIdentityRequest } from '../support/session.js';
import { postRaw, signJsonRequest } from '../support/sigv4.js';
import { policyOf, trustConfig } from '../support/workload.js';

const MAX_LIFETIME = 7200;
const MAX_BYTES = 4096;
const MIN_REFRESH = 60;
const SKEW = 30;
const WEB_SUB = 'system:serviceaccount:shop:web';

let oidc: OidcIssuer;
let server: TestServer;
let clock: ManualClock;
let rogue: SigningKey;
/** Every token and credential secret the suite sent: none may show up in a log line or audit record. */
const sent: string[] = [];

const policy = (resource: string) =>
  policyOf([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: resource }]);

function serverConfig(login: { perSourcePerMinute: number; perRolePerMinute: number }) {
  const roles = [
    {
      name: 'web',
      subjects: [WEB_SUB],
      claims: { 'kubernetes.io.namespace': 'shop', 'kubernetes.io.serviceaccount.name': 'web' },
      policy: policy('arn:aws:secretsmanager:*:*:secret:shop/web/*'),
    },
    {
      name: 'api',
      subjects: ['system:serviceaccount:shop:api'],
      policy: policy('arn:aws:secretsmanager:*:*:secret:shop/api/*'),
    },
  ];
  const issuerSettings = {
    clockSkewSeconds: SKEW,
    maxTokenLifetimeSeconds: MAX_LIFETIME,
    maxTokenBytes: MAX_BYTES,
    minRefreshSeconds: MIN_REFRESH,
  };
  return { ...trustConfig(oidc.url, roles, { issuerSettings }), login };
}

beforeAll(async () => {
  oidc = await startOidcIssuer();
  rogue = await newSigningKey('RS256');
  clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  server = await startTestServer({
    clock,
    config: serverConfig({ perSourcePerMinute: 10_000, perRolePerMinute: 10_000 }),
  });
  // The SDK corrects its clock from the server's Date header; the ManualClock equals real time here.
  const admin = server.secretsClient();
  await admin.send(new CreateSecretCommand({ Name: 'shop/web/db', SecretString: 'web-password' }));
  await admin.send(new CreateSecretCommand({ Name: 'shop/api/db', SecretString: 'api-password' }));
});

afterAll(async () => {
  await server?.stop();
  await oidc?.stop();
});

const nowSeconds = () => Math.floor(clock.now() / 1000);
const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A Kubernetes projected token for `serviceAccount` issued now by the server's clock. */
function k8sToken(o: Parameters<OidcIssuer['kubernetesToken']>[0] = {}): Promise<string> {
  return oidc.kubernetesToken({ issuedAt: nowSeconds(), serviceAccount: 'web', ...o });
}

/** The claim set of a genuine token, for forgeries that must differ only in the header or signature. */
async function genuineClaims(): Promise<JWTPayload> {
  return decodeJwt(await k8sToken());
}

/** Every string leaf of a token's claims (and the numbers), long enough not to be a common word. */
function claimValues(token: string): string[] {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string' && v.length >= 6) out.push(v);
    else if (typeof v === 'number' && String(v).length >= 6) out.push(String(v));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(claims);
  return out;
}

interface Answer {
  status: number;
  text: string;
  json: Record<string, string>;
}

function parsed(status: number, text: string): Answer {
  let json: Record<string, string> = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status, text, json };
}

const answer = async (res: Response) => parsed(res.status, await res.text());

async function login(role: string, jwt: string, target: TestServer = server): Promise<Answer> {
  sent.push(jwt);
  return answer(await loginAt(target.url, { role, jwt }));
}

async function getSecretWithBearer(token: string, secretId: string): Promise<Answer> {
  sent.push(token);
  return answer(await bearerCall(server.url, token, 'secretsmanager.GetSecretValue', { SecretId: secretId }));
}

/**
 * The refusal is `code` with `status`, its message names the failed check, the body carries
 * neither the token nor any of its claim values, and no server log line carries the token.
 */
function expectRefused(a: Answer, status: number, code: string, check: RegExp, token?: string, extra: string[] = []) {
  expect({ status: a.status, code: a.json.__type }).toEqual({ status, code });
  expect(a.json.message).toMatch(check);
  const secrets = [...extra, WEB_SUB];
  const parts = token ? [token, ...token.split('.').filter((p) => p.length >= 16)] : [];
  for (const s of [...secrets, ...parts, ...(token ? claimValues(token) : [])]) expect(a.text).not.toContain(s);
  for (const s of [...secrets, ...parts]) for (const line of server.logs) expect(line).not.toContain(s);
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/** STS AssumeRoleWithWebIdentity over the query protocol, as the SDKs send it. */
async function assumeRole(role: string, jwt: string): Promise<Credentials> {
  sent.push(jwt);
  const res = await webIdentityRequest(server.url, role, 'attack-suite', jwt);
  const xml = await res.text();
  expect(res.status, xml).toBe(200);
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)![1]!;
  const creds = {
    accessKeyId: tag('AccessKeyId'),
    secretAccessKey: tag('SecretAccessKey'),
    sessionToken: tag('SessionToken'),
  };
  sent.push(creds.secretAccessKey, creds.sessionToken);
  return creds;
}

interface RawRequest {
  headers: Record<string, string>;
  body: string;
}

/** A GetSecretValue request signed by the AWS SDK's own SigV4 signer at the server's current time. */
async function signGetSecret(creds: Credentials, secretId: string, applyChecksum = false): Promise<RawRequest> {
  const body = JSON.stringify({ SecretId: secretId });
  const headers = await signJsonRequest(server.url, creds, 'secretsmanager.GetSecretValue', body, {
    signingDate: new Date(clock.now()),
    applyChecksum,
  });
  return { headers, body };
}

/** Sends captured request bytes as they are (node:http: the Host header is the signed one). */
async function send(raw: RawRequest): Promise<Answer> {
  const { status, text } = await postRaw(server.url, raw.headers, raw.body);
  return parsed(status, text);
}

describe('forged web identity tokens', () => {
  it('accepts the genuine projected token (the control for every case below)', async () => {
    const a = await login('web', await k8sToken());
    expect(a.status, a.text).toBe(200);
    expect(a.json.token).toMatch(/^ks1\./);
  });

  it('refuses a token with alg none, whatever its spelling', async () => {
    const claims = await genuineClaims();
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64url({ alg, typ: 'JWT', kid: oidc.keys[0]!.kid })}.${b64url(claims)}.`;
      expectRefused(
        await login('web', token),
        401,
        'InvalidIdentityToken',
        /algorithm this issuer does not allow/,
        token,
      );
    }
  });

  it("refuses an HS256 token whose HMAC secret is the issuer's public key (JWK or PEM bytes)", async () => {
    const claims = await genuineClaims();
    const key = oidc.keys[0]!;
    const pem = await exportSPKI((await importJWK(key.publicJwk, 'RS256', { extractable: true })) as CryptoKey);
    for (const secret of [JSON.stringify(key.publicJwk), pem, pem.trim()]) {
      for (const alg of ['HS256', 'HS512']) {
        const token = await new SignJWT(claims)
          .setProtectedHeader({ alg, kid: key.kid })
          .sign(new TextEncoder().encode(secret));
        expectRefused(
          await login('web', token),
          401,
          'InvalidIdentityToken',
          /algorithm this issuer does not allow/,
          token,
        );
      }
    }
  });

  it('refuses a valid signature from a key the issuer does not publish, under its kid or a new one', async () => {
    const claims = await genuineClaims();
    const sameKid = await oidc.sign(claims, { kid: oidc.keys[0]!.kid, key: rogue.privateKey, alg: 'RS256' });
    expectRefused(await login('web', sameKid), 401, 'InvalidIdentityToken', /signature is invalid/, sameKid);
    const newKid = await oidc.sign(claims, { kid: rogue.kid, key: rogue.privateKey, alg: 'RS256' });
    expectRefused(
      await login('web', newKid),
      401,
      'InvalidIdentityToken',
      /signing key is not in the issuer's key set/,
      newKid,
    );
  });

  it('refuses a token from another issuer', async () => {
    const token = await k8sToken({ claims: { iss: 'https://evil.example.com/cluster' } });
    expectRefused(await login('web', token), 401, 'InvalidIdentityToken', /issued by another issuer/, token);
  });

  it('refuses a token for another audience', async () => {
    for (const audience of ['sts.amazonaws.com', ['vault', 'other-service']]) {
      const token = await k8sToken({ audience });
      expectRefused(await login('web', token), 401, 'InvalidIdentityToken', /wrong audience/, token);
    }
  });

  it('refuses an expired token beyond the clock skew, and takes one within it', async () => {
    const expired = await k8sToken({ issuedAt: nowSeconds() - 3600 - SKEW - 1, lifetime: 3600 });
    expectRefused(await login('web', expired), 401, 'ExpiredTokenException', /expired/, expired);
    const withinSkew = await k8sToken({ issuedAt: nowSeconds() - 3600 - SKEW + 5, lifetime: 3600 });
    expect((await login('web', withinSkew)).status).toBe(200);
  });

  it('refuses a token not valid yet (nbf or iat beyond the skew), and takes one within it', async () => {
    const now = nowSeconds();
    const nbf = await k8sToken({ claims: { nbf: now + SKEW + 60 } });
    expectRefused(await login('web', nbf), 401, 'InvalidIdentityToken', /not valid yet/, nbf);
    const iat = await k8sToken({ issuedAt: now + SKEW + 60 });
    expectRefused(await login('web', iat), 401, 'InvalidIdentityToken', /not valid yet/, iat);
    const withinSkew = await k8sToken({ claims: { nbf: now + SKEW - 5 } });
    expect((await login('web', withinSkew)).status).toBe(200);
  });

  it("refuses a token whose lifetime exceeds the issuer's maximum, even if most of it is spent", async () => {
    const long = await k8sToken({ lifetime: MAX_LIFETIME + 1 });
    expectRefused(
      await login('web', long),
      401,
      'InvalidIdentityToken',
      /lifetime is longer than this issuer allows/,
      long,
    );
    const backdated = await k8sToken({ issuedAt: nowSeconds() - MAX_LIFETIME, lifetime: MAX_LIFETIME + 60 });
    expectRefused(await login('web', backdated), 401, 'InvalidIdentityToken', /lifetime/, backdated);
    const atMax = await k8sToken({ lifetime: MAX_LIFETIME });
    expect((await login('web', atMax)).status).toBe(200);
  });

  it('refuses an oversized token before verifying it', async () => {
    const token = await k8sToken({ claims: { padding: 'p4d'.repeat(MAX_BYTES / 3) } });
    expect(token.length).toBeGreaterThan(MAX_BYTES);
    expectRefused(await login('web', token), 401, 'InvalidIdentityToken', /too large/, token);
    const junk = `${'A'.repeat(MAX_BYTES)}.x.y`;
    expectRefused(await login('web', junk), 401, 'InvalidIdentityToken', /too large/, junk);
  });

  it('fetches the JWKS at most once per minRefreshSeconds under a flood of unknown kids', async () => {
    const trusted = server.directory.issuer('cluster')!;
    const claims = await genuineClaims();
    const flood = (n: number) =>
      Promise.all(
        Array.from({ length: n }, () =>
          oidc
            .sign({ ...claims, iat: nowSeconds() }, { kid: randomUUID(), key: rogue.privateKey, alg: 'RS256' })
            .then((t) => login('web', t).then((a) => ({ a, t }))),
        ),
      );
    const check = (results: { a: Answer; t: string }[]) => {
      for (const { a, t } of results) {
        expectRefused(a, 401, 'InvalidIdentityToken', /signing key is not in the issuer's key set/, t);
      }
    };
    clock.advance((MIN_REFRESH + 1) * 1000);
    const before = { trusted: trusted.fetches, jwks: oidc.fetches.jwks };
    check(await flood(40));
    expect(trusted.fetches - before.trusted).toBe(1);
    expect(oidc.fetches.jwks - before.jwks).toBe(1);
    check(await flood(30));
    clock.advance((MIN_REFRESH - 5) * 1000);
    check(await flood(30));
    expect(trusted.fetches - before.trusted).toBe(1);
    expect(oidc.fetches.jwks - before.jwks).toBe(1);
    // The next interval allows exactly one more fetch.
    clock.advance(6000);
    check(await flood(40));
    expect(trusted.fetches - before.trusted).toBe(2);
    expect(oidc.fetches.jwks - before.jwks).toBe(2);
    // Genuine tokens kept working throughout.
    expect((await login('web', await k8sToken())).status).toBe(200);
  });

  it('refuses a token for role web used to log in as role api, whose bound subject differs', async () => {
    const token = await k8sToken();
    expect((await login('web', token)).status).toBe(200);
    expectRefused(await login('api', token), 403, 'IDPRejectedClaim', /subject is not bound to role api/, token);
    // And a token of another service account in the same namespace cannot take role web.
    const api = await k8sToken({ serviceAccount: 'api' });
    expectRefused(await login('web', api), 403, 'IDPRejectedClaim', /not bound to role web/, api);
  });
});

describe('forged and stolen session tokens', () => {
  async function session(role = 'web'): Promise<string> {
    const a = await login(role, await k8sToken({ serviceAccount: role }));
    expect(a.status, a.text).toBe(200);
    return a.json.token!;
  }

  const forge = (token: string, edit: (payload: Record<string, unknown>) => void) => {
    const [prefix, payload, tag] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
    edit(claims);
    return `${prefix}.${b64url(claims)}.${tag}`;
  };

  it('refuses a session token whose role or expiry was changed inside its payload', async () => {
    const token = await session();
    expect((await getSecretWithBearer(token, 'shop/web/db')).json.SecretString).toBe('web-password');
    const asApi = forge(token, (p) => (p.r = 'api'));
    expectRefused(
      await getSecretWithBearer(asApi, 'shop/api/db'),
      400,
      'UnrecognizedClientException',
      /security token included in the request is invalid/,
      asApi,
      ['api-password'],
    );
    const longer = forge(token, (p) => (p.exp = (p.exp as number) + 86_400_000));
    expectRefused(
      await getSecretWithBearer(longer, 'shop/web/db'),
      400,
      'UnrecognizedClientException',
      /security token included in the request is invalid/,
      longer,
      ['web-password'],
    );
    // On the native API too.
    sent.push(asApi);
    const admin = await answer(
      await fetch(`${server.url}/v1/admin/roles`, { headers: { authorization: `Bearer ${asApi}` } }),
    );
    expectRefused(admin, 401, 'UnrecognizedClientException', /invalid/, asApi);
  });

  it('refuses a session token with a truncated signature', async () => {
    const token = await session();
    const tag = token.split('.')[2]!;
    for (const cut of [1, tag.length / 2, tag.length]) {
      const truncated = token.slice(0, token.length - cut);
      expectRefused(
        await getSecretWithBearer(truncated, 'shop/web/db'),
        400,
        'UnrecognizedClientException',
        /security token included in the request is invalid/,
        truncated,
        ['web-password'],
      );
    }
  });

  it('refuses an expired session', async () => {
    const token = await session();
    expect((await getSecretWithBearer(token, 'shop/web/db')).status).toBe(200);
    clock.advance(15 * 60_000);
    expectRefused(
      await getSecretWithBearer(token, 'shop/web/db'),
      400,
      'ExpiredTokenException',
      /security token included in the request is expired/,
      token,
      ['web-password'],
    );
  });

  it("revoking a role's sessions ends its existing sessions and STS credentials while new logins work", async () => {
    const old = await session();
    const oldApi = await session('api');
    const creds = await assumeRole('web', await k8sToken());
    expect((await send(await signGetSecret(creds, 'shop/web/db'))).status).toBe(200);
    const revoke = await fetch(`${server.url}/v1/admin/roles/web/revoke-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.admin.token}` },
    });
    expect(revoke.status).toBe(200);
    expectRefused(await getSecretWithBearer(old, 'shop/web/db'), 400, 'UnrecognizedClientException', /invalid/, old, [
      'web-password',
    ]);
    expectRefused(
      await send(await signGetSecret(creds, 'shop/web/db')),
      400,
      'UnrecognizedClientException',
      /invalid/,
      undefined,
      [creds.sessionToken, creds.secretAccessKey, 'web-password'],
    );
    // Other roles' sessions are untouched; a new login (same millisecond on the manual clock) works.
    expect((await getSecretWithBearer(oldApi, 'shop/api/db')).status).toBe(200);
    const fresh = await session();
    expect((await getSecretWithBearer(fresh, 'shop/web/db')).json.SecretString).toBe('web-password');
  });
});

describe('STS credentials and SigV4', () => {
  it('accepts a request signed with STS temporary credentials (the control)', async () => {
    const creds = await assumeRole('web', await k8sToken());
    const a = await send(await signGetSecret(creds, 'shop/web/db'));
    expect(a.status, a.text).toBe(200);
    expect(a.json.SecretString).toBe('web-password');
  });

  it('refuses a SigV4 request replayed more than 5 minutes after it was signed', async () => {
    const creds = await assumeRole('web', await k8sToken());
    const captured = await signGetSecret(creds, 'shop/web/db');
    expect((await send(captured)).status).toBe(200);
    clock.advance(5 * 60_000 + 1000);
    expectRefused(await send(captured), 400, 'InvalidSignatureException', /Signature expired/, undefined, [
      creds.sessionToken,
      creds.secretAccessKey,
      'web-password',
    ]);
  });

  it('refuses a SigV4 request whose body was changed after signing', async () => {
    const creds = await assumeRole('web', await k8sToken());
    // With and without the signed x-amz-content-sha256 header (the S3-style payload hash).
    for (const [applyChecksum, check] of [
      [false, /signature we calculated does not match/],
      [true, /'x-amz-content-sha256' header does not match/],
    ] as const) {
      const captured = await signGetSecret(creds, 'shop/web/db', applyChecksum);
      expect('x-amz-content-sha256' in captured.headers).toBe(applyChecksum);
      // Same length, same headers: only the secret asked for differs.
      const tampered = { ...captured, body: captured.body.replace('shop/web/db', 'shop/api/db') };
      expect(tampered.body).not.toBe(captured.body);
      expectRefused(await send(tampered), 400, 'InvalidSignatureException', check, undefined, [
        creds.sessionToken,
        creds.secretAccessKey,
        'api-password',
      ]);
      expect((await send(captured)).json.SecretString).toBe('web-password');
    }
  });

  it("refuses temporary credentials presented with another ASIA key's session token", async () => {
    const a = await assumeRole('web', await k8sToken());
    const b = await assumeRole('web', await k8sToken());
    const mixed = await signGetSecret({ ...a, sessionToken: b.sessionToken }, 'shop/web/db');
    expectRefused(
      await send(mixed),
      400,
      'UnrecognizedClientException',
      /security token included in the request is invalid/,
      undefined,
      [a.secretAccessKey, b.sessionToken, 'web-password'],
    );
  });

  it('refuses an STS session token used as a bearer token', async () => {
    const creds = await assumeRole('web', await k8sToken());
    expectRefused(
      await getSecretWithBearer(creds.sessionToken, 'shop/web/db'),
      400,
      'UnrecognizedClientException',
      /must be used with its access key in a SigV4 signature/,
      creds.sessionToken,
      ['web-password'],
    );
  });

  it('refuses expired STS credentials', async () => {
    const creds = await assumeRole('web', await k8sToken());
    clock.advance(15 * 60_000);
    expectRefused(
      await send(await signGetSecret(creds, 'shop/web/db')),
      400,
      'ExpiredTokenException',
      /expired/,
      undefined,
      [creds.sessionToken, creds.secretAccessKey, 'web-password'],
    );
  });
});

describe('failed login rate limit', () => {
  it('throttles a source after too many failed logins, audits each, and lets it in again a minute later', async () => {
    const limitedClock = new ManualClock(clock.now());
    const limited = await startTestServer({
      clock: limitedClock,
      config: serverConfig({ perSourcePerMinute: 3, perRolePerMinute: 1000 }),
    });
    try {
      const claims = await genuineClaims();
      const bad = [
        await oidc.sign(claims, { kid: oidc.keys[0]!.kid, key: rogue.privateKey, alg: 'RS256' }),
        await k8sToken({ audience: 'other' }),
        await k8sToken({ issuedAt: nowSeconds() - 7000, lifetime: 3600 }),
      ];
      const outcomes = [];
      for (const token of bad) outcomes.push((await login('web', token, limited)).json.__type);
      expect(outcomes).toEqual(['InvalidIdentityToken', 'InvalidIdentityToken', 'ExpiredTokenException']);
      // Now even a genuine token is refused before any token work, on login and on STS alike.
      const good = await k8sToken();
      const throttled = await login('web', good, limited);
      expect({ status: throttled.status, code: throttled.json.__type }).toEqual({
        status: 429,
        code: 'ThrottlingException',
      });
      expect(throttled.json.message).toMatch(/Too many failed logins/);
      expect(throttled.text).not.toContain(good);
      const sts = await fetch(limited.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          Action: 'AssumeRoleWithWebIdentity',
          RoleArn: 'arn:aws:iam::000000000000:role/web',
          WebIdentityToken: good,
        }).toString(),
      });
      expect(await sts.text()).toMatch(/<Code>Throttling<\/Code>/);

      limitedClock.advance(61_000);
      const again = await login('web', await k8sToken({ issuedAt: Math.floor(limitedClock.now() / 1000) }), limited);
      expect(again.status, again.text).toBe(200);

      const auditDir = join(limited.dataDir, 'audit');
      const lines = readdirSync(auditDir)
        .filter((f) => f.endsWith('.log'))
        .sort()
        .flatMap((f) => readFileSync(join(auditDir, f), 'utf8').split('\n').filter(Boolean));
      const logins = lines.map((l) => JSON.parse(l)).filter((r) => r.action === 'keysafe:Login');
      expect(logins.map((r) => r.outcome)).toEqual([
        'InvalidIdentityToken',
        'InvalidIdentityToken',
        'ExpiredTokenException',
        'ThrottlingException',
        'success',
      ]);
      for (const r of logins.slice(0, 4)) {
        expect(r).toMatchObject({
          decision: 'deny',
          identity: { type: 'anonymous' },
          resource: 'arn:aws:iam::000000000000:role/web',
        });
        expect(r.source).toMatch(/127\.0\.0\.1/);
      }
      expect(logins[4]).toMatchObject({ decision: 'allow', identity: { type: 'role', role: 'web' } });
      const audit = lines.join('\n');
      for (const token of [...bad, good]) {
        for (const part of token.split('.').filter((p) => p.length >= 16)) expect(audit).not.toContain(part);
      }
      for (const line of limited.logs) for (const token of [...bad, good]) expect(line).not.toContain(token);
    } finally {
      await limited.stop();
    }
  });
});

describe('leaks', () => {
  it('no server log line or audit record carries any token or credential secret the suite sent', () => {
    const audit = readdirSync(server.auditDir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => readFileSync(join(server.auditDir, f), 'utf8'))
      .join('');
    expect(audit).toContain('keysafe:Login');
    expect(sent.length).toBeGreaterThan(100);
    const logs = server.logs.join('');
    for (const s of new Set(sent)) {
      // Signatures and payloads are unique; the base64url header alone is shared by many tokens.
      for (const part of s.split('.').filter((p) => p.length >= 40)) {
        expect(audit).not.toContain(part);
        expect(logs).not.toContain(part);
      }
    }
  });
});
