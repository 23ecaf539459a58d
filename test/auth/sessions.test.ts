// Session tokens and STS credentials: tamper-proof, bound to their key id, expiring and revocable by role.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSessions, type NewSession } from '../../src/auth/sessions.js';
import { ManualClock } from '../../src/core/clock.js';
import { AppError, type ErrorCode } from '../../src/core/errors.js';

const SUBJECT = 'system:serviceaccount:shop:web';
const CLAIM_VALUE = 'claim-value-3b7e1d';

function setup(key = 'session-key-one') {
  const clock = new ManualClock(Date.UTC(2026, 4, 1, 12));
  const keyState = { enabled: true };
  const revocations = new Map<string, number>([
    ['web', 0],
    ['api', 0],
  ]);
  const sessions = createSessions({
    accountId: '000000000000',
    now: () => clock.now(),
    mac: async (data) => createHmac('sha256', key).update(data).digest('base64url'),
    keyInForce: async () => {
      if (!keyState.enabled) throw new Error('the session key is disabled');
    },
    revokedBefore: (role) => revocations.get(role),
  });
  return { clock, revocations, sessions, keyState };
}

const newSession = (over: Partial<NewSession> = {}): NewSession => ({
  role: 'web',
  subject: SUBJECT,
  sessionName: 'system.serviceaccount.shop.web',
  claims: { 'kubernetes.io': { namespace: 'shop' }, extra: CLAIM_VALUE },
  ttlMs: 15 * 60_000,
  ...over,
});

/** Awaits `promise`, expecting an AppError with `code` whose message matches and leaks no token or claim. */
async function refused(promise: Promise<unknown>, code: ErrorCode, message: RegExp, secrets: string[]) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  const e = error as AppError;
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  for (const s of [...secrets, SUBJECT, CLAIM_VALUE]) expect(e.message).not.toContain(s);
  return e;
}

