// Acknowledged writes survive kill -9: keys created and ciphertexts returned before the kill still work.

import { rmSync } from 'node:fs';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../support/process.js';
import { kmsClient } from '../support/sdk.js';
import { tempDir } from '../support/server.js';

const dataDir = tempDir();
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('durability', () => {
  it('keeps every acknowledged CreateKey and Encrypt across SIGKILL', async () => {
    const first = await spawnServer(dataDir);
    const kms = kmsClient(first);
    const keyIds: string[] = [];
    const ciphertexts: { keyId: string; blob: Uint8Array; plaintext: string }[] = [];
    // A burst of concurrent writes; record only what was acknowledged.
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: `burst ${i}` }));
        keyIds.push(KeyMetadata!.KeyId!);
        const plaintext = `payload ${i}`;
        const enc = await kms.send(
          new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from(plaintext) }),
        );
        ciphertexts.push({ keyId: KeyMetadata!.KeyId!, blob: enc.CiphertextBlob!, plaintext });
      }),
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    kms.destroy();

    const second = await spawnServer(dataDir);
    const again = kmsClient(second);
    try {
      for (const id of keyIds) {
        expect((await again.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyState).toBe('Enabled');
      }
      for (const c of ciphertexts) {
        const dec = await again.send(new DecryptCommand({ CiphertextBlob: c.blob }));
        expect(Buffer.from(dec.Plaintext!).toString()).toBe(c.plaintext);
      }
      expect(keyIds).toHaveLength(40);
    } finally {
      again.destroy();
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });
});
