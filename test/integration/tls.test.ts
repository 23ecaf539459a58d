// TLS: HTTPS with the given certificate, reloaded when its files change; plaintext stays on loopback.
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config-error.js';
import { startTestServer, tempDir } from '../support/server.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function makeCert(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** GETs /healthz over TLS trusting only `ca`, and returns the server certificate's subject CN. */
function peerName(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { ca: readFileSync(ca), agent: false }, (res) => {
      const cn = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN;
      res.resume();
      res.on('end', () => resolve(String(cn)));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS', () => {
  it('serves HTTPS and picks up a renewed certificate without a restart', async () => {
    const first = makeCert('first');
    const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
    execFileSync('cp', [first.cert, live.cert]);
    execFileSync('cp', [first.key, live.key]);
    const server = await startTestServer({ flags: { tlsCert: live.cert, tlsKey: live.key } });
    try {
      expect(server.url).toMatch(/^https:/);
      expect(await peerName(server.url, first.cert)).toBe('first');
      const second = makeCert('second');
      // Replace both files atomically, as cert-manager and kubelet do.
      execFileSync('cp', [second.key, `${live.key}.tmp`]);
      execFileSync('cp', [second.cert, `${live.cert}.tmp`]);
      renameSync(`${live.key}.tmp`, live.key);
      renameSync(`${live.cert}.tmp`, live.cert);
      const deadline = Date.now() + 5000;
      let name = '';
      while (Date.now() < deadline) {
        name = await peerName(server.url, second.cert).catch(() => '');
        if (name === 'second') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(name).toBe('second');
      expect(server.logs.some((l) => l.includes('reloaded TLS certificate'))).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('refuses plaintext on a non-loopback address unless told insecurePlaintextNonLoopback', async () => {
    await expect(startTestServer({ flags: { listen: '0.0.0.0:0' } })).rejects.toThrow(ConfigError);
    const server = await startTestServer({ flags: { listen: '0.0.0.0:0', insecurePlaintextNonLoopback: true } });
    try {
      expect(server.logs.some((l) => JSON.parse(l).level === 'warn' && l.includes('plaintext HTTP'))).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
