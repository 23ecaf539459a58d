// Failed logins are throttled per (role, source address): a flood of failures from some sources never
// refuses a valid token from a source that has not failed, on POST /v1/auth/login and STS alike.
// Clients bind distinct loopback addresses (127.0.0.x) so the server sees distinct sources.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import type { TestServer } from '../support/server.js';
import { postRaw } from '../support/sigv4.js';
import { policyOf, startWorkloadServer } from '../support/workload.js';

const PER_SOURCE = 3;
const PER_ROLE = 5;

let oidc: OidcIssuer;
let server: TestServer;
let clock: ManualClock;

beforeAll(async () => {
  clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  ({ issuer: oidc, server } = await startWorkloadServer({
    clock,
    roles: ['web', 'api'].map((name) => ({
      name,
      subjects: [`system:serviceaccount:shop:${name}`],
      policy: policyOf([
        {
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: `arn:aws:secretsmanager:*:*:secret:shop/${name}/*`,
        },
      ]),
    })),
    config: { login: { perSourcePerMinute: PER_SOURCE, perRolePerMinute: PER_ROLE } },
  }));
});

afterAll(async () => {
  await server?.stop();
  await oidc?.stop();
});

const token = (serviceAccount: string, audience = 'keysafe') =>
  oidc.kubernetesToken({ issuedAt: Math.floor(clock.now() / 1000), serviceAccount, audience });

/** POSTs `body` to `path` from the loopback address `from`. */
const post = (from: string, path: string, contentType: string, body: string) =>
  postRaw(server.url, { 'content-type': contentType }, body, { path, localAddress: from });

/** The outcome of a native login: 'ok' or the error's code. */
async function login(from: string, role: string, jwt: string): Promise<string> {
  const a = await post(from, '/v1/auth/login', 'application/json', JSON.stringify({ role, jwt }));
  return a.status === 200 ? 'ok' : JSON.parse(a.text).__type;
}

/** The outcome of STS AssumeRoleWithWebIdentity: 'ok' or STS's error code. */
async function assumeRole(from: string, role: string, jwt: string): Promise<string> {
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: `arn:aws:iam::000000000000:role/${role}`,
    RoleSessionName: 'throttle-test',
    WebIdentityToken: jwt,
  });
  const a = await post(from, '/', 'application/x-www-form-urlencoded', form.toString());
  return a.status === 200 ? 'ok' : /<Code>([^<]+)<\/Code>/.exec(a.text)![1]!;
}

describe('failed login throttling per (role, source)', () => {
  it('throttles the failing source for that role only; other sources and roles keep logging in', async () => {
    const attacker = '127.0.0.1';
    const wrongAudience = await token('web', 'other');
    for (let i = 0; i < PER_SOURCE; i++)
      expect(await login(attacker, 'web', wrongAudience)).toBe('InvalidIdentityToken');

    // The attacker's source is now refused for web, even with a valid token, on both APIs.
    expect(await login(attacker, 'web', await token('web'))).toBe('ThrottlingException');
    expect(await assumeRole(attacker, 'web', await token('web'))).toBe('Throttling');
    // The same role from a source that has not failed, and another role from the attacker's source, work.
    expect(await login('127.0.0.2', 'web', await token('web'))).toBe('ok');
    expect(await assumeRole('127.0.0.2', 'web', await token('web'))).toBe('ok');
    expect(await login(attacker, 'api', await token('api'))).toBe('ok');

    clock.advance(61_000);
    expect(await login(attacker, 'web', await token('web'))).toBe('ok');
  });

  it('failures spread over many sources refuse only the sources that failed, never a clean one', async () => {
    clock.advance(61_000);
    const wrongAudience = await token('web', 'other');
    // PER_ROLE failures for web, one per source: each source stays under its own limit.
    const failing = Array.from({ length: PER_ROLE }, (_, i) => `127.0.1.${i + 1}`);
    for (const from of failing) expect(await login(from, 'web', wrongAudience)).toBe('InvalidIdentityToken');

    // The role is flooded: a source that failed for it is refused at once, even with a valid token...
    expect(await login(failing[0]!, 'web', await token('web'))).toBe('ThrottlingException');
    expect(await assumeRole(failing[1]!, 'web', await token('web'))).toBe('Throttling');
    // ...while sources that have not failed are not, on either API, however many there are.
    for (const from of ['127.0.0.2', '127.0.2.1', '127.0.2.2']) {
      expect(await login(from, 'web', await token('web'))).toBe('ok');
      expect(await assumeRole(from, 'web', await token('web'))).toBe('ok');
    }
  });

  it('counts unknown role names of one source together: spraying names is throttled like one role', async () => {
    clock.advance(61_000);
    const from = '127.0.3.1';
    const jwt = await token('web');
    for (let i = 0; i < PER_SOURCE; i++) expect(await login(from, `ghost-${i}`, jwt)).toBe('AccessDeniedException');
    expect(await login(from, 'ghost-new', jwt)).toBe('ThrottlingException');
    // Real roles from that source are unaffected.
    expect(await login(from, 'web', jwt)).toBe('ok');
  });
});
