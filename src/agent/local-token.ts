// The localhost endpoint's token file: used only when it is the agent's (or root's) and private, made atomically when missing.
//
// Whoever knows the token reads every secret the agent may read, so the file is checked like an SSH key:
// a file another user owns could hold a token they chose, one they can write a token they will choose
// at the next start, one everybody can read a token everybody knows. Group read is allowed (0640/0440):
// that is how the AWS agent shares its token (/var/run/awssmatoken, 0640, group awssmatokenreader) and
// how an app of another uid in the pod is given it. A missing file is created 0440 with a fresh token:
// written aside, then linked into place (link(2) follows no symlink and fails if the name exists), so
// nobody sees a partial file and a name planted meanwhile is never written through.
// Errors name the path, the owner and the mode, never the content.
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../core/config-error.js';
import { randomHex, randomToken } from '../crypto/index.js';

/** Mode of a token file the agent makes: its owner and group may read it, nobody may write it. */
export const LOCAL_TOKEN_MODE = 0o440;
/** A token file is a line of text; anything bigger is not one. */
const MAX_TOKEN_FILE_BYTES = 4096;

const errnoOf = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? 'error';
const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/**
 * The token callers of the endpoint must send, from `file`; the file is made when it does not exist.
 * Throws ConfigError (the CLI exits 2) when the file is not one the agent can trust.
 */
export function loadLocalToken(file: string, uid: number | undefined = process.geteuid?.()): string {
  const existing = readTrusted(file, uid);
  if (existing !== undefined) return existing;
  if (create(file)) return readTrusted(file, uid) ?? gone(file, 'disappeared right after it was made');
  // The name appeared between our look and our link (another agent, or a planted dangling symlink):
  // read, and check, what is there.
  return readTrusted(file, uid) ?? gone(file, 'exists but names no file (a dangling symlink?)');
}

function gone(file: string, why: string): never {
  throw new ConfigError(`local token file ${file} ${why}; refusing to start`);
}

/** The token in `file`, undefined when there is no such file. */
function readTrusted(file: string, uid: number | undefined): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang the start (it is refused below).
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read the local token file ${file} (${errnoOf(e)})`);
  }
  try {
    // fstat of what was opened, not stat of the name: a swap in between cannot pass the checks.
    const st = fstatSync(fd);
    const refuse = (why: string) => new ConfigError(`local token file ${file} ${why}; refusing to start`);
    if (!st.isFile()) throw refuse('is not a regular file');
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      throw refuse(`is owned by uid ${st.uid}, not by the agent (uid ${uid}) or root`);
    }
    if ((st.mode & 0o022) !== 0) throw refuse(`is writable by its group or others (mode ${octal(st.mode)})`);
    if ((st.mode & 0o004) !== 0) {
      throw refuse(`is readable by every user (mode ${octal(st.mode)}); make it 0600, or 0640 for a reader group`);
    }
    if (st.size > MAX_TOKEN_FILE_BYTES) throw refuse(`is larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > MAX_TOKEN_FILE_BYTES) throw refuse(`is larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
    const token = buffer.subarray(0, length).toString('utf8').trim();
    if (token === '') throw refuse('is empty');
    return token;
  } finally {
    closeSync(fd);
  }
}

/** Makes `file` with a fresh token; false when the name exists by the time it is linked. */
function create(file: string): boolean {
  const dir = dirname(file);
  const aside = join(dir, `.${basename(file)}.${randomHex(6)}.tmp`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const fd = openSync(
      aside,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      LOCAL_TOKEN_MODE,
    );
    try {
      writeSync(fd, `${randomToken(32)}\n`);
      fchmodSync(fd, LOCAL_TOKEN_MODE); // the open mode is masked by the umask
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(aside, file);
      return true;
    } catch (e) {
      if (errnoOf(e) === 'EEXIST') return false;
      throw e;
    }
  } catch (e) {
    throw new ConfigError(`cannot create the local token file ${file} (${errnoOf(e)})`);
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // not made, or already gone
    }
  }
}
