// Tampered ciphertexts: every bit flip, truncation, wrong context or key fails cleanly, never a 500.
import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let kms: KMSClient;

beforeAll(async () => {
  server = await startTestServer();
  kms = server.kmsClient();
});
afterAll(async () => {
  kms.destroy();
  await server.stop();
});

async function decryptCode(blob: Uint8Array, context?: Record<string, string>, keyId?: string): Promise<string> {
  try {
    await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context, KeyId: keyId }));
    return 'ok';
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    expect(err.$metadata?.httpStatusCode).toBe(400);
    return err.name;
  }
}

describe('ciphertext tampering', () => {
  it('fails every single-bit flip of a ciphertext with InvalidCiphertextException', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({
        KeyId: KeyMetadata!.KeyId,
        Plaintext: Buffer.from('tamper me'),
        EncryptionContext: { a: 'b' },
      }),
    );
    const blob = Buffer.from(CiphertextBlob!);
    expect(await decryptCode(blob, { a: 'b' })).toBe('ok');
    const codes = new Map<string, number>();
    // Flip each bit of the blob; decrypt through real HTTP in parallel batches.
    const flips: Buffer[] = [];
    for (let bit = 0; bit < blob.length * 8; bit++) {
      const copy = Buffer.from(blob);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      flips.push(copy);
    }
    for (let i = 0; i < flips.length; i += 64) {
      const results = await Promise.all(flips.slice(i, i + 64).map((b) => decryptCode(b, { a: 'b' })));
      for (const code of results) codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect([...codes.keys()]).toEqual(['InvalidCiphertextException']);
    expect(codes.get('InvalidCiphertextException')).toBe(blob.length * 8);
  });

  it('fails truncated and extended blobs, and wrong contexts, without a fault', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('x') }),
    );
    const blob = Buffer.from(CiphertextBlob!);
    for (const len of [1, 2, 21, 22, 33, 34, 49, blob.length - 1]) {
      expect(await decryptCode(blob.subarray(0, len))).toBe('InvalidCiphertextException');
    }
    expect(await decryptCode(Buffer.concat([blob, Buffer.from([0])]))).toBe('InvalidCiphertextException');
    expect(await decryptCode(blob, { any: 'context' })).toBe('InvalidCiphertextException');
    expect(await decryptCode(Buffer.alloc(100, 0))).toBe('InvalidCiphertextException');
  });

  it("answers IncorrectKeyException when the blob is another key's and KeyId is given", async () => {
    const a = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const b = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: a.KeyId, Plaintext: Buffer.from('x') }));
    expect(await decryptCode(CiphertextBlob!, undefined, b.KeyId)).toBe('IncorrectKeyException');
    // Rewriting the key id inside the blob to another existing key breaks the authenticated header.
    const forged = Buffer.from(CiphertextBlob!);
    forged.write(b.KeyId!.replaceAll('-', ''), 2, 16, 'hex');
    expect(await decryptCode(forged)).toBe('InvalidCiphertextException');
    expect(await decryptCode(forged, undefined, b.KeyId)).toBe('InvalidCiphertextException');
  });

  it('logs no fault for any of it', () => {
    expect(server.logs.filter((l) => JSON.parse(l).level === 'error')).toEqual([]);
  });
});
