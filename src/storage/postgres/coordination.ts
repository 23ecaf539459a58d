// Replica coordination over one dedicated connection: LISTEN for the change triggers' NOTIFYs
// (migration 5), and a session advisory lock as the scheduler lease.
//
// The lease lives exactly as long as the connection: a replica that dies (even SIGKILL) closes
// its socket, PostgreSQL ends the session and the lock is free for the next replica's attempt.
// A lost connection is re-made with backoff; changes missed meanwhile are covered by `resync`.
import pg from 'pg';
import type { Coordination, StoreChange } from '../types.js';
import { LOCK_CLASS_SCHEDULER } from './pool.js';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

type Handlers = Parameters<Coordination['watch']>[0];

/** `kind:id` as the trigger sends it → the change, or undefined for a payload we do not know. */
export function parseChange(payload: string): StoreChange | undefined {
  const colon = payload.indexOf(':');
  const kind = colon < 0 ? payload : payload.slice(0, colon);
  const id = colon < 0 ? '' : payload.slice(colon + 1);
  switch (kind) {
    case 'key':
      return { kind, keyId: id };
    case 'alias':
      return { kind, name: id };
    case 'secret':
      return { kind, arn: id };
    case 'events':
    case 'auth':
      return { kind };
    default:
      return undefined;
  }
}

export class PgCoordination implements Coordination {
  readonly #connectionString: string;
  readonly #schema: string;
  readonly #channel: string;
  #client: pg.Client | undefined;
  #leading = false;
  #closed = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(connectionString: string, schema: string) {
    this.#connectionString = connectionString;
    this.#schema = schema;
    this.#channel = `keysafe:${schema}`;
  }

  watch(handlers: Handlers): Promise<void> {
    return new Promise((listening, failed) => {
      this.#loop = this.#run(handlers, listening, failed);
    });
  }

  async lead(): Promise<boolean> {
    const client = this.#client;
    if (!client) {
      this.#leading = false;
      return false;
    }
    try {
      if (this.#leading) {
        await client.query('SELECT 1'); // still connected, so still holding the lock
      } else {
        const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
          LOCK_CLASS_SCHEDULER,
          this.#schema,
        ]);
        this.#leading = rows[0]?.ok === true;
      }
    } catch {
      this.#leading = false;
      void client.end().catch(() => {}); // the run loop reconnects
    }
    return this.#leading;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#client?.end().catch(() => {});
    await this.#loop;
  }

  async #run(handlers: Handlers, listening: () => void, failed: (e: Error) => void): Promise<void> {
    let first = true;
    let retryMs = RETRY_MIN_MS;
    while (!this.#closed) {
      const client = new pg.Client({ connectionString: this.#connectionString, keepAlive: true });
      const ended = new Promise<void>((resolve) => {
        client.on('end', resolve);
        client.on('error', () => void client.end().catch(() => {}));
      });
      try {
        await client.connect();
        client.on('notification', (n) => {
          const change = n.channel === this.#channel && n.payload ? parseChange(n.payload) : undefined;
          if (change) handlers.change(change);
        });
        await client.query(`LISTEN ${pg.escapeIdentifier(this.#channel)}`);
        this.#client = client;
        retryMs = RETRY_MIN_MS;
        // Anything committed before LISTEN took effect may be cached: start from a clean slate.
        handlers.resync();
        if (first) listening();
        first = false;
        await ended;
      } catch (e) {
        await client.end().catch(() => {});
        if (first) {
          this.#closed = true;
          failed(e as Error);
          return;
        }
      }
      this.#client = undefined;
      this.#leading = false;
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
  }
}
