// The local endpoint's token file: refused unless the agent's (or root's) and private; made 0440 atomically, through no symlink.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_TOKEN_MODE, loadLocalToken } from '../../src/agent/local-token.js';
import { ConfigError } from '../../src/core/config-error.js';
import { CLI } from '../support/process.js';

const SECRET_TOKEN = 'tok-5e1d9c0a7b3f-do-not-print';
const AGENT_UID = process.geteuid!();

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keysafe-local-token-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tokenFile(mode: number, content = `${SECRET_TOKEN}\n`): string {
  const file = join(dir, 'local-token');
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

/** The ConfigError loadLocalToken throws, checked to name the path and never the content. */
function refusal(file: string, uid = AGENT_UID): string {
  let error: unknown;
  try {
    loadLocalToken(file, uid);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const message = (error as Error).message;
  expect(message).toContain(file);
  expect(`${message}${(error as Error).stack}`).not.toContain(SECRET_TOKEN);
  return message;
}

describe('an existing local token file', () => {
  it.each([0o600, 0o400, 0o640, 0o440])('is used when it is the agent’s with mode %o', (mode) => {
    expect(loadLocalToken(tokenFile(mode), AGENT_UID)).toBe(SECRET_TOKEN);
  });

  it.each([
    [0o644, 'readable by every user (mode 0644)'],
    [0o604, 'readable by every user'],
    [0o444, 'readable by every user'],
    [0o660, 'writable by its group or others (mode 0660)'],
    [0o602, 'writable by its group or others'],
    [0o666, 'writable by its group or others'],
  ])('is refused with mode %o', (mode, why) => {
    expect(refusal(tokenFile(mode))).toContain(why);
  });

  it('is refused when another user owns it, and used when root does', () => {
    const file = tokenFile(0o600);
    if (AGENT_UID === 0) {
      // As root: a file of uid 4242 is refused to an agent running as root…
      chownSync(file, 4242, 4242);
      expect(refusal(file, 0)).toContain('is owned by uid 4242, not by the agent (uid 0) or root');
      // …and a root-owned file is accepted by an agent of another uid.
      chownSync(file, 0, 0);
      expect(loadLocalToken(file, 4242)).toBe(SECRET_TOKEN);
    } else {
      expect(refusal(file, AGENT_UID + 1)).toContain(`is owned by uid ${AGENT_UID}`);
    }
  });

  it('is checked through a symlink on the file it names, not the link', () => {
    const target = tokenFile(0o644);
    const link = join(dir, 'link');
    symlinkSync(target, link);
    expect(refusal(link)).toContain('readable by every user');
    chmodSync(target, 0o600);
    expect(loadLocalToken(link, AGENT_UID)).toBe(SECRET_TOKEN);
  });

  it('is refused when empty, too big, a directory or a FIFO (without hanging)', () => {
    expect(refusal(tokenFile(0o600, ' \n'))).toContain('is empty');
    expect(refusal(tokenFile(0o600, 'x'.repeat(5000)))).toContain('larger than 4096 bytes');
    rmSync(join(dir, 'local-token'));
    mkdirSync(join(dir, 'local-token'), { mode: 0o700 });
    expect(refusal(join(dir, 'local-token'))).toContain('is not a regular file');
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', ['-m', '600', fifo]).status).toBe(0);
    expect(refusal(fifo)).toContain('is not a regular file');
  });

  it('that cannot be opened is a clear error, not a crash while making a new one', () => {
    mkdirSync(join(dir, 'file-not-dir'));
    writeFileSync(join(dir, 'file-not-dir', 'x'), '');
    expect(refusal(join(dir, 'file-not-dir', 'x', 'local-token'))).toContain('(ENOTDIR)');
  });
});

describe('a missing local token file', () => {
  it(`is made ${LOCAL_TOKEN_MODE.toString(8)} with a fresh token, leaving nothing else behind`, () => {
    const file = join(dir, 'run', 'keysafe', 'local-token');
    const previous = process.umask(0o000);
    let token: string;
    try {
      token = loadLocalToken(file, AGENT_UID);
    } finally {
      process.umask(previous);
    }
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(file, 'utf8')).toBe(`${token}\n`);
    expect(statSync(file).mode & 0o7777).toBe(0o440);
    expect(statSync(join(dir, 'run')).mode & 0o7777).toBe(0o755);
    expect(readdirSync(join(dir, 'run', 'keysafe'))).toEqual(['local-token']);
    // The next start reads the same token.
    expect(loadLocalToken(file, AGENT_UID)).toBe(token);
    expect(loadLocalToken(file, AGENT_UID)).not.toBe(loadLocalToken(join(dir, 'other'), AGENT_UID));
  });

  it('is never written through a dangling symlink planted at its name', () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    const file = join(dir, 'local-token');
    symlinkSync(join(outside, 'planted'), file);
    // The name exists (as a link to nothing): nothing is created through it, and the start fails.
    expect(refusal(file)).toContain('exists but names no file');
    expect(existsSync(join(outside, 'planted'))).toBe(false);
    expect(lstatSync(file).isSymbolicLink()).toBe(true);
  });
});

describe('keysafe agent with an untrusted local token file', () => {
  it('exits 2 naming the path, never the token, before starting', () => {
    const file = tokenFile(0o644);
    const config = join(dir, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: 'http://127.0.0.1:9',
        auth: { role: 'r', tokenFile: join(dir, 'jwt') },
        listen: '127.0.0.1:0',
        localTokenFile: file,
        secrets: [{ id: 'a' }],
      }),
    );
    const r = spawnSync(process.execPath, [CLI, 'agent', '--config', config], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`local token file ${file} is readable by every user (mode 0644)`);
    expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET_TOKEN);
  });
});
