// Issuer configuration cannot read the server's files or send them away: file options come only from the config file, URLs are http(s), the token stays on its origin, bodies are capped, errors echo nothing.
import { randomInt, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ISSUER_DOCUMENT_BYTES } from '../../src/auth/issuers.js';
import { loadServerConfig } from '../../src/server/config.js';
import { openStore } from '../../src/storage/index.js';
import { newSigningKey, type SigningKey, workloadToken } from '../support/oidc-issuer.js';
import { startTestServer, type TestServer, tempDir } from '../support/server.js';
import { login as loginAt } from '../support/session.js';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

/** A real HTTP listener that records every request; `handle` answers those it knows, others get 404. */
async function listener(handle: (url: string, res: import('node:http').ServerResponse) => boolean = () => false) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (!handle(req.url ?? '', res)) res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    stop: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

const json = (res: import('node:http').ServerResponse, doc: unknown) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
};

// Short: Node's JSON.parse messages quote only about ten characters from where parsing failed.
const CANARY = `ZQX${randomInt(1e6, 1e7)}`;
const SERVICE_ACCOUNT_TOKEN = `sa-token-${randomUUID()}`;
let dir: string;
let key: SigningKey;
/** Bytes the endless endpoint wrote before Keysafe hung up. */
let endlessBytes = 0;
let endlessClosed: Promise<void>;
let issuerHost: Awaited<ReturnType<typeof listener>>;
let elsewhere: Awaited<ReturnType<typeof listener>>;
let attacker: Awaited<ReturnType<typeof listener>>;
let server: TestServer;

beforeAll(async () => {
  dir = tempDir('keysafe-issuer-files-');
  key = await newSigningKey();
  writeFileSync(join(dir, 'token'), `${SERVICE_ACCOUNT_TOKEN}\n`);
  // JSON.parse's message for these quotes the text at the unexpected token: the canary.
  writeFileSync(join(dir, 'garbled-jwks.json'), `{"keys": ${CANARY}}`);
  writeFileSync(join(dir, 'garbled-ca.crt'), `not a certificate ${CANARY}`);

  attacker = await listener();
  let closed: () => void = () => {};
  endlessClosed = new Promise((ok) => {
    closed = ok;
  });
  // Another origin: serves the key set the issuer's discovery points at, and the oversized documents.
  elsewhere = await listener((url, res) => {
    if (url === '/keys') json(res, { keys: [key.publicJwk] });
    else if (url === '/garbled') res.writeHead(200).end(`{"keys": ${CANARY}`);
    else if (url === '/declared/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
      res.write('{"issuer":');
    } else if (url === '/endless') {
      // Without a content-length, up to 64 MiB in 64 KiB chunks as fast as the reader takes them.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = `{"keys":[${' '.repeat(64 * 1024 - 9)}`;
      res.on('close', closed);
      const pump = () => {
        while (endlessBytes < 64 * 1024 * 1024) {
          endlessBytes += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else return false;
    return true;
  });
  issuerHost = await listener((url, res) => {
    if (url === '/.well-known/openid-configuration')
      json(res, { issuer: issuerHost.url, jwks_uri: `${elsewhere.url}/keys` });
    else if (url === '/file-keys/.well-known/openid-configuration')
      json(res, { issuer: `${issuerHost.url}/file-keys`, jwks_uri: 'file:///etc/passwd' });
    else if (url === '/redirect') res.writeHead(302, { location: `${elsewhere.url}/keys` }).end();
    else return false;
    return true;
  });

  const issuer = (name: string, rest: object) => ({ name, audiences: ['keysafe'], issuer: issuerHost.url, ...rest });
  const role = (name: string) => ({
    name,
    issuer: name,
    subjects: ['*'],
    policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }] },
  });
  server = await startTestServer({
    config: {
      issuers: [
        issuer('cross-origin', { discovery: true, tokenFile: join(dir, 'token') }),
        issuer('file-keys', { issuer: `${issuerHost.url}/file-keys`, discovery: true }),
        issuer('redirecting', { jwksUrl: `${issuerHost.url}/redirect`, tokenFile: join(dir, 'token') }),
        issuer('endless', { jwksUrl: `${elsewhere.url}/endless` }),
        issuer('declared', { issuer: `${elsewhere.url}/declared`, discovery: true }),
        issuer('garbled-file', { jwksFile: join(dir, 'garbled-jwks.json') }),
        issuer('garbled-doc', { jwksUrl: `${elsewhere.url}/garbled` }),
        issuer('garbled-ca', { jwksUrl: `https://localhost:1/keys`, caFile: join(dir, 'garbled-ca.crt') }),
      ],
      roles: ['cross-origin', 'redirecting', 'endless', 'garbled-file', 'garbled-doc', 'garbled-ca'].map(role),
    },
  });
});

