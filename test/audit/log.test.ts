// The audit log on real files: hash chain, group commit, segment rotation, restarts, torn tails, write failures.
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AuditEvent, AuditLog, type AuditRecord, listSegments } from '../../src/audit/index.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { AppError } from '../../src/core/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { tempDir } from '../support/server.js';

const GENESIS = '0'.repeat(64);
const dirs: string[] = [];
const logLines: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  logLines.length = 0;
});

function newDir(): string {
  const d = tempDir('keysafe-audit-');
  dirs.push(d);
  return join(d, 'audit');
}

function openLog(dir: string, maxSegmentBytes = 1 << 20): Promise<AuditLog> {
  return AuditLog.open({ dir, maxSegmentBytes, sync: true, logger: createLogger('debug', (l) => logLines.push(l)) });
}

function event(i: number): AuditEvent {
  return {
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    requestId: `req-${i}`,
    source: '127.0.0.1',
    identity: { type: 'role', arn: 'arn:aws:sts::000000000000:assumed-role/web/s', role: 'web', subject: 'sa:web' },
    action: 'secretsmanager:GetSecretValue',
    resource: `arn:aws:secretsmanager:us-east-1:000000000000:secret:app/${i}`,
    decision: 'allow',
    outcome: 'success',
  };
}

/** Every complete line of every segment, oldest first. */
function allLines(dir: string): string[] {
  return listSegments(dir).flatMap((s) => readFileSync(s.path, 'utf8').split('\n').slice(0, -1));
}

const records = (dir: string) => allLines(dir).map((l) => JSON.parse(l) as AuditRecord);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Points the log's open segment descriptor at /dev/full: its next write fails with ENOSPC, as on a full disk. */
function fillDiskUnder(segmentPath: string): void {
  const target = realpathSync(segmentPath);
  const fd = readdirSync('/proc/self/fd')
    .map(Number)
    .find((n) => {
      try {
        return readlinkSync(`/proc/self/fd/${n}`) === target;
      } catch {
        return false;
      }
    });
  expect(fd, 'the log keeps its segment open').toBeDefined();
  closeSync(fd!);
  // open() takes the lowest free descriptor: the one just closed. If something else took it, the
  // log's descriptor stays closed and its write fails with EBADF instead: a write failure either way.
  const full = openSync('/dev/full', 'a');
  if (full !== fd) closeSync(full);
}

