// AWS JSON requests signed by the AWS SDK's own SigV4 signer, and requests sent over node:http exactly as
// given (a header repeated or changed, the Host header the signed one, a chosen source address).
import { request } from 'node:http';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { REGION } from './sdk.js';

/** Header values as node:http sends them: an array becomes repeated header lines. */
export type RawHeaders = Record<string, string | string[]>;

export interface SignOptions {
  /** More headers to sign with the request. */
  headers?: Record<string, string>;
  /** Left out of the signature although sent. */
  unsignableHeaders?: string[];
  /** The signer's clock (default now). */
  signingDate?: Date;
  /** Sign x-amz-content-sha256 too (the signer's default: yes). */
  applyChecksum?: boolean;
}

/** The headers of `POST /` calling `target` (`secretsmanager.GetSecretValue`…) with `body`, signed. */
export async function signJsonRequest(
  url: string,
  credentials: AwsCredentialIdentity,
  target: string,
  body: string,
  options: SignOptions = {},
): Promise<Record<string, string>> {
  const { host, hostname, port } = new URL(url);
  const signer = new SignatureV4({
    credentials,
    region: REGION,
    service: target.startsWith('TrentService.') ? 'kms' : target.split('.')[0]!,
    sha256: Hash.bind(null, 'sha256'),
    ...(options.applyChecksum !== undefined && { applyChecksum: options.applyChecksum }),
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname,
      port: Number(port),
      path: '/',
      query: {},
      headers: { host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, ...options.headers },
      body,
    },
    {
      ...(options.signingDate && { signingDate: options.signingDate }),
      ...(options.unsignableHeaders && { unsignableHeaders: new Set(options.unsignableHeaders) }),
    },
  );
  return signed.headers as Record<string, string>;
}

/**
 * POSTs `body` with exactly `headers` (and its content-length), to `/` unless `path` says otherwise and
 * from `localAddress` if given (127.0.0.x: a source of its own): the status and the body's text.
 */
export function postRaw(
  url: string,
  headers: RawHeaders,
  body: string,
  options: { path?: string; localAddress?: string } = {},
): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port: Number(port),
        ...(options.localAddress && { localAddress: options.localAddress }),
        method: 'POST',
        path: options.path ?? '/',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
