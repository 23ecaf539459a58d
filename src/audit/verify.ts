// Checks an audit log's hash chain, segment by segment; names the first record that breaks it.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { sha256Hex } from '../crypto/index.js';
import { type AuditRecord, GENESIS, hashedPart, listSegments } from './log.js';

export type VerifyResult =
  | { ok: true; records: number; firstSeq?: number; lastSeq?: number; lastHash: string; segments: number }
  | { ok: false; file: string; line: number; seq?: number; reason: string; records: number };

/**
 * Verifies every segment in `dir`, oldest first. A last line without its newline is a record
 * being written right now (the server may be running) and is skipped. When older segments were
 * archived away (no audit-000001.log), the chain is checked from the first record present.
 */
export function verifyAuditLog(dir: string): VerifyResult {
  const segments = listSegments(dir);
  // With the first segment present the chain must start at seq 1 from genesis: only archiving
  // whole segments away, never cutting lines, lets it start later.
  const fromGenesis = segments[0]?.n === 1;
  let prev: string | undefined = fromGenesis ? GENESIS : undefined;
  let seq: number | undefined = fromGenesis ? 0 : undefined;
  let records = 0;
  let firstSeq: number | undefined;
  for (const [i, segment] of segments.entries()) {
    const text = readFileSync(segment.path, 'utf8');
    const lines = text.split('\n');
    const complete = lines.length - 1; // the part after the last '\n' is in progress (or empty)
    const isLast = i === segments.length - 1;
    for (let n = 0; n < complete; n++) {
      const line = lines[n]!;
      const where = { file: basename(segment.path), line: n + 1, records };
      let record: AuditRecord;
      try {
        record = JSON.parse(line) as AuditRecord;
      } catch {
        return { ok: false, ...where, ...(seq !== undefined && { seq: seq + 1 }), reason: 'not valid JSON' };
      }
      // A record that fails its own hash was changed, its seq field included: name the seq that
      // belongs at this position, not the (possibly forged) one written there.
      const expected = seq === undefined ? undefined : seq + 1;
      const seqHere = expected ?? (typeof record.seq === 'number' ? record.seq : undefined);
      const changed = { ...where, ...(seqHere !== undefined && { seq: seqHere }) };
      if (typeof record.seq !== 'number' || typeof record.hash !== 'string' || typeof record.prev !== 'string') {
        return { ok: false, ...changed, reason: 'missing seq, prev or hash' };
      }
      const part = hashedPart(line);
      if (part === undefined || sha256Hex(part) !== record.hash) {
        return { ok: false, ...changed, reason: 'hash does not match the record' };
      }
      // The record is intact as written: a break from here on is in its link to the one before.
      const at = { ...where, seq: record.seq };
      if (expected !== undefined && record.seq !== expected) {
        const reason =
          seq === 0 ? `the log starts at seq ${record.seq}, not 1` : `sequence jumps from ${seq} to ${record.seq}`;
        return { ok: false, ...at, reason };
      }
      if (prev !== undefined ? record.prev !== prev : record.seq === 1 && record.prev !== GENESIS) {
        return { ok: false, ...at, reason: 'prev does not match the hash of the record before' };
      }
      firstSeq ??= record.seq;
      prev = record.hash;
      seq = record.seq;
      records++;
    }
    if (!isLast && lines[complete] !== '') {
      return {
        ok: false,
        file: basename(segment.path),
        line: complete + 1,
        records,
        reason: 'a closed segment ends in a partial record',
      };
    }
  }
  return {
    ok: true,
    records,
    ...(firstSeq !== undefined && { firstSeq }),
    ...(records > 0 && { lastSeq: seq }),
    lastHash: prev ?? GENESIS,
    segments: segments.length,
  };
}