describe('audit log', () => {
  it('chains each record to the one before: seq counts from 1, the first prev is 64 zeros', async () => {
    const dir = newDir();
    const log = await openLog(dir);
    for (let i = 1; i <= 5; i++) await log.append(event(i));
    await log.close();
    const rs = records(dir);
    expect(rs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(rs[0]!.prev).toBe(GENESIS);
    for (let i = 1; i < rs.length; i++) expect(rs[i]!.prev).toBe(rs[i - 1]!.hash);
    expect(rs[2]).toMatchObject({ ...event(3), seq: 3 });
    expect(new Set(rs.map((r) => r.hash)).size).toBe(5);
  });

  it("hashes each line with SHA-256 over its bytes up to ',\"hash\"' (closed with '}')", async () => {
    const dir = newDir();
    const log = await openLog(dir);
    await log.append(event(1));
    await log.append(event(2));
    await log.close();
    for (const line of allLines(dir)) {
      const at = line.indexOf(',"hash":"');
      expect(at).toBeGreaterThan(0);
      const { hash } = JSON.parse(line) as AuditRecord;
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(sha256(`${line.slice(0, at)}}`)).toBe(hash);
      // The hash is the last field: nothing after it but the closing brace.
      expect(line.slice(at)).toBe(`,"hash":"${hash}"}`);
    }
  });

  it('writes hundreds of concurrent appends in call order, resolves them all, and shares fsyncs', async () => {
    const dir = newDir();
    const log = await openLog(dir);
    await log.append(event(0));
    // Count real fsyncs (the call goes through to the file).
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const syncs = vi.spyOn(proto, 'datasync');
    try {
      const n = 400;
      const settled = await Promise.allSettled(Array.from({ length: n }, (_, i) => log.append(event(i + 1))));
      expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(n);
      expect(syncs.mock.calls.length).toBeGreaterThanOrEqual(1);
      expect(syncs.mock.calls.length).toBeLessThan(n / 4);
    } finally {
      syncs.mockRestore();
    }
    await log.close();
    const rs = records(dir);
    expect(rs).toHaveLength(401);
    expect(rs.map((r) => r.requestId)).toEqual(Array.from({ length: 401 }, (_, i) => `req-${i}`));
    expect(rs.map((r) => r.seq)).toEqual(Array.from({ length: 401 }, (_, i) => i + 1));
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 401 });
  });

  it('rotates to a new segment at maxSegmentBytes and carries the chain across files', async () => {
    const dir = newDir();
    const log = await openLog(dir, 4096);
    for (let i = 1; i <= 60; i++) await log.append(event(i));
    await log.close();
    const segments = listSegments(dir);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    for (const s of segments.slice(0, -1)) {
      const size = readFileSync(s.path).length;
      expect(size).toBeGreaterThanOrEqual(4096);
      // A segment closes at the first commit that reaches the limit, so it overshoots by under one record.
      expect(size).toBeLessThan(4096 + 600);
    }
    // Each segment's first record links to the last record of the one before.
    for (let k = 1; k < segments.length; k++) {
      const before = readFileSync(segments[k - 1]!.path, 'utf8')
        .trimEnd()
        .split('\n')
        .at(-1)!;
      const first = readFileSync(segments[k]!.path, 'utf8').split('\n')[0]!;
      expect((JSON.parse(first) as AuditRecord).prev).toBe((JSON.parse(before) as AuditRecord).hash);
    }
    expect(records(dir).map((r) => r.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 60, firstSeq: 1, lastSeq: 60 });
    expect((verifyAuditLog(dir) as { segments: number }).segments).toBe(segments.length);
  });

  it('continues seq and prev after a restart', async () => {
    const dir = newDir();
    const first = await openLog(dir);
    for (let i = 1; i <= 3; i++) await first.append(event(i));
    await first.close();
    const second = await openLog(dir);
    await second.append(event(4));
    await second.close();
    const rs = records(dir);
    expect(rs.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(rs[3]!.prev).toBe(rs[2]!.hash);
    expect(listSegments(dir)).toHaveLength(1);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 4 });
  });

  it('continues the chain from the segment before when the newest segment is empty at restart', async () => {
    const dir = newDir();
    const first = await openLog(dir, 4096);
    let i = 0;
    // Stop right after a rotation: the newest segment exists and is empty.
    while (listSegments(dir).length < 2 || readFileSync(listSegments(dir).at(-1)!.path).length > 0) {
      await first.append(event(++i));
    }
    await first.close();
    expect(readFileSync(listSegments(dir).at(-1)!.path, 'utf8')).toBe('');
    const second = await openLog(dir, 4096);
    await second.append(event(++i));
    await second.close();
    const rs = records(dir);
    expect(rs.map((r) => r.seq)).toEqual(Array.from({ length: i }, (_, k) => k + 1));
    expect(rs.at(-1)!.prev).toBe(rs.at(-2)!.hash);
    expect(readFileSync(listSegments(dir).at(-1)!.path, 'utf8').split('\n')).toHaveLength(2);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: i });
  });

  it('cuts a torn last line at open (a crash mid-write) and keeps the chain whole', async () => {
    const dir = newDir();
    const first = await openLog(dir);
    for (let i = 1; i <= 3; i++) await first.append(event(i));
    await first.close();
    const segment = listSegments(dir)[0]!.path;
    const whole = readFileSync(segment, 'utf8');
    // What a crash leaves: the start of record 4, no newline.
    appendFileSync(segment, '{"seq":4,"time":"2025-01-01T00:00:04.000Z","requestId":"req-');
    const second = await openLog(dir);
    expect(readFileSync(segment, 'utf8')).toBe(whole);
    expect(logLines.some((l) => l.includes('torn record'))).toBe(true);
    await second.append(event(4));
    await second.close();
    const rs = records(dir);
    expect(rs.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(rs[3]!.requestId).toBe('req-4');
    expect(rs[3]!.prev).toBe(rs[2]!.hash);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 4 });
  });

  it('refuses with ServiceUnavailableException while the log cannot be written, then recovers', async () => {
    const dir = newDir();
    const log = await openLog(dir);
    for (let i = 1; i <= 3; i++) await log.append(event(i));
    fillDiskUnder(listSegments(dir)[0]!.path);

    // The failing write, and every append queued behind it, are refused.
    const failed = await Promise.allSettled([log.append(event(4)), log.append(event(5)), log.append(event(6))]);
    for (const f of failed) {
      expect(f.status).toBe('rejected');
      expect((f as PromiseRejectedResult).reason).toBeInstanceOf(AppError);
      expect((f as PromiseRejectedResult).reason.code).toBe('ServiceUnavailableException');
    }
    expect(log.healthy).toBe(false);
    expect(logLines.some((l) => l.includes('audit log write failed'))).toBe(true);

    // Still broken: the newest "segment" is a directory, so reopening fails too.
    const blocker = join(dir, 'audit-000002.log');
    mkdirSync(blocker);
    await expect(log.ready()).rejects.toMatchObject({ code: 'ServiceUnavailableException' });
    await expect(log.append(event(7))).rejects.toMatchObject({ code: 'ServiceUnavailableException' });
    expect(log.healthy).toBe(false);

    // Repaired: ready() reopens, and the chain continues after the last record on disk.
    rmdirSync(blocker);
    await expect(log.ready()).resolves.toBeUndefined();
    expect(log.healthy).toBe(true);
    await log.append(event(8));
    await log.append(event(9));
    await log.close();
    const rs = records(dir);
    expect(rs.map((r) => [r.seq, r.requestId])).toEqual([
      [1, 'req-1'],
      [2, 'req-2'],
      [3, 'req-3'],
      [4, 'req-8'],
      [5, 'req-9'],
    ]);
    expect(rs[3]!.prev).toBe(rs[2]!.hash);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 5 });
  });

  it('restarts the chain at seq 1 from genesis when the very first write failed', async () => {
    const dir = newDir();
    const log = await openLog(dir);
    fillDiskUnder(listSegments(dir)[0]!.path);
    await expect(log.append(event(1))).rejects.toMatchObject({ code: 'ServiceUnavailableException' });
    await log.ready();
    await log.append(event(2));
    await log.close();
    const rs = records(dir);
    expect(rs.map((r) => [r.seq, r.prev, r.requestId])).toEqual([[1, GENESIS, 'req-2']]);
  });

  it('opens a segment file with mode 0600 in a directory it creates with 0700', async () => {
    const dir = newDir();
    const log = await openLog(dir);
    await log.append(event(1));
    await log.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(listSegments(dir)[0]!.path).mode & 0o777).toBe(0o600);
    writeFileSync(join(dir, 'notes.txt'), 'not a segment');
    expect(listSegments(dir).map((s) => s.n)).toEqual([1]);
  });
});
