// The agent's server client: a secret ID from a local caller never steers the request to another server route.
import { createServer, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newAgentKeyPair, ServerClient } from '../../src/agent/client.js';
import { AppError } from '../../src/core/errors.js';

const seen: string[] = [];
const server = createServer((req: IncomingMessage, res) => {
  seen.push(req.url ?? '');
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"__type":"ResourceNotFoundException"}');
});
let url: string;
beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

it.each(['../watch', '..', '.', 'app/../../admin/roles', 'a/./b'])(
  'refuses the secret ID %j without sending anything',
  async (id) => {
    const client = new ServerClient([url], await newAgentKeyPair());
    seen.length = 0;
    const error = await client.getSecret('session-token', id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('InvalidParameterException');
    expect(seen).toEqual([]);
  },
);

it('still sends names with dots inside a segment, and encodes the rest', async () => {
  const client = new ServerClient([url], await newAgentKeyPair());
  seen.length = 0;
  await client.getSecret('session-token', 'app/..db/v1.2/a b').catch(() => undefined);
  expect(seen).toEqual(['/v1/secrets/app/..db/v1.2/a%20b']);
});
