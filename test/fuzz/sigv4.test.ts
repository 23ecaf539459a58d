// The SigV4 verifier as a pure function under fuzzing: garbage is refused with AWS's codes (never a
// TypeError), requests the real JS SDK signer signs over random paths, queries, headers and bodies
// verify, and any single change to a signed request is refused. No message carries the secret.
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HeaderReader, type SignedRequest, type SigV4Options, verifySigV4 } from '../../src/auth/sigv4.js';
import { AppError } from '../../src/core/errors.js';
import { anyString, edgeString, expectTypedError, fuzzRuns, fuzzTimeout, outcomeOf, unicodeString } from './support.js';

const AKID = 'AKIDKEYSAFEFUZZ00001';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYKEYSAFEFUZZSECRET';
const NOW = Date.UTC(2026, 10, 29, 4, 36, 37);
const AMZ_DATE = '20261129T043637Z';
const CODES = new Set([
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'UnrecognizedClientException',
  'MissingAuthenticationTokenException',
]);

const opts = (services = ['kms']): SigV4Options => ({
  now: NOW,
  lookupSecret: (id) => (id === AKID ? SECRET : undefined),
  services,
});

/** Node's header adapter takes any string value (fetch's Headers would refuse some): so does this. */
function headerReader(headers: Record<string, string>): HeaderReader {
  const map = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { get: (name) => map.get(name) ?? null, keys: () => map.keys() };
}

/** Runs the verifier and checks the outcome is a caller or one of SigV4's typed refusals, none leaking the secret. */
function verifyOutcome(req: SignedRequest, services?: string[]) {
  const r = outcomeOf(() => verifySigV4(req, opts(services)));
  if (!r.ok) {
    expectTypedError(r.error, [AppError]);
    const e = r.error as AppError;
    expect(CODES.has(e.code), e.code).toBe(true);
    expect(e.message).not.toContain(SECRET);
    expect(e.message).not.toContain('\n');
    expect(e.message.length).toBeLessThan(600);
  }
  return r;
}

const hexSig = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });
const token = fc.oneof(edgeString, unicodeString(16), fc.constantFrom('kms', 'us-east-1', AKID, 'aws4_request'));

/** Authorization headers from plausible to absurd. */
const authorization = fc.oneof(
  anyString,
  fc
    .record({
      prefix: fc.constantFrom('AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA256  ', 'aws4-hmac-sha256 ', ''),
      akid: fc.oneof(fc.constant(AKID), token),
      date: fc.oneof(fc.constant('20261129'), token),
      region: fc.oneof(fc.constant('us-east-1'), token),
      service: fc.oneof(fc.constant('kms'), token),
      term: fc.oneof(fc.constant('aws4_request'), token),
      extraSlash: fc.boolean(),
      signed: fc.oneof(
        fc.constantFrom(
          'host;x-amz-date',
          'host',
          'x-amz-date',
          'host;x-amz-date;x-amz-security-token',
          'Host;X-Amz-Date',
        ),
        token,
      ),
      signature: fc.oneof(hexSig, token),
      separator: fc.constantFrom(', ', ',', ' , ', ',,', ',\t'),
      order: fc.shuffledSubarray(['Credential', 'SignedHeaders', 'Signature', 'Extra', 'NoEquals'], { minLength: 0 }),
    })
    .map((a) => {
      const parts: Record<string, string> = {
        Credential: `Credential=${[a.akid, a.date, a.region, a.service, a.term].join('/')}${a.extraSlash ? '/x' : ''}`,
        SignedHeaders: `SignedHeaders=${a.signed}`,
        Signature: `Signature=${a.signature}`,
        Extra: 'Foo=bar=baz',
        NoEquals: 'Credential',
      };
      return a.prefix + a.order.map((k) => parts[k]).join(a.separator);
    }),
);

