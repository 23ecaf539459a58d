// The webhook over real HTTPS with a self-signed certificate, and a certificate rotation without restart.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedCert, type SelfSignedCert } from '../../src/crypto/self-signed-cert.js';
import { type RunningInjector, startInjector } from '../../src/injector/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { tempDir } from '../support/server.js';

let dir: string;
let injector: RunningInjector;
let first: SelfSignedCert;
const logs: string[] = [];
const review = JSON.parse(readFileSync(new URL('./fixtures/admission-review-pod.json', import.meta.url), 'utf8'));

/**
 * Writes a cert/key pair the way the kubelet updates a Secret volume: a new timestamped dir, `..data`
 * switched by rename, `tls.crt`/`tls.key` symlinks through `..data`.
 */
let generation = 0;
function publish(cert: SelfSignedCert) {
  const stamp = `..2026_05_01_10_00_0${generation++}`;
  mkdirSync(join(dir, stamp));
  writeFileSync(join(dir, stamp, 'tls.crt'), cert.certPem);
  writeFileSync(join(dir, stamp, 'tls.key'), cert.keyPem);
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of ['tls.crt', 'tls.key']) {
    try {
      symlinkSync(join('..data', name), join(dir, name));
    } catch {}
  }
}

/** One HTTPS request on a fresh connection, trusting only `ca`; answers the status, body and server cert. */
function call(
  ca: SelfSignedCert,
  path: string,
  body?: unknown,
  method = 'POST',
): Promise<{ status: number; body: string; peerDer: Buffer }> {
  const url = new URL(path, injector.url.replace('127.0.0.1', 'localhost'));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, ca: ca.certPem, agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        const peerDer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw;
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: text, peerDer }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

beforeAll(async () => {
  dir = tempDir('keysafe-injector-');
  first = createSelfSignedCert({ commonName: 'keysafe-injector', dnsNames: ['localhost'] });
  publish(first);
  injector = await startInjector({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('info', (line) => logs.push(line)),
  });
});

afterAll(async () => {
  await injector?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the injector webhook over HTTPS', () => {
  it('answers an AdmissionReview with a JSON Patch that adds the agent', async () => {
    const res = await call(first, '/mutate', review);
    expect(res.status).toBe(200);
    const answer = JSON.parse(res.body);
    expect(answer).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch' },
    });
    const patch = JSON.parse(Buffer.from(answer.response.patch, 'base64').toString());
    expect(patch).toContainEqual(expect.objectContaining({ op: 'add', path: '/spec/initContainers/0' }));
  });

  it('refuses a pod with an invalid annotation, naming it in status.message', async () => {
    const bad = structuredClone(review);
    bad.request.object.metadata.annotations['keysafe.dev/format-db.json'] = 'xml';
    const answer = JSON.parse((await call(first, '/mutate', bad)).body);
    expect(answer.response.allowed).toBe(false);
    expect(answer.response.status.message).toContain('keysafe.dev/format-db.json');
    expect(logs.some((l) => l.includes('keysafe.dev/format-db.json'))).toBe(true);
  });

  it('answers 400 to a body that is not an AdmissionReview, and 405 to GET /mutate', async () => {
    expect((await call(first, '/mutate', { hello: 'world' })).status).toBe(400);
    expect((await call(first, '/mutate', undefined, 'GET')).status).toBe(405);
    expect((await call(first, '/healthz', undefined, 'GET')).status).toBe(200);
  });

  it('serves a rotated certificate on new connections without a restart', async () => {
    expect((await call(first, '/healthz', undefined, 'GET')).peerDer.equals(first.certDer)).toBe(true);
    const second = createSelfSignedCert({ commonName: 'keysafe-injector-2', dnsNames: ['localhost'] });
    publish(second);
    const started = Date.now();
    let served: Buffer | undefined;
    while (Date.now() - started < 5000) {
      try {
        served = (await call(second, '/healthz', undefined, 'GET')).peerDer;
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // still the old certificate: not trusted by `second`
      }
    }
    expect(served && new X509Certificate(served).subject).toContain('CN=keysafe-injector-2');
    await expect(call(first, '/healthz', undefined, 'GET')).rejects.toThrow();
    const answer = JSON.parse((await call(second, '/mutate', review)).body);
    expect(answer.response.allowed).toBe(true);
  });
});
