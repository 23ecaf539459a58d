// verifyAuditLog on real segment files: a whole chain passes; each kind of tampering is named at its record.
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditEvent, AuditLog, type AuditRecord, listSegments } from '../../src/audit/index.js';
import { type VerifyResult, verifyAuditLog } from '../../src/audit/verify.js';
import { createLogger } from '../../src/observability/logger.js';
import { tempDir } from '../support/server.js';

let root: string;
let dir: string;

beforeEach(() => {
  root = tempDir('keysafe-verify-');
  dir = join(root, 'audit');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function event(i: number): AuditEvent {
  return {
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    requestId: `req-${i}`,
    source: '127.0.0.1',
    identity: { type: 'admin', arn: 'arn:aws:iam::000000000000:root' },
    action: 'kms:Encrypt',
    resource: `arn:aws:kms:us-east-1:000000000000:key/k-${i}`,
    decision: 'allow',
    outcome: 'success',
  };
}

async function writeLog(n: number, maxSegmentBytes = 1 << 20): Promise<void> {
  const log = await AuditLog.open({ dir, maxSegmentBytes, sync: false, logger: createLogger('error', () => {}) });
  for (let i = 1; i <= n; i++) await log.append(event(i));
  await log.close();
}

const segment = (n = 1) => listSegments(dir).find((s) => s.n === n)!.path;
const linesOf = (path: string) => readFileSync(path, 'utf8').split('\n').slice(0, -1);
const writeLines = (path: string, lines: string[]) => writeFileSync(path, `${lines.map((l) => `${l}\n`).join('')}`);

/** Flips one byte of line `k` (1-based) of `path` at the first occurrence of `needle` (plus `offset`). */
function flipByte(path: string, k: number, needle: string, offset = 0): void {
  const bytes = readFileSync(path);
  let start = 0;
  for (let line = 1; line < k; line++) start = bytes.indexOf(0x0a, start) + 1;
  const at = bytes.indexOf(needle, start) + offset;
  expect(at - offset).toBeGreaterThanOrEqual(start);
  expect(at).toBeLessThan(bytes.indexOf(0x0a, start));
  // Swap one hex digit / letter for another so the line stays valid JSON: only the chain can tell.
  const c = bytes[at]!;
  bytes[at] = c === 0x30 ? 0x31 : c === 0x61 ? 0x62 : c >= 0x30 && c <= 0x39 ? c - 1 : c === 0x41 ? 0x42 : 0x61;
  expect(bytes[at]).not.toBe(c);
  writeFileSync(path, bytes);
}

function broken(r: VerifyResult) {
  expect(r.ok).toBe(false);
  return r as Extract<VerifyResult, { ok: false }>;
}

describe('audit verify', () => {
  it('passes a whole log and reports its records, range and last hash', async () => {
    await writeLog(10);
    const last = JSON.parse(linesOf(segment()).at(-1)!) as AuditRecord;
    expect(verifyAuditLog(dir)).toEqual({
      ok: true,
      records: 10,
      firstSeq: 1,
      lastSeq: 10,
      lastHash: last.hash,
      segments: 1,
    });
  });

  it('passes a log whose older records have no region and newer ones do (a field added keeps the chain)', async () => {
    await writeLog(2);
    const log = await AuditLog.open({
      dir,
      maxSegmentBytes: 1 << 20,
      sync: false,
      logger: createLogger('error', () => {}),
    });
    await log.append({ ...event(3), region: 'eu-west-1' });
    await log.close();
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 3 });
    expect(JSON.parse(linesOf(segment()).at(-1)!)).toMatchObject({ seq: 3, region: 'eu-west-1' });
    flipByte(segment(), 3, 'eu-west-1');
    expect(broken(verifyAuditLog(dir))).toMatchObject({ ok: false });
  });

  it('passes an empty log', async () => {
    await writeLog(0);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 0, segments: 1 });
  });

  it.each([
    ['a value (the action)', '"action":"kms:', 11],
    ['a value (the time)', '"time":"2025-01-01T00:00:0', 26],
    ['the prev', '"prev":"', 20],
    ['the hash', '"hash":"', 30],
    ['the seq', '"seq":', 6],
  ])('names the exact record when one byte of %s is changed on disk', async (_field, needle, offset) => {
    await writeLog(9);
    flipByte(segment(), 6, needle, offset);
    const r = broken(verifyAuditLog(dir));
    expect(r).toMatchObject({ file: 'audit-000001.log', line: 6, seq: 6, records: 5 });
  });

  it('names the record after a deleted line as a sequence jump', async () => {
    await writeLog(8);
    const lines = linesOf(segment());
    lines.splice(4, 1); // record 5
    writeLines(segment(), lines);
    const r = broken(verifyAuditLog(dir));
    expect(r).toMatchObject({ line: 5, seq: 6, records: 4 });
    expect(r.reason).toMatch(/sequence jumps from 4 to 6/);
  });

  it('names a deleted first record: with the first segment present the chain starts at seq 1', async () => {
    await writeLog(4);
    writeLines(segment(), linesOf(segment()).slice(1));
    const r = broken(verifyAuditLog(dir));
    expect(r).toMatchObject({ line: 1, seq: 2, records: 0 });
    expect(r.reason).toBe('the log starts at seq 2, not 1');
  });

  it('names the first of two swapped lines', async () => {
    await writeLog(8);
    const lines = linesOf(segment());
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    writeLines(segment(), lines);
    const r = broken(verifyAuditLog(dir));
    expect(r).toMatchObject({ line: 3, seq: 4, records: 2 });
    expect(r.reason).toMatch(/sequence/);
  });

  it('names a record whose every field is intact but whose link to the one before is not', async () => {
    await writeLog(5);
    const lines = linesOf(segment());
    // Record 3 rewritten consistently (its own hash recomputed) over a forged prev.
    const r3 = JSON.parse(lines[2]!) as AuditRecord;
    const body = JSON.stringify({ ...r3, prev: 'f'.repeat(64), hash: undefined });
    const forged = `${body.slice(0, -1)},"hash":"${createHash('sha256').update(body).digest('hex')}"}`;
    lines[2] = forged;
    writeLines(segment(), lines);
    const r = broken(verifyAuditLog(dir));
    expect(r).toMatchObject({ line: 3, seq: 3, reason: 'prev does not match the hash of the record before' });
  });

  it('names a line that is not JSON at its position', async () => {
    await writeLog(4);
    const lines = linesOf(segment());
    lines[1] = lines[1]!.slice(0, 40);
    writeLines(segment(), lines);
    expect(broken(verifyAuditLog(dir))).toMatchObject({ line: 2, seq: 2, reason: 'not valid JSON' });
  });

  it('skips a partial last line: a record being written while the server runs', async () => {
    await writeLog(4);
    appendFileSync(segment(), '{"seq":5,"time":"2025-01-01T00:00:05.000Z","requ');
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 4, lastSeq: 4 });
  });

  it('checks the chain across several segments, and names a record in a later one', async () => {
    await writeLog(50, 4096);
    const segments = listSegments(dir);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 50, segments: segments.length });
    const second = segments[1]!;
    const firstSeqThere = (JSON.parse(linesOf(second.path)[0]!) as AuditRecord).seq;
    flipByte(second.path, 2, '"action":"kms:', 11);
    expect(broken(verifyAuditLog(dir))).toMatchObject({
      file: 'audit-000002.log',
      line: 2,
      seq: firstSeqThere + 1,
      records: firstSeqThere,
    });
  });

  it('names a segment boundary where the last record of the segment before was removed', async () => {
    await writeLog(50, 4096);
    const first = segment(1);
    const lines = linesOf(first);
    const dropped = JSON.parse(lines.pop()!) as AuditRecord;
    writeLines(first, lines);
    expect(broken(verifyAuditLog(dir))).toMatchObject({ file: 'audit-000002.log', line: 1, seq: dropped.seq + 1 });
  });

  it('checks from the first record present when older segments were archived away', async () => {
    await writeLog(50, 4096);
    const segments = listSegments(dir);
    unlinkSync(segments[0]!.path);
    const firstLeft = JSON.parse(linesOf(segments[1]!.path)[0]!) as AuditRecord;
    expect(firstLeft.seq).toBeGreaterThan(1);
    expect(verifyAuditLog(dir)).toMatchObject({
      ok: true,
      records: 50 - firstLeft.seq + 1,
      firstSeq: firstLeft.seq,
      lastSeq: 50,
    });
    // Still a chain: tampering after the archive point is found.
    flipByte(segments[1]!.path, 3, '"prev":"', 20);
    expect(broken(verifyAuditLog(dir))).toMatchObject({ file: 'audit-000002.log', line: 3, seq: firstLeft.seq + 2 });
  });

  it('reports a closed segment that ends in a partial record', async () => {
    await writeLog(50, 4096);
    appendFileSync(segment(1), '{"seq":');
    expect(broken(verifyAuditLog(dir))).toMatchObject({
      file: 'audit-000001.log',
      reason: 'a closed segment ends in a partial record',
    });
  });
});
