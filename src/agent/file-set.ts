// Atomic multi-file writes: all files of a directory switch together via the Kubernetes `..data` symlink swap.
//
// Layout of a managed directory (the AtomicWriter technique of kubelet's Secret/ConfigMap volumes):
//
//   <dir>/..2025_01_31_12_00_00.000_1a2b3c4d5e6f/   a generation: every file of the directory, complete
//   <dir>/..data -> ..2025_01_31_12_00_00.000_…      the current generation (relative link)
//   <dir>/<name> -> ..data/<name>                    what consumers open; created once (each on its own
//                                                    the first time), never rewritten
//
// A write builds a new generation (each file written, fsynced, chmod/chown'ed, then the directory fsynced),
// points a fresh `..data_tmp` link at it and renames that over `..data`: rename(2) is atomic, so at every
// instant `..data` names one complete generation. Hence:
//   - A reader opening `<dir>/<name>` gets one whole version, old or new: never partial or empty (nor
//     missing, unless the kernel's lookup of that one path spans two complete writes).
//   - A reader that needs SEVERAL files from one consistent set must resolve `<dir>/..data` once
//     (readlink) and read `<dir>/<that target>/<name>` for each file. Opening the visible paths one by one
//     may straddle a swap and mix versions. If a file inside the resolved generation is gone (ENOENT), the
//     set was replaced at least twice meanwhile: resolve `..data` again and start over.
// The generation just replaced is kept until the next write that changes the directory (so a reader that
// resolved `..data` right before a swap can finish reading it); older ones are removed after the swap, and
// so are leftovers of a crashed write (`..data_tmp`, `..link_*`, generations `..data` never pointed at).
// Files of a directory not named in a call are carried into the new generation unchanged: a call never
// deletes a file. Unchanged content (same bytes, mode and requested owner) is not rewritten, and if
// nothing in a directory changed nothing at all happens there. Calls for the same directory are
// serialised within this process; two processes must not manage the same directory.
import type { Stats } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomHex } from '../crypto/index.js';

export interface FileSetEntry {
  path: string;
  content: Buffer;
  /** Permission bits, e.g. 0o400. */
  mode: number;
  uid?: number;
  gid?: number;
}

export interface FileSetResult {
  /** Paths whose content, mode or owner changed, or whose visible link had to be (re)made, in input order. */
  changed: string[];
  unchanged: string[];
}

const DATA = '..data';
const DATA_TMP = '..data_tmp';
const DIR_MODE = 0o755;
const GENERATION = /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{3}_[0-9a-f]{12}$/;
const LINK_TMP = /^\.\.link_[0-9a-f]{12}$/;

const random = () => randomHex(6);

/** `..2025_01_31_12_00_00.000_<random>`: sortable by time, unique by the random part. */
function generationName(now = new Date()): string {
  const iso = now.toISOString(); // 2025-01-31T12:00:00.000Z
  return `..${iso.slice(0, 19).replace(/[-T:]/g, '_')}.${iso.slice(20, 23)}_${random()}`;
}

const isErrno = (e: unknown, ...codes: string[]): boolean =>
  e instanceof Error && codes.includes((e as NodeJS.ErrnoException).code ?? '');

/** Writes the files, each directory switching all its files at once. See the header for the guarantees. */
export async function writeFileSet(files: readonly FileSetEntry[]): Promise<FileSetResult> {
  const byDir = new Map<string, { name: string; file: FileSetEntry }[]>();
  const seen = new Set<string>();
  for (const file of files) {
    if (typeof file.path !== 'string' || file.path === '') throw new TypeError('writeFileSet: empty path');
    if (!Buffer.isBuffer(file.content)) throw new TypeError(`writeFileSet: content of ${file.path} is not a Buffer`);
    if (!Number.isInteger(file.mode) || file.mode < 0 || file.mode > 0o7777) {
      throw new TypeError(`writeFileSet: bad mode for ${file.path}`);
    }
    const full = resolve(file.path);
    const name = basename(full);
    if (name.startsWith('..')) throw new TypeError(`writeFileSet: ${file.path}: names starting with ".." are reserved`);
    if (seen.has(full)) throw new TypeError(`writeFileSet: ${file.path} given twice`);
    seen.add(full);
    const dir = dirname(full);
    const list = byDir.get(dir) ?? [];
    list.push({ name, file });
    byDir.set(dir, list);
  }

  const outcomes = await Promise.allSettled(
    [...byDir].map(([dir, entries]) => serialized(dir, () => writeDirectory(dir, entries))),
  );
  const changed = new Set<FileSetEntry>();
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') throw outcome.reason;
    for (const file of outcome.value) changed.add(file);
  }
  return {
    changed: files.filter((f) => changed.has(f)).map((f) => f.path),
    unchanged: files.filter((f) => !changed.has(f)).map((f) => f.path),
  };
}

const queues = new Map<string, Promise<unknown>>();
/** Per directory: the generation `..data` names now and the one it replaced (kept for late readers). */
const swaps = new Map<string, { current: string; previous: string | undefined }>();
const cleanupPending = new Set<string>();

/** Resolves once every queued write and clean-up (old generations are removed after a call returns) is done. */
export async function fileSetsSettled(): Promise<void> {
  while (queues.size > 0) await Promise.all(queues.values());
}

