// HTTP/1.1 keep-alive load generator, run as a child process so that client and server never share
// an event loop. It speaks HTTP over raw sockets: one request in flight per connection, a fixed
// pre-serialised request or a random one of a pre-serialised list (or one SigV4-signed per
// request), Content-Length or chunked responses.
// A raw client costs a few µs per request, far less than node:http's client, so the figures
// measure the server rather than the load generator (its own CPU use is reported alongside).
import { createHash, createHmac } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  type Command,
  type LoadTarget,
  type RunCommand,
  type RunResult,
  SIGNER_UNAVAILABLE,
  type SigV4Signing,
} from './loadgen-protocol.js';

type Signer = (target: LoadTarget) => Promise<Record<string, string>>;

const CRLFCRLF = Buffer.from('\r\n\r\n');

function serialise(path: string, headers: Record<string, string>, body: Buffer, method = 'POST'): Buffer {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  head +=
    (method === 'GET' || method === 'HEAD') && body.length === 0 ? '\r\n' : `content-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** node:crypto behind the @smithy Checksum interface (what @smithy/hash-node does). */
class NodeSha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

async function makeSigner(s: SigV4Signing): Promise<Signer> {
  // @smithy/signature-v4 is a devDependency; imported lazily so the Bearer figures never need it.
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const signer = new SignatureV4({
    service: s.service,
    region: s.region,
    credentials: {
      accessKeyId: s.accessKeyId,
      secretAccessKey: s.secretAccessKey,
      ...(s.sessionToken !== undefined && { sessionToken: s.sessionToken }),
    },
    sha256: NodeSha256,
  });
  return async (target) => {
    const signed = await signer.sign({
      method: target.method ?? 'POST',
      protocol: 'http:',
      hostname: target.host,
      port: target.port,
      path: target.path ?? '/',
      query: {},
      headers: { ...target.headers },
      body: target.body,
    });
    return signed.headers as Record<string, string>;
  };
}

interface Parsed {
  status: number;
  body: Buffer;
  /** Offset just past this response. */
  next: number;
}

/** One complete response from the start of `buf`, or null when more bytes are needed. */
function parseResponse(buf: Buffer): Parsed | null {
  const headEnd = buf.indexOf(CRLFCRLF);
  if (headEnd < 0) return null;
  const head = buf.toString('latin1', 0, headEnd).toLowerCase();
  const status = Number(head.slice(9, 12));
  const bodyStart = headEnd + 4;
  const cl = head.indexOf('\r\ncontent-length:');
  if (cl >= 0) {
    const lineEnd = head.indexOf('\r\n', cl + 2);
    const length = Number(head.slice(cl + 17, lineEnd < 0 ? undefined : lineEnd).trim());
    const next = bodyStart + length;
    if (buf.length < next) return null;
    return { status, body: buf.subarray(bodyStart, next), next };
  }
  if (head.includes('\r\ntransfer-encoding: chunked')) {
    const parts: Buffer[] = [];
    let pos = bodyStart;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(buf.toString('latin1', pos, lineEnd), 16);
      pos = lineEnd + 2;
      if (size === 0) {
        // No trailers from our servers: the terminating CRLF follows directly.
        const end = buf.indexOf('\r\n', pos);
        if (end < 0) return null;
        return { status, body: Buffer.concat(parts), next: end + 2 };
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
  }
  return { status, body: Buffer.alloc(0), next: bodyStart };
}

async function run(cmd: RunCommand): Promise<RunResult> {
  const { target } = cmd;
  let sign: Signer | undefined;
  try {
    sign = cmd.sigv4 ? await makeSigner(cmd.sigv4) : undefined;
  } catch (e) {
    return {
      type: 'result',
      id: cmd.id,
      requests: 0,
      seconds: 0,
      reqPerSec: 0,
      p50Ms: Number.NaN,
      p90Ms: Number.NaN,
      p99Ms: Number.NaN,
      maxMs: Number.NaN,
      errors: 1,
      firstError: `${SIGNER_UNAVAILABLE}: ${(e as Error).message}`,
      clientCpuMs: 0,
      reconnects: 0,
    };
  }
  const texts = target.bodies?.length ? target.bodies : [target.body];
  const bodies = texts.map((t) => Buffer.from(t, 'utf8'));
  const path = target.path ?? '/';
  const method = target.method ?? 'POST';
  // Random paths (one body) or random bodies (one path): one pre-serialised request per choice.
  const paths = target.paths?.length ? target.paths : undefined;
  const requests = paths
    ? paths.map((p) => serialise(p, target.headers, bodies[0]!, method))
    : bodies.map((b) => serialise(path, target.headers, b, method));

  let latencies = new Float64Array(1 << 18);
  let count = 0;
  let recording = false;
  let stopping = false;
  let errors = 0;
  let reconnects = 0;
  let firstError: string | undefined;
  let sampleBody: string | undefined;
  let inFlight = 0;
  let onDrained: (() => void) | undefined;

  const fail = (what: string) => {
    errors++;
    firstError ??= what;
  };

  const record = (ms: number) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
  };

  function open(): void {
    const socket: Socket = connect({ host: target.host, port: target.port, noDelay: true });
    let pending: Buffer | null = null;
    let sentAt = 0;
    let busy = false;
    let closed = false;

    const send = async () => {
      if (stopping || closed) return;
      busy = true;
      inFlight++;
      const pick = requests.length === 1 ? 0 : Math.floor(Math.random() * requests.length);
      let bytes = requests[pick]!;
      if (sign) {
        try {
          bytes = paths
            ? serialise(paths[pick]!, await sign({ ...target, path: paths[pick]! }), bodies[0]!, method)
            : serialise(
                path,
                await sign(texts.length === 1 ? target : { ...target, body: texts[pick]! }),
                bodies[pick]!,
                method,
              );
        } catch (e) {
          fail(`signing failed: ${(e as Error).message}`);
          stopping = true;
          done();
          return;
        }
      }
      sentAt = performance.now();
      socket.write(bytes);
    };

    const done = () => {
      busy = false;
      inFlight--;
      if (stopping && inFlight === 0) onDrained?.();
    };

    socket.on('connect', () => void send());
    socket.on('data', (chunk: Buffer) => {
      pending = pending ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        const res = parseResponse(pending);
        if (!res) return;
        const now = performance.now();
        if (res.status !== 200) fail(`HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
        else {
          sampleBody ??= res.body.toString('utf8');
          if (recording) record(now - sentAt);
        }
        pending = res.next < pending.length ? pending.subarray(res.next) : null;
        done();
        void send();
        if (!pending) return;
      }
    });
    socket.on('error', (e) => fail(`socket: ${e.message}`));
    socket.on('close', () => {
      closed = true;
      if (busy) done();
      if (!stopping && errors < 1000) {
        reconnects++;
        open();
      }
    });
    sockets.push(socket);
  }

  const sockets: Socket[] = [];
  for (let i = 0; i < cmd.connections; i++) open();

  await sleep(cmd.warmupMs);
  recording = true;
  process.send?.({ type: 'window', id: cmd.id, phase: 'start' });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(cmd.durationMs);
  recording = false;
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  process.send?.({ type: 'window', id: cmd.id, phase: 'end' });
  stopping = true;
  if (inFlight > 0) {
    await Promise.race([new Promise<void>((ok) => (onDrained = ok)), sleep(2000)]);
  }
  for (const s of sockets) s.destroy();

  const sorted = latencies.subarray(0, count).sort();
  const pct = (p: number) => (count === 0 ? Number.NaN : sorted[Math.min(count - 1, Math.floor(p * count))]!);
  const seconds = (t1 - t0) / 1000;
  const result: RunResult = {
    type: 'result',
    id: cmd.id,
    requests: count,
    seconds,
    reqPerSec: count / seconds,
    p50Ms: pct(0.5),
    p90Ms: pct(0.9),
    p99Ms: pct(0.99),
    maxMs: count === 0 ? Number.NaN : sorted[count - 1]!,
    errors,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    reconnects,
  };
  if (firstError !== undefined) result.firstError = firstError;
  if (sampleBody !== undefined) result.sampleBody = sampleBody;
  return result;
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

process.on('message', (msg: Command) => {
  if (msg.type === 'exit') {
    process.disconnect?.();
    return;
  }
  run(msg).then(
    (r) => process.send?.(r),
    (e: unknown) => {
      console.error('loadgen failed:', e);
      process.exit(1);
    },
  );
});
process.send?.({ type: 'ready' });
