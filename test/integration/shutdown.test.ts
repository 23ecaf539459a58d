// Graceful shutdown: SIGTERM lets a request already in flight finish, then the server exits 0.
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../support/process.js';
import { tempDir } from '../support/server.js';

const dataDir = tempDir();
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('graceful shutdown', () => {
  it('answers a request that arrived before SIGTERM, refuses new connections, and exits 0', async () => {
    const server = await spawnServer(dataDir);
    const port = Number(new URL(server.url).port);
    const body = JSON.stringify({ NumberOfBytes: 16 });
    const socket = connect(port, '127.0.0.1');
    await new Promise((ok) => socket.once('connect', ok));
    let answer = '';
    socket.on('data', (d) => {
      answer += d;
    });
    const closed = new Promise((ok) => socket.once('close', ok));
    // Headers and half the body: the request is in flight when the signal arrives.
    socket.write(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: TrentService.GenerateRandom\r\n` +
        `Authorization: Bearer ${server.admin.token}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    // Like a real HTTP client, keep our side open: the server closes the connection once it answered.
    socket.write(body.slice(5));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('"Plaintext"');
    expect(await server.exited).toBe(0);
  });
});