/** Runs fn after every earlier call for the same key has settled. */
async function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (queues.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  try {
    return await run;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

/**
 * The generation `..data` points at: only a bare generation name (no `/`, so inside `dir`) naming a real
 * directory, not a symlink. Anything else was not made by this module (a link to another directory, a
 * file): it is never read, followed or linked from, and the swap replaces it. A directory there is refused.
 */
async function currentGeneration(dir: string): Promise<string | undefined> {
  const data = join(dir, DATA);
  let st: Stats;
  try {
    st = await lstat(data);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
  // rename(2) cannot put the new link over a directory, and what is in it is not ours to delete.
  if (st.isDirectory()) throw new Error(`${data} is not a symlink but a directory: refusing to manage ${dir}`);
  if (!st.isSymbolicLink()) return undefined;
  const target = await readlink(data);
  if (!GENERATION.test(target)) return undefined;
  try {
    return (await lstat(join(dir, target))).isDirectory() ? target : undefined;
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

async function isUnchanged(path: string, file: FileSetEntry): Promise<boolean> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  }
  if (!st.isFile() || (st.mode & 0o7777) !== file.mode) return false;
  if ((file.uid !== undefined && st.uid !== file.uid) || (file.gid !== undefined && st.gid !== file.gid)) return false;
  if (st.size !== file.content.length) return false;
  return (await readFile(path)).equals(file.content);
}

async function writeDirectory(dir: string, entries: { name: string; file: FileSetEntry }[]): Promise<FileSetEntry[]> {
  await makeDirectories(dir);
  const current = await currentGeneration(dir);
  const currentDir = current === undefined ? undefined : resolve(dir, current);
  // The per-file steps are independent: run them together (a rotation waits on this, not on a timer).
  const same = await Promise.all(
    entries.map(({ name, file }) => (currentDir === undefined ? false : isUnchanged(join(currentDir, name), file))),
  );
  const changed = new Set(entries.filter((_, i) => !same[i]).map((e) => e.file));

  let generation: string | undefined;
  if (changed.size > 0) {
    generation = generationName();
    const genDir = join(dir, generation);
    await mkdir(genDir, { mode: DIR_MODE });
    try {
      await chmod(genDir, DIR_MODE); // mkdir's mode is masked by the umask
      // Generation files are created exclusively and never modified, so an unchanged file is a hard
      // link to the current one: same bytes, mode and owner, no copy, no fsync.
      await Promise.all(
        entries.map(({ name, file }, i) =>
          same[i] ? link(join(currentDir!, name), join(genDir, name)) : writeDurable(join(genDir, name), file),
        ),
      );
      if (currentDir !== undefined) await carryOver(currentDir, genDir, new Set(entries.map((e) => e.name)));
      await fsyncDir(genDir);
      await rm(join(dir, DATA_TMP), { recursive: true, force: true });
      await symlink(generation, join(dir, DATA_TMP));
      await rename(join(dir, DATA_TMP), join(dir, DATA));
    } catch (e) {
      // ..data still names the old, complete generation; drop the half-built one (ENOSPC, EPERM on chown…).
      await rm(genDir, { recursive: true, force: true }).catch(() => undefined);
      await rm(join(dir, DATA_TMP), { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
  }

  const relinked = await Promise.all(entries.map(({ name }) => ensureVisibleLink(dir, name)));
  for (const [i, { file }] of entries.entries()) if (relinked[i]) changed.add(file);
  if (generation !== undefined || relinked.includes(true)) await fsyncDir(dir);
  if (generation !== undefined) {
    swaps.set(dir, { current: generation, previous: current });
    // Old generations go after the caller has been answered (the reload is not held up), in this
    // directory's queue so that no write overlaps the removal. What to keep is read when the
    // clean-up runs: later writes may have swapped again by then.
    if (!cleanupPending.has(dir)) {
      cleanupPending.add(dir);
      void serialized(dir, async () => {
        cleanupPending.delete(dir);
        const last = swaps.get(dir)!;
        await removeLeftovers(dir, new Set([last.current, last.previous ?? '']));
      }).catch(() => undefined);
    }
  }
  return [...changed];
}

/** mkdir -p with every directory it creates 0755 whatever the umask (consumers of other uids traverse them). */
async function makeDirectories(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (first === undefined) return;
  for (let at = dir; ; at = dirname(at)) {
    await chmod(at, DIR_MODE);
    if (at === first || at === dirname(at)) break;
  }
}

/** Create (exclusively), fill, own, chmod, fsync. Created 0600: no other user can open it before the chmod. */
async function writeDurable(path: string, file: Pick<FileSetEntry, 'content' | 'mode' | 'uid' | 'gid'>): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(file.content);
    if (file.uid !== undefined || file.gid !== undefined) await fh.chown(file.uid ?? -1, file.gid ?? -1);
    await fh.chmod(file.mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Links the files of the old generation that this call does not name into the new one. */
async function carryOver(from: string, to: string, named: Set<string>): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.filter((e) => e.isFile() && !named.has(e.name)).map((e) => link(join(from, e.name), join(to, e.name))),
  );
}

/** Makes `<dir>/<name>` the symlink `..data/<name>`, replacing anything else there (not a directory) by rename. */
async function ensureVisibleLink(dir: string, name: string): Promise<boolean> {
  const path = join(dir, name);
  const target = `${DATA}/${name}`;
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink() && (await readlink(path)) === target) return false;
    if (st.isDirectory()) throw new Error(`${path} is a directory: refusing to replace it with a secret file`);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  const tmp = join(dir, `..link_${random()}`);
  await symlink(target, tmp);
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return true;
}

/** Removes `..data_tmp`, temporary links and every generation not in keep (only names this module makes). */
async function removeLeftovers(dir: string, keep: Set<string>): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name === DATA_TMP || LINK_TMP.test(name) || (GENERATION.test(name) && !keep.has(name))) {
      await rm(join(dir, name), { recursive: true, force: true });
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (e) {
    if (!isErrno(e, 'EINVAL', 'ENOTSUP')) throw e; // file systems without directory fsync
  } finally {
    await fh.close();
  }
}
