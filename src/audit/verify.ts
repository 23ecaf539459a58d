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
 * archived away, the chain is checked from the first record present.
 */
export function verifyAuditLog(dir: string): VerifyResult {
  const segments = listSegments(dir);
  let prev: string | undefined;
  let seq: number | undefined;
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
      const at = { ...where, seq: record.seq };
      if (typeof record.seq !== 'number' || typeof record.hash !== 'string' || typeof record.prev !== 'string') {
        return { ok: false, ...at, reason: 'missing seq, prev or hash' };
      }
      if (seq !== undefined && record.seq !== seq + 1) {
        return { ok: false, ...at, reason: `sequence jumps from ${seq} to ${record.seq}` };
      }
      if (prev !== undefined ? record.prev !== prev : record.seq === 1 && record.prev !== GENESIS) {
        return { ok: false, ...at, reason: 'prev does not match the hash of the record before' };
      }
      const part = hashedPart(line);
      if (part === undefined || sha256Hex(part) !== record.hash) {
        return { ok: false, ...at, reason: 'hash does not match the record' };
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
    ...(seq !== undefined && { lastSeq: seq }),
    lastHash: prev ?? GENESIS,
    segments: segments.length,
  };
}
