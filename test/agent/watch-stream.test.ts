// The agent's change stream reader against a server writing server-sent events in every form the format
// allows: CRLF and CR line endings, `id:` fields, data over several lines, no space after the colon,
// comments, and events split across TCP writes anywhere (even between a CR and its LF).
import { createServer, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAgentKeyPair, ServerClient, type WatchMessage } from '../../src/agent/client.js';
import { TransientError } from '../../src/core/retry.js';

let respond: (res: ServerResponse) => Promise<void>;
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  void respond(res).then(() => res.end());
});
let url: string;
beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

/** Writes each piece as its own chunk, waiting for it to leave, so that the agent reads them apart. */
const writeApart = (pieces: string[]) => async (res: ServerResponse) => {
  for (const piece of pieces) {
    await new Promise<void>((ok) => res.write(piece, () => ok()));
    await new Promise((ok) => setTimeout(ok, 5));
  }
};

async function watchAll(): Promise<WatchMessage[]> {
  const client = new ServerClient([url], await newAgentKeyPair());
  const messages: WatchMessage[] = [];
  await client.watch('session-token', 3, async (m) => void messages.push(m), new AbortController().signal);
  return messages;
}

const change = (cursor: number) => ({
  cursor,
  type: 'PutSecretValue',
  name: `app/s${cursor}`,
  arn: `arn:aws:secretsmanager:us-east-1:000000000000:secret:app/s${cursor}-AbCdEf`,
  versionId: `v${cursor}`,
});

describe('the watch stream', () => {
  it('reads CRLF and CR line endings, id fields, multi-line data and fields without a space', async () => {
    const c4 = JSON.stringify(change(4));
    const c5 = JSON.stringify(change(5));
    respond = writeApart([
      ': ping\r\n\r\n',
      // hello's JSON over two data lines (joined with a newline, which JSON allows between tokens).
      'event: hello\r\ndata: {"cursor":3,\r\ndata: "heartbeatMs":15000}\r\n\r\n',
      `id: 4\r\nevent: change\r\ndata: ${c4}\r\n\r\n`,
      // CR alone ends lines too; and no space after the colon.
      `id:5\revent:change\rdata:${c5}\r\r`,
      // A message cut in the middle of a line, and between a CR and its LF.
      'event: res',
      'et\r',
      '\ndata: {"cursor":9}\r\nid: 9\r\n\r',
      '\n',
      // An event type the agent does not know, and an event without data: neither is a message.
      'event: future\ndata: {"cursor":10}\n\nevent: change\n\n',
    ]);
    expect(await watchAll()).toEqual([
      { kind: 'hello', cursor: 3, heartbeatMs: 15000 },
      { kind: 'change', event: change(4) },
      { kind: 'change', event: change(5) },
      { kind: 'reset', cursor: 9 },
    ]);
  });

  it('still reads the LF form the Keysafe server writes, one write per event or all in one chunk', async () => {
    const stream = [
      'event: hello\ndata: {"cursor":3,"heartbeatMs":15000}\n\n',
      `event: change\ndata: ${JSON.stringify(change(4))}\nid: 4\n\n`,
      ': ping\n\n',
    ];
    const expected = [
      { kind: 'hello', cursor: 3, heartbeatMs: 15000 },
      { kind: 'change', event: change(4) },
    ];
    respond = writeApart(stream);
    expect(await watchAll()).toEqual(expected);
    respond = writeApart([stream.join('')]);
    expect(await watchAll()).toEqual(expected);
  });

  it('gives up on an event whose data is not JSON, as a transient failure (the agent reconnects)', async () => {
    respond = writeApart(['event: change\r\ndata: {"cursor":\r\n\r\n']);
    await expect(watchAll()).rejects.toBeInstanceOf(TransientError);
  });
});