const amzDate = fc.oneof(
  fc.constantFrom(AMZ_DATE, '20261129T043137Z', '20261129T044138Z', '20260229T000000Z', '99991399T256199Z', ''),
  fc
    .date({ min: new Date(0), max: new Date(8.64e15), noInvalidDate: true })
    .map((d) => d.toISOString().replace(/[-:]|\.\d{3}/g, '')),
  anyString,
);

const headerValue = fc.oneof(anyString, fc.constantFrom('127.0.0.1:8270', AMZ_DATE));

describe('SigV4 verifier under fuzzing', { timeout: fuzzTimeout() }, () => {
  it('refuses arbitrary Authorization headers, dates and headers with AWS codes only, never a runtime fault', () => {
    fc.assert(
      fc.property(
        fc.record({
          authorization: fc.option(authorization, { nil: undefined }),
          date: fc.option(amzDate, { nil: undefined }),
          token: fc.option(anyString, { nil: undefined }),
          sha: fc.option(fc.oneof(anyString, hexSig), { nil: undefined }),
          extra: fc.dictionary(fc.oneof(edgeString, unicodeString(8)), headerValue, { maxKeys: 4 }),
          method: fc.oneof(fc.constantFrom('POST', 'GET', ''), anyString),
          path: fc.oneof(fc.constantFrom('/', '', '//', '/./../a/', '/%', '/%zz', '/%ED%A0%80'), anyString),
          query: fc.oneof(fc.constantFrom('', '&', '=', 'a=%', 'a=%ED%A0%80&b', '%E0%A4%A'), anyString),
          body: fc.uint8Array({ maxLength: 64 }),
          services: fc.constantFrom(['kms'], ['secretsmanager', 'kms'], []),
        }),
        (r) => {
          const headers: Record<string, string> = { host: '127.0.0.1:8270', ...r.extra };
          if (r.authorization !== undefined) headers.authorization = r.authorization;
          if (r.date !== undefined) headers['x-amz-date'] = r.date;
          if (r.token !== undefined) headers['x-amz-security-token'] = r.token;
          if (r.sha !== undefined) headers['x-amz-content-sha256'] = r.sha;
          const req: SignedRequest = {
            method: r.method,
            path: r.path,
            query: r.query,
            headers: headerReader(headers),
            body: r.body,
          };
          const out = verifyOutcome(req, [...r.services]);
          // Without the secret no random header can verify.
          expect(out.ok).toBe(false);
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });

  // Query values the JS SDK can encode (no lone surrogates: encodeURIComponent throws on them).
  const queryText = fc.string({ unit: 'binary', maxLength: 12 });
  const signedRequest = fc.record({
    segments: fc.array(fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.~'), minLength: 1, maxLength: 6 }), {
      maxLength: 4,
    }),
    trailing: fc.boolean(),
    // No "__proto__" key: the SDK signer builds its canonical query in a plain object, which drops it
    // (so it signs a query without that parameter; refusing that is right).
    query: fc.dictionary(
      queryText.filter((k) => k !== '' && k !== '__proto__'),
      queryText,
      { maxKeys: 4 },
    ),
    headerValues: fc.array(
      fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
      { maxLength: 3 },
    ),
    body: fc.string({ unit: 'binary', maxLength: 200 }),
    region: fc.constantFrom('us-east-1', 'eu-west-3', 'local'),
    service: fc.constantFrom('kms', 'secretsmanager'),
    sessionToken: fc.option(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }), { nil: undefined }),
  });

  async function sign(r: SignInput) {
    const signer = new SignatureV4({
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET, sessionToken: r.sessionToken },
      region: r.region,
      service: r.service,
      sha256: Hash.bind(null, 'sha256'),
    });
    const headers: Record<string, string> = {
      host: '127.0.0.1:8270',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'TrentService.Encrypt',
    };
    r.headerValues.forEach((v, i) => {
      headers[`x-fuzz-${i}`] = v;
    });
    const path = `/${r.segments.join('/')}${r.trailing && r.segments.length ? '/' : ''}`;
    const signed = await signer.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 8270,
        path,
        query: r.query,
        headers,
        body: r.body,
      },
      { signingDate: new Date(NOW) },
    );
    const query = new URLSearchParams(signed.query as Record<string, string>).toString().replace(/\+/g, '%20');
    const sent: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) sent[k.toLowerCase()] = v;
    return {
      req: { method: 'POST', path: signed.path, query, headers: headerReader(sent), body: Buffer.from(r.body, 'utf8') },
      sent,
      service: r.service,
    };
  }

  it('verifies every request the JS SDK signer signs, over random paths, queries, header values and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(signedRequest, async (r) => {
        const { req, service } = await sign(r);
        const out = verifyOutcome(req, [service]);
        expect(out.ok, out.ok ? '' : (out.error as Error).message).toBe(true);
      }),
      { numRuns: fuzzRuns(100) },
    );
  });

  it('refuses a signed request after any single change to what was signed', async () => {
    type Change =
      | { kind: 'signature'; at: number }
      | { kind: 'body'; at: number }
      | { kind: 'header'; at: number; text: string }
      | { kind: 'drop'; at: number }
      | { kind: 'method' | 'path' | 'query' | 'date' | 'akid' | 'region' };
    const change: fc.Arbitrary<Change> = fc.oneof(
      fc.nat({ max: 63 }).map((at) => ({ kind: 'signature' as const, at })),
      fc.nat().map((at) => ({ kind: 'body' as const, at })),
      fc.record({ kind: fc.constant('header' as const), at: fc.nat(), text: fc.constantFrom('x', 'Z', '0') }),
      fc.nat().map((at) => ({ kind: 'drop' as const, at })),
      fc.constantFrom('method', 'path', 'query', 'date', 'akid', 'region').map((kind) => ({ kind }) as Change),
    );
    await fc.assert(
      fc.asyncProperty(signedRequest, change, async (r, c) => {
        const { req, sent, service } = await sign(r);
        const auth = sent.authorization!;
        const signedNames = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
        const headers = { ...sent };
        let changed: SignedRequest = { ...req };
        switch (c.kind) {
          case 'signature': {
            const sig = /Signature=([0-9a-f]{64})/.exec(auth)![1]!;
            const flipped = sig.slice(0, c.at) + (sig[c.at] === '0' ? '1' : '0') + sig.slice(c.at + 1);
            headers.authorization = auth.replace(sig, flipped);
            break;
          }
          case 'body': {
            const body = Buffer.concat([req.body, Buffer.from('!')]);
            body[c.at % body.length]! ^= 0x01;
            changed.body = body;
            break;
          }
          case 'header': {
            const name = signedNames[c.at % signedNames.length]!;
            headers[name] = `${headers[name]}${c.text}`;
            break;
          }
          case 'drop':
            delete headers[signedNames[c.at % signedNames.length]!];
            break;
          case 'method':
            changed.method = 'PUT';
            break;
          case 'path':
            changed.path = `${req.path}x`;
            break;
          case 'query':
            changed.query = req.query === '' ? 'a=b' : `${req.query}&zz=1`;
            break;
          case 'date':
            headers['x-amz-date'] = '20261129T043638Z';
            break;
          case 'akid':
            headers.authorization = auth.replace(AKID, 'AKIDKEYSAFEFUZZ00002');
            break;
          case 'region':
            headers.authorization = auth.replace(`/${r.region}/`, '/ap-south-1/');
            break;
        }
        changed = { ...changed, headers: headerReader(headers) };
        const out = verifyOutcome(changed, [service]);
        expect(out.ok, `${c.kind} change was accepted`).toBe(false);
      }),
      { numRuns: fuzzRuns(150) },
    );
  });
});

interface SignInput {
  segments: string[];
  trailing: boolean;
  query: Record<string, string>;
  headerValues: string[];
  body: string;
  region: string;
  service: string;
  sessionToken: string | undefined;
}
