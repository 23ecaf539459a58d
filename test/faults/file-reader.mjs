// A consumer of the agent's files, in a tight loop until STOP exists: every read must be one whole value.
//
// argv: <secrets dir> <stop file> (in the directory above it). The secret's value is
// {"v":N,"pad":"x"×3000} (db.json, raw) and "v<N>:<pad>:end" (db.url, template). Each iteration reads both visible paths, then both files inside
// one resolution of ..data (which must agree). A missing file (ENOENT: the directory was removed) is
// counted apart; anything else that is not a whole value is a violation. Prints one JSON summary.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [dir, stop] = process.argv.slice(2);
const PAD = 'x'.repeat(3000);
const s = { iterations: 0, versions: [], violations: [], violationCount: 0, missing: 0, last: -1 };
const seen = new Set();

const violation = (what) => {
  s.violationCount++;
  if (s.violations.length < 10) s.violations.push(what);
};

/** The version in a whole file, or undefined (and a violation) for anything else. */
function versionOf(name, text) {
  if (name === 'db.json') {
    try {
      const doc = JSON.parse(text);
      if (Number.isInteger(doc.v) && doc.pad === PAD && Object.keys(doc).length === 2) return doc.v;
    } catch {}
  } else {
    const m = /^v(\d+):(x*):end$/.exec(text);
    if (m && m[2] === PAD) return Number(m[1]);
  }
  violation(`${name}: ${text.length} bytes, not a whole value: ${JSON.stringify(text.slice(0, 40))}`);
  return undefined;
}

function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') {
      s.missing++;
      return undefined;
    }
    violation(`${path}: ${e.code ?? e.message}`);
    return undefined;
  }
}

function note(v) {
  if (v === undefined) return;
  seen.add(v);
  if (v < s.last) violation(`went back from v${s.last} to v${v}`);
  s.last = Math.max(s.last, v);
}

// Never outlive the test: stop also when the test's directory is gone, the parent died, or after 2 minutes.
const deadline = Date.now() + 120_000;
const parent = process.ppid;
const running = () =>
  !existsSync(stop) && existsSync(dirname(stop)) && process.ppid === parent && Date.now() < deadline;

while (running()) {
  if (s.iterations++ === 1) process.stdout.write('ready\n');
  for (const name of ['db.json', 'db.url']) {
    const text = read(join(dir, name));
    if (text !== undefined) note(versionOf(name, text));
  }
  let generation;
  try {
    generation = readlinkSync(join(dir, '..data'));
  } catch (e) {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') s.missing++;
    else violation(`..data: ${e.code}`);
    continue;
  }
  const a = read(join(dir, generation, 'db.json'));
  const b = read(join(dir, generation, 'db.url'));
  if (a === undefined || b === undefined) continue; // replaced twice meanwhile, or removed
  const va = versionOf('db.json', a);
  const vb = versionOf('db.url', b);
  if (va !== undefined && vb !== undefined && va !== vb) violation(`..data set mixed: v${va} and v${vb}`);
}
s.versions = [...seen].sort((x, y) => x - y);
process.stdout.write(`${JSON.stringify(s)}\n`);