afterAll(async () => {
  await server?.stop();
  for (const l of [attacker, elsewhere, issuerHost]) await l?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${server.admin.token}`, 'content-type': 'application/json' },
  });

const putIssuer = async (name: string, body: object) => {
  const res = await admin(`/v1/admin/issuers/${name}`, { method: 'PUT', body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { __type: string; message: string } };
};

const jwt = (iss: string) => workloadToken(key, iss);

const login = async (role: string, iss = issuerHost.url) => {
  const res = await loginAt(server.url, { role, jwt: await jwt(iss) });
  return { status: res.status, text: await res.text() };
};

/** Every audit record written so far, as text. */
const auditText = () =>
  readdirSync(server.auditDir)
    .map((f) => readFileSync(join(server.auditDir, f), 'utf8'))
    .join('\n');

describe('file options through the admin API', () => {
  it('refuses tokenFile, caFile and jwksFile naming the root key file, and the listener hears nothing', async () => {
    const rootKeyFile = join(server.dataDir, 'root.key');
    expect(existsSync(rootKeyFile)).toBe(true);
    const rootKey = readFileSync(rootKeyFile, 'utf8').trim();
    const attempts = [
      { option: 'tokenFile', body: { issuer: attacker.url, discovery: true, tokenFile: rootKeyFile } },
      {
        option: 'caFile',
        body: { issuer: attacker.url.replace('http:', 'https:'), discovery: true, caFile: rootKeyFile },
      },
      { option: 'jwksFile', body: { issuer: attacker.url, jwksFile: rootKeyFile } },
    ];
    for (const { option, body } of attempts) {
      const res = await putIssuer('evil', { audiences: ['keysafe'], ...body });
      expect(res.status).toBe(400);
      expect(res.body.__type).toBe('ValidationException');
      expect(res.body.message).toContain(`${option}:`);
      expect(res.body.message).toMatch(/only in the server's config file/);
      expect(res.body.message).not.toContain(rootKey);
    }
    expect((await admin('/v1/admin/issuers/evil')).status).toBe(404);
    await server.directory.refresh();
    await new Promise((r) => setTimeout(r, 200));
    expect(attacker.seen).toEqual([]);
    expect(server.logs.join('\n')).not.toContain(rootKey);
  });

  it('refuses to replace a config-file issuer, so its token file stays bound to its own URLs', async () => {
    const res = await putIssuer('cross-origin', { issuer: attacker.url, audiences: ['keysafe'], discovery: true });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('ValidationException');
    expect(res.body.message).toMatch(/defined in the server config file/);
    const del = await admin('/v1/admin/issuers/cross-origin', { method: 'DELETE' });
    expect(del.status).toBe(400);
    expect(attacker.seen).toEqual([]);
  });

  it('still accepts an issuer without file options', async () => {
    const res = await putIssuer('plain', {
      issuer: issuerHost.url,
      audiences: ['keysafe'],
      jwks: { keys: [key.publicJwk] },
    });
    expect(res.status).toBe(200);
    expect((await admin('/v1/admin/issuers/plain', { method: 'DELETE' })).status).toBe(200);
  });
});

describe('issuer URLs', () => {
  it('refuses file:, ftp: and data: jwksUrl and discovery bases through the admin API', async () => {
    const urls = ['file:///etc/passwd', `ftp://127.0.0.1:21/jwks`, 'data:application/json,{"keys":[]}'];
    for (const url of urls) {
      for (const body of [
        { jwksUrl: url, issuer: 'https://issuer.example' },
        { issuer: url, discovery: true },
      ]) {
        const res = await putIssuer('scheme', { audiences: ['keysafe'], ...body });
        expect(res.status).toBe(400);
        expect(res.body.__type).toBe('ValidationException');
        expect(res.body.message).toMatch(/(jwksUrl|issuer): must be an http:\/\/ or https:\/\/ URL/);
      }
    }
    expect((await admin('/v1/admin/issuers/scheme')).status).toBe(404);
  });

  it('refuses a discovered jwks_uri that is not http(s) when fetching', () => {
    expect(server.logs.join('\n')).toMatch(
      /"issuer":"file-keys","error":"discovery document's jwks_uri must be an http:\/\/ or https:\/\/ URL"/,
    );
  });

  it('refuses a non-http(s) jwksUrl or discovery base in the config file at start', () => {
    const configDir = tempDir();
    try {
      for (const issuer of [
        { name: 'f', issuer: 'https://i.example', audiences: ['k'], jwksUrl: 'file:///etc/passwd' },
        { name: 'd', issuer: 'data:text/plain,x', audiences: ['k'], discovery: true },
      ]) {
        const file = join(configDir, 'config.json');
        writeFileSync(file, JSON.stringify({ issuers: [issuer] }));
        expect(() => loadServerConfig({ config: file, dataDir: configDir }, {})).toThrow(
          /must be an http:\/\/ or https:\/\/ URL/,
        );
      }
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
  });
});

