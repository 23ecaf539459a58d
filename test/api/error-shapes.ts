// The harness both error-shape tests share: each (operation, error) of a botocore model has a way in a table
// (a request producing it, or why it cannot occur), and each produced one is answered so by the real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, type ErrorCode } from '../../src/core/errors.js';
import { statusOf } from '../../src/core/http-errors.js';
import { botocoreModel, errorsOf } from '../support/botocore-models.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { postRaw, signJsonRequest } from '../support/sigv4.js';

/** A request's input, made from the fixtures. */
export type Produce<F> = (f: F) => object;
export type Way<F> = { produce: Produce<F> } | { never: string };
/** An admin call on the server: `target` is `TrentService.X` or `secretsmanager.X`. */
export type Call = (target: string, input: object) => Promise<{ status: number; type: string; text: string }>;

export interface ErrorShapeTable<F> {
  service: 'kms' | 'secretsmanager';
  target: 'TrentService' | 'secretsmanager';
  /** Operations left out: refused ones and issue 16's "not yet" list. */
  skip: (op: string) => boolean;
  wayOf: (op: string, error: string) => Way<F> | undefined;
  /** Makes the fixtures on the fresh server. */
  fixtures: (call: Call) => Promise<F>;
}

export function describeErrorShapes<F>(table: ErrorShapeTable<F>): void {
  const model = botocoreModel(table.service);
  const operations = Object.keys(model.operations).filter((op) => !table.skip(op));
  const pairs = operations.flatMap((op) => errorsOf(model, op).map((error) => [op, error] as const));

  describe(`the ${table.service} error shapes of the model`, () => {
    it('each has a way in the table: a request producing it, or why it cannot occur', () => {
      expect(pairs.filter(([op, e]) => table.wayOf(op, e) === undefined).map((p) => p.join(' '))).toEqual([]);
    });

    it('each one produced is an error code Keysafe knows, with the status AWS answers it with', () => {
      for (const [op, error] of pairs) {
        if (!('produce' in table.wayOf(op, error)!)) continue;
        const status = statusOf(new AppError(error as ErrorCode, ''));
        expect(status, `${op} ${error}`).toBe(model.shapes[error]!.fault ? 500 : 400);
      }
    });
  });

  describe(`the ${table.service} error shapes, produced by the real server`, () => {
    let server: TestServer;
    let f: F;
    const call: Call = async (target, input) => {
      const body = JSON.stringify(input);
      const headers = await signJsonRequest(server.url, server.admin, target, body);
      const { status, text } = await postRaw(server.url, headers, body);
      return { status, type: String((JSON.parse(text) as { __type?: string }).__type), text };
    };
    beforeAll(async () => {
      server = await startTestServer();
      f = await table.fixtures(call);
    });
    afterAll(() => server.stop());

    const produced = pairs.filter(([op, e]) => {
      const way = table.wayOf(op, e);
      return way !== undefined && 'produce' in way;
    });
    it.each(produced)('%s answers %s', async (op, error) => {
      const way = table.wayOf(op, error) as { produce: Produce<F> };
      const answer = await call(`${table.target}.${op}`, way.produce(f));
      expect(answer.type, answer.text).toBe(error);
      expect(answer.status).toBe(400);
    });
  });
}

/** An admin call that must succeed: its JSON answer. */
export async function succeed(call: Call, target: string, input: object) {
  const a = await call(target, input);
  expect(a.status, a.text).toBe(200);
  return JSON.parse(a.text) as Record<string, unknown> & { KeyMetadata: { KeyId: string } };
}
