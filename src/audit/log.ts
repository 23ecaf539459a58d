// The audit log: append-only JSON lines, each carrying the hash of the one before, group-committed.
//
// Files are `<dir>/audit-<n>.log` segments; a full segment is closed and the next one continues
// the chain (its first record's `prev` is the last hash of the one before), so rotating or
// archiving segments never breaks it. A record is
//   {"seq":…,"time":…,…,"prev":"<hex>","hash":"<hex>"}
// where `hash` = SHA-256 of the line's bytes up to the `,"hash"` field. Writes and fsyncs run off
// the event loop; every append in flight shares one fsync.
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { type FileHandle, open, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../core/errors.js';
import { sha256Hex } from '../crypto/index.js';
import type { Logger } from '../observability/logger.js';

/** What happened, as the server reports it: never a value, key material, token or claim set. */
export interface AuditEvent {
  time: string;
  requestId: string;
  source: string;
  identity: AuditIdentity;
  action: string;
  resource?: string;
  /** The region the request acted in (absent on records written before regions, and on STS calls). */
  region?: string;
  decision: 'allow' | 'deny' | 'none';
  /** 'success' or the error code answered. */
  outcome: string;
}

export interface AuditIdentity {
  type: 'admin' | 'role' | 'anonymous';
  arn?: string;
  role?: string;
  /** The workload's JWT `sub` (an identifier, not a secret). */
  subject?: string;
}

export interface AuditRecord extends AuditEvent {
  seq: number;
  prev: string;
  hash: string;
}

export const GENESIS = '0'.repeat(64);
const SEGMENT = /^audit-(\d{6,})\.log$/;
/** After a failed write, how often the log tries to recover without waiting for a request. */
const RECOVER_EVERY_MS = 1000;
/** Free space a failed log must find before it takes records again (see #recover). */
const PROBE_BYTES = 64 * 1024;
export const segmentName = (n: number): string => `audit-${String(n).padStart(6, '0')}.log`;

/** The segment files of `dir`, oldest first. */
export function listSegments(dir: string): { n: number; path: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ m: SEGMENT.exec(name), name }))
    .filter((x) => x.m !== null)
    .map((x) => ({ n: Number(x.m![1]), path: join(dir, x.name) }))
    .sort((a, b) => a.n - b.n);
}

/** The hashed part of a line: everything before `,"hash":"…"}`. */
export function hashedPart(line: string): string | undefined {
  const at = line.lastIndexOf(',"hash":"');
  return at < 0 ? undefined : `${line.slice(0, at)}}`;
}

export interface AuditLogOptions {
  dir: string;
  maxSegmentBytes: number;
  /** fsync every commit (default): an answered request's record survives a crash. */
  sync: boolean;
  logger: Logger;
}

interface Pending {
  line: string;
  seq: number;
  hash: string;
  done: () => void;
  fail: (e: Error) => void;
}

export class AuditLog {
  readonly #opts: AuditLogOptions;
  #segment = 1;
  #segmentBytes = 0;
  #seq = 0;
  #prev = GENESIS;
  /** The last record known to be on disk: where the chain resumes after a failed write. */
  #written = { seq: 0, hash: GENESIS };
  #file: FileHandle | undefined;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #failure: Error | undefined;
  #recovering: Promise<void> | undefined;
  #recoverTimer: NodeJS.Timeout | undefined;

  private constructor(opts: AuditLogOptions) {
    this.#opts = opts;
  }

