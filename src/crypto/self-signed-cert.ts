// A self-signed ECDSA P-256 X.509 certificate made with node:crypto and a small DER writer.
//
// Used by the Terraform provider for go-plugin's AutoMTLS: a fresh cert per launch, self-signed and a CA
// (the client pins it as its only root), SAN DNS `localhost` (the name the client dials), server and client
// auth. No certificate library: the handful of DER shapes needed are written here.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>>= 8;
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: tag, DER length, contents. */
export function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...items: Buffer[]) => der(0x30, ...items);
const set = (...items: Buffer[]) => der(0x31, ...items);
const octets = (b: Buffer) => der(0x04, b);
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0]));
const bitString = (b: Buffer, unusedBits = 0) => der(0x03, Buffer.from([unusedBits]), b);
const explicit = (n: number, inner: Buffer) => der(0xa0 | n, inner);

/** A positive INTEGER from big-endian bytes (leading zeros trimmed, a 0x00 added when the top bit is set). */
function integer(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let b = bytes.subarray(i);
  if ((b[0]! & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return der(0x02, b);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    let rest = Math.floor(arc / 128);
    while (rest > 0) {
      chunk.unshift((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
}

function utcTime(date: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(date.getUTCFullYear() % 100)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(
    date.getUTCHours(),
  )}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}Z`;
  return der(0x17, Buffer.from(s, 'ascii'));
}

const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

export interface SelfSignedCert {
  /** The certificate, DER. */
  certDer: Buffer;
  certPem: string;
  /** The private key, PKCS#8 PEM. */
  keyPem: string;
}

const pem = (label: string, body: Buffer) =>
  `-----BEGIN ${label}-----\n${body
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END ${label}-----\n`;

/**
 * A fresh P-256 key and a certificate for it, self-signed, CA:TRUE, valid from a minute ago for `days`,
 * with SAN DNS names `dnsNames`, key usages digitalSignature|keyEncipherment|keyAgreement|keyCertSign and
 * extended key usages serverAuth+clientAuth (the shape go-plugin's AutoMTLS expects).
 */
export function createSelfSignedCert(options: {
  commonName: string;
  dnsNames: string[];
  days?: number;
}): SelfSignedCert {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.10'), utf8('Keysafe'))), set(seq(oid('2.5.4.3'), utf8(options.commonName))));
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  // keyUsage bits 0 (digitalSignature), 2 (keyEncipherment), 4 (keyAgreement), 5 (keyCertSign): 0b10101100,
  // the two trailing zero bits unused.
  const keyUsage = bitString(Buffer.from([0xac]), 2);
  const extensions = seq(
    extension('2.5.29.15', true, keyUsage),
    extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
    extension('2.5.29.19', true, seq(bool(true))),
    extension('2.5.29.17', false, seq(...options.dnsNames.map((n) => der(0x82, Buffer.from(n, 'ascii'))))),
  );
  const tbs = seq(
    explicit(0, der(0x02, Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + (options.days ?? 1) * 86_400_000))),
    name,
    spki,
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const certDer = seq(tbs, ecdsaWithSha256, bitString(signature));
  const keyPem = createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })).export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  return { certDer, certPem: pem('CERTIFICATE', certDer), keyPem };
}