const parts = (token: string) => {
  const [prefix, payload, tag] = token.split('.');
  return { prefix: prefix!, payload: JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')), tag: tag! };
};
const forge = (token: string, edit: (p: Record<string, unknown>) => void) => {
  const { prefix, payload, tag } = parts(token);
  edit(payload);
  return `${prefix}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${tag}`;
};

describe('session tokens', () => {
  it('verifies a fresh login session and carries the role, subject and claims', async () => {
    const { sessions, clock } = setup();
    const { token, expiresAt } = await sessions.login(newSession());
    expect(token).toMatch(/^ks1\.[\w-]+\.[\w-]{43}$/);
    expect(expiresAt).toBe(clock.now() + 15 * 60_000);
    const identity = await sessions.verifyBearer(token);
    expect(identity).toMatchObject({
      kind: 'role',
      role: 'web',
      subject: SUBJECT,
      via: 'login',
      arn: 'arn:aws:sts::000000000000:assumed-role/web/system.serviceaccount.shop.web',
      roleArn: 'arn:aws:iam::000000000000:role/web',
    });
    expect(identity.claims).toEqual({ 'kubernetes.io': { namespace: 'shop' }, extra: CLAIM_VALUE });
  });

  it('gives two sessions of the same workload different tokens', async () => {
    const { sessions } = setup();
    const a = await sessions.login(newSession());
    const b = await sessions.login(newSession());
    expect(a.token).not.toBe(b.token);
  });

  it.each([
    ['role', (p: Record<string, unknown>) => (p.r = 'api')],
    ['expiry', (p: Record<string, unknown>) => (p.exp = (p.exp as number) + 86_400_000)],
    ['subject', (p: Record<string, unknown>) => (p.s = 'system:serviceaccount:shop:api')],
    ['claims', (p: Record<string, unknown>) => (p.c = { 'kubernetes.io': { namespace: 'kube-system' } })],
    ['issue time', (p: Record<string, unknown>) => (p.iat = (p.iat as number) + 1)],
  ])('refuses a session token whose %s was changed inside the payload', async (_what, edit) => {
    const { sessions } = setup();
    const { token } = await sessions.login(newSession());
    const forged = forge(token, edit);
    expect(forged).not.toBe(token);
    await refused(sessions.verifyBearer(forged), 'UnrecognizedClientException', /security token .* invalid/, [
      token,
      forged,
    ]);
  });

  it('refuses a session token whose signature is truncated, missing or from another server key', async () => {
    const { sessions } = setup();
    const { token } = await sessions.login(newSession());
    const other = await setup('session-key-two').sessions.login(newSession());
    const { tag } = parts(token);
    for (const bad of [
      token.slice(0, -1),
      token.slice(0, -tag.length / 2),
      token.slice(0, -tag.length),
      token.slice(0, -tag.length - 1),
      `${token.slice(0, -tag.length)}${tag.slice(1)}A`,
      other.token,
      token.replace(/^ks1\./, 'ks2.'),
      `${token}.${tag}`,
    ]) {
      await refused(sessions.verifyBearer(bad), 'UnrecognizedClientException', /security token .* invalid/, [
        token,
        bad,
      ]);
    }
    // The original is still good: the refusals above did not poison the cache.
    await expect(sessions.verifyBearer(token)).resolves.toMatchObject({ role: 'web' });
  });

  it('refuses an oversized token before any HMAC work', async () => {
    const { sessions } = setup();
    await refused(
      sessions.verifyBearer(`ks1.${'A'.repeat(9000)}.x`),
      'UnrecognizedClientException',
      /security token .* invalid/,
      [],
    );
  });

  it('refuses to issue a session whose claims would make the token too large', async () => {
    const { sessions } = setup();
    await refused(
      sessions.login(newSession({ claims: { big: 'x'.repeat(9000) } })),
      'IDPRejectedClaim',
      /too many claims/,
      ['x'.repeat(100)],
    );
  });

  it('expires a session at its expiry time, even once verified and cached', async () => {
    const { sessions, clock } = setup();
    const { token, expiresAt } = await sessions.login(newSession({ ttlMs: 60_000 }));
    await sessions.verifyBearer(token);
    clock.set(expiresAt - 1);
    await expect(sessions.verifyBearer(token)).resolves.toMatchObject({ role: 'web' });
    clock.set(expiresAt);
    await refused(sessions.verifyBearer(token), 'ExpiredTokenException', /security token .* expired/, [token]);
  });

  it('refuses a verified, cached session once the session key is disabled, and again after it is enabled', async () => {
    const { sessions, keyState } = setup();
    const { token } = await sessions.login(newSession());
    await sessions.verifyBearer(token); // cached from here on
    keyState.enabled = false;
    await refused(sessions.verifyBearer(token), 'UnrecognizedClientException', /security token .* invalid/, [token]);
    keyState.enabled = true;
    await expect(sessions.verifyBearer(token)).resolves.toMatchObject({ role: 'web' });
  });

  it('revokes the sessions of a role issued up to the revocation, but not later ones nor other roles', async () => {
    const { sessions, clock, revocations } = setup();
    const before = await sessions.login(newSession());
    const otherRole = await sessions.login(newSession({ role: 'api' }));
    await sessions.verifyBearer(before.token); // cached: revocation must still apply
    // Revoked in the same millisecond the session was issued: it may have raced the revocation.
    revocations.set('web', clock.now());
    await refused(sessions.verifyBearer(before.token), 'UnrecognizedClientException', /invalid/, [before.token]);
    await expect(sessions.verifyBearer(otherRole.token)).resolves.toMatchObject({ role: 'api' });
    // A login right after the revocation, still in the same millisecond, works.
    const after = await sessions.login(newSession());
    await expect(sessions.verifyBearer(after.token)).resolves.toMatchObject({ role: 'web' });
    clock.advance(1000);
    await expect(sessions.verifyBearer(after.token)).resolves.toMatchObject({ role: 'web' });
    await refused(sessions.verifyBearer(before.token), 'UnrecognizedClientException', /invalid/, [before.token]);
  });

  it('refuses a validly signed token issued more than a minute in the future (login and STS)', async () => {
    const here = setup();
    // Another replica with the same session key, whose clock runs ahead.
    const ahead = setup();
    ahead.clock.advance(30_000);
    const near = await ahead.sessions.login(newSession());
    await expect(here.sessions.verifyBearer(near.token)).resolves.toMatchObject({ role: 'web' });
    // As forged with the session key (issue 14): issued 10 years ahead, valid for years after that.
    const year = 365 * 86_400_000;
    ahead.clock.advance(10 * year);
    const forged = await ahead.sessions.login(newSession({ ttlMs: 20 * year }));
    await refused(here.sessions.verifyBearer(forged.token), 'UnrecognizedClientException', /invalid/, [forged.token]);
    const sts = await ahead.sessions.assumeRole(newSession({ ttlMs: 20 * year }));
    await refused(
      here.sessions.verifyTemporaryCredentials(sts.credentials.accessKeyId, sts.credentials.sessionToken),
      'UnrecognizedClientException',
      /invalid/,
      [sts.credentials.sessionToken],
    );
    // The edge: a minute ahead is taken, a minute and a millisecond is not.
    const edge = setup();
    edge.clock.set(here.clock.now() + 60_000);
    const atEdge = await edge.sessions.login(newSession());
    edge.clock.advance(1);
    const pastEdge = await edge.sessions.login(newSession());
    await expect(here.sessions.verifyBearer(atEdge.token)).resolves.toMatchObject({ role: 'web' });
    await refused(here.sessions.verifyBearer(pastEdge.token), 'UnrecognizedClientException', /invalid/, []);
  });

  it('refuses a validly signed token that lives longer than 12 hours, the longest session a role may have', async () => {
    const { sessions } = setup();
    const longest = await sessions.login(newSession({ ttlMs: 12 * 3_600_000 }));
    await expect(sessions.verifyBearer(longest.token)).resolves.toMatchObject({ role: 'web' });
    // As forged with the session key: issued now, valid for years.
    const forged = await sessions.login(newSession({ ttlMs: 12 * 3_600_000 + 1 }));
    await refused(sessions.verifyBearer(forged.token), 'UnrecognizedClientException', /invalid/, [forged.token]);
    const sts = await sessions.assumeRole(newSession({ ttlMs: 10 * 365 * 86_400_000 }));
    await refused(
      sessions.verifyTemporaryCredentials(sts.credentials.accessKeyId, sts.credentials.sessionToken),
      'UnrecognizedClientException',
      /invalid/,
      [sts.credentials.sessionToken],
    );
  });

  it('refuses the sessions of a role that no longer exists', async () => {
    const { sessions, revocations } = setup();
    const { token } = await sessions.login(newSession());
    revocations.delete('web');
    await refused(sessions.verifyBearer(token), 'UnrecognizedClientException', /invalid/, [token]);
  });
});

describe('STS temporary credentials', () => {
  it('issues an ASIA key whose secret the server re-derives from the session token', async () => {
    const { sessions } = setup();
    const { credentials, identity } = await sessions.assumeRole(newSession());
    expect(credentials.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(identity).toMatchObject({ via: 'sts', accessKeyId: credentials.accessKeyId });
    const verified = await sessions.verifyTemporaryCredentials(credentials.accessKeyId, credentials.sessionToken);
    expect(verified.secret).toBe(credentials.secretAccessKey);
    expect(verified.identity).toMatchObject({ role: 'web', subject: SUBJECT, accessKeyId: credentials.accessKeyId });
    const second = await sessions.assumeRole(newSession());
    expect(second.credentials.accessKeyId).not.toBe(credentials.accessKeyId);
    expect(second.credentials.secretAccessKey).not.toBe(credentials.secretAccessKey);
  });

  it('refuses a session token presented with another ASIA key id', async () => {
    const { sessions } = setup();
    const a = await sessions.assumeRole(newSession());
    const b = await sessions.assumeRole(newSession());
    await refused(
      sessions.verifyTemporaryCredentials(a.credentials.accessKeyId, b.credentials.sessionToken),
      'UnrecognizedClientException',
      /security token .* invalid/,
      [b.credentials.sessionToken, b.credentials.secretAccessKey],
    );
  });

  it('refuses an ASIA key without a session token, or with a login session token', async () => {
    const { sessions } = setup();
    const { credentials } = await sessions.assumeRole(newSession());
    const login = await sessions.login(newSession());
    await refused(
      sessions.verifyTemporaryCredentials(credentials.accessKeyId, undefined),
      'UnrecognizedClientException',
      /invalid/,
      [],
    );
    await refused(
      sessions.verifyTemporaryCredentials(credentials.accessKeyId, login.token),
      'UnrecognizedClientException',
      /invalid/,
      [login.token],
    );
  });

  it('refuses an STS session token used as a bearer token', async () => {
    const { sessions } = setup();
    const { credentials } = await sessions.assumeRole(newSession());
    await refused(sessions.verifyBearer(credentials.sessionToken), 'UnrecognizedClientException', /SigV4/, [
      credentials.sessionToken,
    ]);
  });

  it('refuses an STS session token whose bound key id was changed in the payload', async () => {
    const { sessions } = setup();
    const a = await sessions.assumeRole(newSession());
    const b = await sessions.assumeRole(newSession());
    const forged = forge(b.credentials.sessionToken, (p) => (p.k = a.credentials.accessKeyId));
    await refused(
      sessions.verifyTemporaryCredentials(a.credentials.accessKeyId, forged),
      'UnrecognizedClientException',
      /invalid/,
      [forged],
    );
  });

  it('expires and revokes STS credentials like login sessions', async () => {
    const { sessions, clock, revocations } = setup();
    const short = await sessions.assumeRole(newSession({ ttlMs: 60_000 }));
    clock.advance(60_000);
    await refused(
      sessions.verifyTemporaryCredentials(short.credentials.accessKeyId, short.credentials.sessionToken),
      'ExpiredTokenException',
      /expired/,
      [short.credentials.sessionToken],
    );
    const live = await sessions.assumeRole(newSession());
    revocations.set('web', clock.now() + 1);
    await refused(
      sessions.verifyTemporaryCredentials(live.credentials.accessKeyId, live.credentials.sessionToken),
      'UnrecognizedClientException',
      /invalid/,
      [live.credentials.sessionToken],
    );
  });
});