  /** Opens the log, continuing the chain of the newest segment; a torn last line is cut off. */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const log = new AuditLog(opts);
    await log.#recover();
    return log;
  }

  /** False after a write failed, until a later append manages to reopen the log. */
  get healthy(): boolean {
    return this.#failure === undefined;
  }

  async #recover(): Promise<void> {
    mkdirSync(this.#opts.dir, { recursive: true, mode: 0o700 });
    // After a failure, reopening alone proves nothing: cutting a torn record frees a few bytes,
    // and the log would take requests only to fail the next write (a full disk made readiness
    // flap). Stay failed until there is room for some records.
    if (this.#failure) await probeSpace(join(this.#opts.dir, '.space-probe'));
    await this.#file?.close().catch(() => undefined);
    this.#file = undefined;
    const segments = listSegments(this.#opts.dir);
    const last = segments[segments.length - 1];
    if (last) {
      this.#segment = last.n;
      const text = readFileSync(last.path, 'utf8');
      const end = text.lastIndexOf('\n') + 1;
      if (end < text.length) {
        // A record torn by a crash was never acknowledged: drop it so the chain stays whole.
        await truncate(last.path, Buffer.byteLength(text.slice(0, end)));
        this.#opts.logger.warn('audit log: dropped a torn record at the end', { file: last.path });
      }
      const lines = text.slice(0, end).split('\n').filter(Boolean);
      const tail =
        lines[lines.length - 1] ?? (segments.length > 1 ? lastLineOf(segments[segments.length - 2]!.path) : undefined);
      if (tail) {
        const r = JSON.parse(tail) as AuditRecord;
        this.#written = { seq: r.seq, hash: r.hash };
      }
      this.#segmentBytes = statSync(last.path).size;
    }
    // With no record on disk to read back (a new log, or an empty newest segment whose older ones
    // were archived), resume after the last record written, never after one that failed.
    this.#seq = this.#written.seq;
    this.#prev = this.#written.hash;
    this.#file = await open(join(this.#opts.dir, segmentName(this.#segment)), 'a', 0o600);
    if (this.#failure) this.#opts.logger.info('audit log writable again; serving requests', { dir: this.#opts.dir });
    this.#failure = undefined;
    clearInterval(this.#recoverTimer);
    this.#recoverTimer = undefined;
  }

  /**
   * Resolves when the log can take records; after a failed write it first tries to reopen the
   * log, and rejects with ServiceUnavailableException if it still cannot: requests are refused
   * rather than served unrecorded.
   */
  ready(): Promise<void> {
    if (!this.#failure) return Promise.resolve();
    this.#recovering ??= this.#recover().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering.catch(() => Promise.reject(unavailable()));
  }

  /** Appends one record; resolves once it is written (and fsynced, with `sync`). */
  append(event: AuditEvent): Promise<void> {
    if (this.#failure) return this.ready().then(() => this.append(event));
    const seq = ++this.#seq;
    const body = JSON.stringify({ seq, ...event, prev: this.#prev });
    const hash = sha256Hex(body);
    this.#prev = hash;
    const line = `${body.slice(0, -1)},"hash":"${hash}"}\n`;
    return new Promise<void>((done, fail) => {
      this.#queue.push({ line, seq, hash, done, fail });
      this.#flushing ??= this.#flush();
    });
  }

  /** Writes everything queued, in order, one fsync per batch. */
  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        const data = Buffer.from(batch.map((p) => p.line).join(''));
        // write(2) may write only part (ENOSPC after the file's last free page): a record half on
        // disk must not be acknowledged. Write the rest; if that fails, the batch fails.
        await writeAll(this.#file!, data);
        if (this.#opts.sync) await this.#file!.datasync();
        this.#segmentBytes += data.length;
        const last = batch[batch.length - 1]!;
        this.#written = { seq: last.seq, hash: last.hash };
        if (this.#segmentBytes >= this.#opts.maxSegmentBytes) await this.#nextSegment();
        for (const p of batch) p.done();
      } catch (e) {
        this.#failure = e as Error;
        this.#opts.logger.error('audit log write failed; refusing requests until it recovers', {
          error: (e as Error).message,
        });
        // What is queued behind the failure can't be chained on it: fail it too and re-read the tail.
        for (const p of [...batch, ...this.#queue]) p.fail(unavailable());
        this.#queue = [];
        // Recover without waiting for a request: a replica that is not ready gets none (its
        // readiness probe fails while the log is down), so it would never come back otherwise.
        this.#recoverTimer ??= setInterval(() => void this.ready().catch(() => undefined), RECOVER_EVERY_MS);
        this.#recoverTimer.unref();
      }
    }
    this.#flushing = undefined;
  }

  async #nextSegment(): Promise<void> {
    await this.#file!.close();
    this.#segment++;
    this.#segmentBytes = 0;
    this.#file = await open(join(this.#opts.dir, segmentName(this.#segment)), 'a', 0o600);
  }

  async close(): Promise<void> {
    clearInterval(this.#recoverTimer);
    this.#recoverTimer = undefined;
    await this.#recovering?.catch(() => undefined);
    await this.#flushing;
    await this.#file?.close().catch(() => undefined);
    this.#file = undefined;
  }
}

/** Writes all of `data` (FileHandle.write may write a part without an error), or throws. */
async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const { bytesWritten } = await fh.write(data, at);
    if (bytesWritten <= 0) throw new Error('audit log: the write made no progress');
    at += bytesWritten;
  }
}

/** Throws (ENOSPC, EROFS, …) unless `bytes` can be written at `path`; leaves no file behind. */
async function probeSpace(path: string, bytes = PROBE_BYTES): Promise<void> {
  const fh = await open(path, 'w', 0o600);
  try {
    await writeAll(fh, Buffer.alloc(bytes));
  } finally {
    await fh.close();
    await rm(path, { force: true });
  }
}

function lastLineOf(path: string): string | undefined {
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  return lines[lines.length - 1];
}

const unavailable = () =>
  new AppError('ServiceUnavailableException', 'The audit log cannot be written; the request was not served.');