describe("the issuer's token stays on the issuer's origin", () => {
  it('fetches a jwks_uri on another origin without the Authorization header', async () => {
    expect((await login('cross-origin')).status).toBe(200);
    const discovery = issuerHost.seen.filter((s) => s.url === '/.well-known/openid-configuration');
    expect(discovery.length).toBeGreaterThan(0);
    expect(discovery.every((s) => s.headers.authorization === `Bearer ${SERVICE_ACCOUNT_TOKEN}`)).toBe(true);
    const keys = elsewhere.seen.filter((s) => s.url === '/keys');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.map((s) => s.headers.authorization)).toEqual(keys.map(() => undefined));
  });

  it('follows no redirect: the redirect target hears nothing from a token-bearing fetch', async () => {
    const before = elsewhere.seen.length;
    const res = await login('redirecting');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text).__type).toBe('IDPCommunicationError');
    expect(issuerHost.seen.some((s) => s.url === '/redirect')).toBe(true);
    expect(elsewhere.seen.slice(before)).toEqual([]);
    expect(server.logs.join('\n')).toContain(`GET ${issuerHost.url}/redirect: HTTP 302`);
  });
});

describe('issuer documents are capped', () => {
  it('abandons an endless key set past the cap instead of buffering it', async () => {
    await endlessClosed;
    // What the sockets' buffers hold beyond the cap, not the 64 MiB on offer.
    expect(endlessBytes).toBeLessThan(8 * 1024 * 1024);
    expect(server.logs.join('\n')).toContain(
      `GET ${elsewhere.url}/endless: the key set is larger than ${MAX_ISSUER_DOCUMENT_BYTES} bytes`,
    );
    expect(JSON.parse((await login('endless')).text).__type).toBe('IDPCommunicationError');
  });

  it('refuses a discovery document whose declared length is over the cap without reading it', () => {
    expect(server.logs.join('\n')).toContain(
      `GET ${elsewhere.url}/declared/.well-known/openid-configuration: the discovery document is larger than`,
    );
  });
});

describe('no parse error echoes what it parsed', () => {
  it('names the file or URL and the problem, and the canary is in no log line, answer or audit record', async () => {
    const answers = [await login('garbled-file'), await login('garbled-doc'), await login('garbled-ca')];
    for (const a of answers) {
      expect(a.status).toBe(502);
      expect(JSON.parse(a.text).__type).toBe('IDPCommunicationError');
    }
    const logs = server.logs.join('\n');
    expect(logs).not.toContain(CANARY);
    for (const a of answers) expect(a.text).not.toContain(CANARY);
    expect(auditText()).not.toContain(CANARY);
    expect(logs).toContain(`the key file ${join(dir, 'garbled-jwks.json')} is not valid JSON`);
    expect(logs).toContain(`GET ${elsewhere.url}/garbled: the key set is not valid JSON`);
    expect(logs).toContain(`the CA file ${join(dir, 'garbled-ca.crt')} holds no PEM certificate`);
    expect(logs).not.toContain(SERVICE_ACCOUNT_TOKEN);
  });
});

describe('issuers stored outside the admin API', () => {
  it('ignores a stored issuer with a file option (an older version or a database writer) and reads no file', async () => {
    const dataDir = tempDir();
    const listening = await listener();
    try {
      const store = await openStore(`sqlite:${join(dataDir, 'keysafe.db')}`);
      const doc = {
        name: 'stored',
        issuer: listening.url,
        audiences: ['keysafe'],
        discovery: true,
        tokenFile: join(dataDir, 'root.key'),
      };
      await store.auth.putAuthEntry({
        kind: 'issuer',
        name: 'stored',
        doc: JSON.stringify(doc),
        updatedAt: Date.now(),
      });
      await store.close();
      const restarted = await startTestServer({ dataDir });
      try {
        await restarted.directory.refresh();
        expect(restarted.directory.issuer('stored')).toBeUndefined();
        const warned = restarted.logs.filter((l) => l.includes('ignoring a stored issuer that no longer validates'));
        expect(warned).toHaveLength(1);
        expect(warned[0]).toContain('stored');
        expect(listening.seen).toEqual([]);
      } finally {
        await restarted.close();
      }
    } finally {
      await listening.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
