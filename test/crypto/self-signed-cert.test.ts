// The per-launch certificate of the Terraform provider's AutoMTLS: a valid self-signed X.509 that
// node:crypto (OpenSSL) parses and verifies, with the shape go-plugin's client expects.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSelfSignedCert } from '../../src/crypto/self-signed-cert.js';

describe('self-signed certificate', () => {
  const cert = createSelfSignedCert({ commonName: 'localhost', dnsNames: ['localhost'] });
  const x509 = new X509Certificate(cert.certDer);

  it('is self-signed and verifies with its own public key', () => {
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.checkIssued(x509)).toBe(true);
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('is a CA for localhost, usable for server and client auth, valid now', () => {
    expect(x509.ca).toBe(true);
    expect(x509.subjectAltName).toBe('DNS:localhost');
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    const now = Date.now();
    expect(new Date(x509.validFrom).getTime()).toBeLessThanOrEqual(now);
    expect(new Date(x509.validTo).getTime()).toBeGreaterThan(now);
  });

  it('comes with the matching private key and a PEM of the same certificate', () => {
    expect(new X509Certificate(cert.certPem).fingerprint256).toBe(x509.fingerprint256);
    expect(x509.checkPrivateKey(createPrivateKey(cert.keyPem))).toBe(true);
  });

  it('is fresh at each call', () => {
    const other = new X509Certificate(
      createSelfSignedCert({ commonName: 'localhost', dnsNames: ['localhost'] }).certDer,
    );
    expect(other.serialNumber).not.toBe(x509.serialNumber);
    expect(other.publicKey.export({ format: 'der', type: 'spki' })).not.toEqual(
      x509.publicKey.export({ format: 'der', type: 'spki' }),
    );
  });
});
