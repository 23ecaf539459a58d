// Grant lookup benchmark (issue 16): what an authorization decision pays to read a key's grants when
// the key has many, on SQLite.
//
//   npm run build && tsc -p tsconfig.bench.json && node build/bench/grant-lookup.js [grants] [rounds]
//
// The grants (default 200,000, each to its own grantee, half retirable by the account) are written
// straight into kms_grants: as data written before the quotas were enforced, or a worst case. Then
// the time of the decision's lookup for a caller holding none of them (a tenant listing keys it
// reaches by policy), and for one holding one grant, median and max over `rounds` calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../src/storage/index.js';

const GRANTS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 50);
const KEY = 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000001';
const ACCOUNT = ['arn:aws:iam::000000000000:root', '000000000000'];
const caller = (role: string) => [
  `arn:aws:iam::000000000000:role/${role}`,
  `arn:aws:sts::000000000000:assumed-role/${role}/s`,
];

function fill(path: string): void {
  const db = new Database(path);
  const insert = db.prepare(
    `INSERT INTO kms_grants (grant_id, key_arn, grantee_principal, retiring_principal, operations, created_at,
     issuing_account, fingerprint) VALUES (?, ?, ?, ?, '["Decrypt"]', 0, ?, 'f')`,
  );
  db.transaction(() => {
    for (let i = 0; i < GRANTS; i++) {
      const id = i.toString(16).padStart(64, '0');
      insert.run(id, KEY, `arn:aws:iam::000000000000:role/g${i}`, i % 2 === 0 ? ACCOUNT[0] : null, ACCOUNT[0]);
    }
  })();
  db.close();
}

async function time(label: string, call: () => Promise<unknown>): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = process.hrtime.bigint();
    await call();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  console.log(`${label}: median ${ms[ms.length >> 1]!.toFixed(3)} ms, max ${ms[ms.length - 1]!.toFixed(3)} ms`);
}

const dir = mkdtempSync(join(tmpdir(), 'grant-lookup-'));
try {
  const path = join(dir, 'keysafe.db');
  await (await openStore(`sqlite:${path}`)).close(); // creates the schema
  fill(path);
  const store = await openStore(`sqlite:${path}`);
  console.log(`${GRANTS} grants on one key, ${ROUNDS} lookups each`);
  await time('caller with no grant', () => store.kms.grantsFor(KEY, [...caller('none'), ...ACCOUNT], 2000));
  await time('caller with one grant', () => store.kms.grantsFor(KEY, [...caller('g7'), ...ACCOUNT], 2000));
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
