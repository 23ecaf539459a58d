// A TCP proxy between the agent and the server that injects network faults: delayed responses, and
// watch streams cut every few seconds.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class FaultProxy {
  /** Every byte from the server reaches the client this much later (order kept). */
  delayMs = 0;
  /** How many of the next requests other than watches are answered late, and how late. */
  #slowFetches = { count: 0, ms: 0 };
  /** While true, requests other than watches are answered with a connection reset. */
  resetFetches = false;
  #server: Server | undefined;
  readonly #watches = new Set<Socket>();
  readonly #sockets = new Set<Socket>();
  #cutter: NodeJS.Timeout | undefined;
  /** How many watch connections were cut. */
  cuts = 0;
  /** Watch connections that get nothing more from the server, yet stay open (a half-open TCP). */
  readonly #silenced = new Set<Socket>();

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<string> {
    this.#server = createServer((client) => this.#connect(client));
    await new Promise<void>((ok) => this.#server!.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  #connect(client: Socket): void {
    const upstream = createConnection(this.target);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    let releaseAt = 0;
    /** The delay for the response to the request under way on this connection. */
    let requestDelay = 0;
    client.on('data', (chunk: Buffer) => {
      // Requests on a kept-alive connection follow one another: each starts with its request line.
      const request = /^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(chunk.toString('latin1', 0, 200));
      if (chunk.includes('GET /v1/watch')) this.#watches.add(client);
      else if (request && !this.#watches.has(client)) {
        requestDelay = this.#slowFetches.count > 0 ? this.#slowFetches.ms : 0;
        if (this.#slowFetches.count > 0) this.#slowFetches.count--;
      }
      if (this.resetFetches && !this.#watches.has(client)) {
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.#silenced.has(client)) return;
      const delay = Math.max(this.delayMs, requestDelay);
      if (delay === 0 && releaseAt <= Date.now()) {
        client.write(chunk);
        return;
      }
      releaseAt = Math.max(releaseAt, Date.now() + delay);
      setTimeout(() => client.writable && client.write(chunk), releaseAt - Date.now());
    });
    const close = () => {
      this.#watches.delete(client);
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', () => setTimeout(close, Math.max(0, releaseAt - Date.now())));
    client.on('error', close);
    upstream.on('error', close);
  }

  /** Answers the next `count` requests other than watches (logins, fetches) `ms` late. */
  slowFetches(count: number, ms: number): void {
    this.#slowFetches = { count, ms };
  }

  /** Cuts every watch connection now and then each `everyMs` (undefined: stop cutting). */
  cutWatches(everyMs: number | undefined): void {
    clearInterval(this.#cutter);
    this.#cutter = undefined;
    if (everyMs === undefined) return;
    const cut = () => {
      for (const s of this.#watches) {
        this.cuts++;
        s.destroy();
      }
    };
    cut();
    this.#cutter = setInterval(cut, everyMs);
  }

  /** The server behind every open watch goes silent without closing, as after a power loss. */
  silenceWatches(): void {
    for (const s of this.#watches) this.#silenced.add(s);
  }

  async stop(): Promise<void> {
    this.cutWatches(undefined);
    for (const s of this.#sockets) s.destroy();
    await new Promise((ok) => this.#server?.close(ok));
  }
}
