// Atomic file sets: the `..data` symlink swap, skipping unchanged content, modes, owners and crash leftovers.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FileSetEntry, fileSetsSettled, writeFileSet as writeOnly } from '../../src/agent/file-set.js';

/** A write, then its queued clean-up (old generations go after the call returns). */
async function writeFileSet(...args: Parameters<typeof writeOnly>) {
  const result = await writeOnly(...args);
  await fileSetsSettled();
  return result;
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'keysafe-file-set-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const GENERATION = /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{3}_[0-9a-f]{12}$/;
const file = (path: string, content: string, mode = 0o400): FileSetEntry => ({
  path,
  content: Buffer.from(content),
  mode,
});
const generations = (dir: string) => readdirSync(dir).filter((n) => GENERATION.test(n));
const dataTarget = (dir: string) => readlinkSync(join(dir, '..data'));
const permissions = (path: string) => statSync(path).mode & 0o7777;

describe('writeFileSet', () => {
  it('creates the directory, a generation, ..data and one visible symlink per file', async () => {
    const dir = join(root, 'a', 'b');
    const result = await writeFileSet([file(join(dir, 'db.json'), '{"p":1}'), file(join(dir, 'url'), 'pg://x')]);
    expect(result).toEqual({ changed: [join(dir, 'db.json'), join(dir, 'url')], unchanged: [] });

    expect(permissions(join(root, 'a'))).toBe(0o755);
    expect(permissions(dir)).toBe(0o755);
    const target = dataTarget(dir);
    expect(target).toMatch(GENERATION);
    expect(permissions(join(dir, target))).toBe(0o755);
    expect(readdirSync(join(dir, target)).sort()).toEqual(['db.json', 'url']);
    for (const name of ['db.json', 'url']) {
      expect(lstatSync(join(dir, name)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(dir, name))).toBe(`..data/${name}`);
    }
    expect(readFileSync(join(dir, 'db.json'), 'utf8')).toBe('{"p":1}');
    expect(readFileSync(join(dir, 'url'), 'utf8')).toBe('pg://x');
    expect(readdirSync(dir).sort()).toEqual(['..data', target, 'db.json', 'url'].sort());
  });

  it('applies mode 0400 by default and the requested mode otherwise, whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      await writeFileSet([file(join(root, 'd', 'secret'), 's'), file(join(root, 'd', 'shared'), 's', 0o444)]);
    } finally {
      process.umask(old);
    }
    expect(permissions(join(root, 'd', 'secret'))).toBe(0o400);
    expect(permissions(join(root, 'd', 'shared'))).toBe(0o444);
    expect(permissions(join(root, 'd'))).toBe(0o755);
    expect(permissions(join(root, 'd', dataTarget(join(root, 'd'))))).toBe(0o755);
  });

  it('does not rewrite unchanged content: no new generation, same inodes and mtimes', async () => {
    const dir = join(root, 'same');
    const files = [file(join(dir, 'a'), 'one'), file(join(dir, 'b'), 'two')];
    await writeFileSet(files);
    const target = dataTarget(dir);
    const before = statSync(join(dir, target));
    const fileBefore = statSync(join(dir, 'a'));
    const dirBefore = statSync(dir);
    await new Promise((r) => setTimeout(r, 20));

    const result = await writeFileSet([file(join(dir, 'a'), 'one'), file(join(dir, 'b'), 'two')]);
    expect(result).toEqual({ changed: [], unchanged: [join(dir, 'a'), join(dir, 'b')] });
    expect(dataTarget(dir)).toBe(target);
    const after = statSync(join(dir, target));
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(statSync(join(dir, 'a')).ino).toBe(fileBefore.ino);
    expect(statSync(join(dir, 'a')).mtimeMs).toBe(fileBefore.mtimeMs);
    expect(statSync(dir).mtimeMs).toBe(dirBefore.mtimeMs);
    expect(generations(dir)).toEqual([target]);
  });

  it('switches every file of the directory when one changes, reporting only that one as changed', async () => {
    const dir = join(root, 'set');
    await writeFileSet([file(join(dir, 'a'), 'a1'), file(join(dir, 'b'), 'b1')]);
    const first = dataTarget(dir);
    const result = await writeFileSet([file(join(dir, 'a'), 'a2'), file(join(dir, 'b'), 'b1')]);
    expect(result).toEqual({ changed: [join(dir, 'a')], unchanged: [join(dir, 'b')] });
    const second = dataTarget(dir);
    expect(second).not.toBe(first);
    expect(readFileSync(join(dir, second, 'a'), 'utf8')).toBe('a2');
    expect(readFileSync(join(dir, second, 'b'), 'utf8')).toBe('b1');
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('a2');
  });

  it('keeps the replaced generation readable until the next change, then removes it', async () => {
    const dir = join(root, 'gens');
    await writeFileSet([file(join(dir, 'a'), 'v1:a'), file(join(dir, 'b'), 'v1:b')]);
    const g1 = dataTarget(dir);
    await writeFileSet([file(join(dir, 'a'), 'v2:a'), file(join(dir, 'b'), 'v2:b')]);
    const g2 = dataTarget(dir);
    // A reader that resolved ..data before the swap still reads one whole, consistent set.
    expect([readFileSync(join(dir, g1, 'a'), 'utf8'), readFileSync(join(dir, g1, 'b'), 'utf8')]).toEqual([
      'v1:a',
      'v1:b',
    ]);
    expect(generations(dir).sort()).toEqual([g1, g2].sort());
    await writeFileSet([file(join(dir, 'a'), 'v3:a'), file(join(dir, 'b'), 'v3:b')]);
    expect(generations(dir).sort()).toEqual([g2, dataTarget(dir)].sort());
    expect(existsSync(join(dir, g1))).toBe(false);
  });

  it('rewrites a file whose mode alone changed', async () => {
    const dir = join(root, 'mode');
    await writeFileSet([file(join(dir, 'a'), 'x', 0o400)]);
    const result = await writeFileSet([file(join(dir, 'a'), 'x', 0o440)]);
    expect(result.changed).toEqual([join(dir, 'a')]);
    expect(permissions(join(dir, 'a'))).toBe(0o440);
  });

  it('rewrites a file whose content was changed behind its back in the generation', async () => {
    const dir = join(root, 'tamper');
    await writeFileSet([file(join(dir, 'a'), 'good')]);
    const path = join(dir, dataTarget(dir), 'a');
    chmodSync(path, 0o600);
    writeFileSync(path, 'evil');
    chmodSync(path, 0o400);
    expect((await writeFileSet([file(join(dir, 'a'), 'good')])).changed).toEqual([join(dir, 'a')]);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('good');
  });

  it('replaces a regular file at the path with the symlink', async () => {
    const dir = join(root, 'legacy');
    mkdirSync(dir);
    writeFileSync(join(dir, 'db.json'), 'old plain file');
    const result = await writeFileSet([file(join(dir, 'db.json'), 'new')]);
    expect(result.changed).toEqual([join(dir, 'db.json')]);
    expect(lstatSync(join(dir, 'db.json')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'db.json'), 'utf8')).toBe('new');
    expect(readdirSync(dir).filter((n) => n.startsWith('..link_'))).toEqual([]);
  });

  it('repairs a visible path that was replaced even when the data did not change', async () => {
    const dir = join(root, 'repair');
    await writeFileSet([file(join(dir, 'a'), 'v')]);
    const target = dataTarget(dir);
    rmSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a'), 'someone else');
    const result = await writeFileSet([file(join(dir, 'a'), 'v')]);
    expect(result.changed).toEqual([join(dir, 'a')]);
    expect(dataTarget(dir)).toBe(target);
    expect(readlinkSync(join(dir, 'a'))).toBe('..data/a');
  });

  it('refuses to replace a directory at a file path, without the content in the error', async () => {
    mkdirSync(join(root, 'd', 'a'), { recursive: true });
    const error = await writeFileSet([file(join(root, 'd', 'a'), 'canary-9b1e')]).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('is a directory');
    expect(`${(error as Error).message}${(error as Error).stack}`).not.toContain('canary-9b1e');
  });

  it('refuses a directory whose ..data is not a symlink', async () => {
    mkdirSync(join(root, 'd', '..data'), { recursive: true });
    await expect(writeFileSet([file(join(root, 'd', 'a'), 'v')])).rejects.toThrow('is not a symlink');
  });

  describe('pre-existing ..data and ..-entries it did not make', () => {
    /** A directory outside the managed one, with what the write will want (same bytes) and more. */
    function outsideDir(): { outside: string; snapshot: () => string } {
      const outside = join(root, 'outside');
      mkdirSync(outside);
      writeFileSync(join(outside, 'a'), 'v'); // same content as the write: the old code hard-linked it
      chmodSync(join(outside, 'a'), 0o400);
      writeFileSync(join(outside, 'private'), 'not yours'); // the old code carried it into the set
      const snapshot = () =>
        JSON.stringify(
          readdirSync(outside)
            .sort()
            .map((n) => {
              const st = lstatSync(join(outside, n));
              return [n, st.ino, st.nlink, st.mode, st.mtimeMs, readFileSync(join(outside, n), 'utf8')];
            }),
        );
      return { outside, snapshot };
    }

    it.each([
      ['an absolute link', (outside: string) => outside],
      ['a relative link', () => '../outside'],
      ['a link through a generation-named link', () => '..2020_01_01_00_00_00.000_abcdefabcdef'],
    ])('replaces ..data that is %s to a directory outside, never reading or linking from it', async (_what, target) => {
      const { outside, snapshot } = outsideDir();
      const dir = join(root, 'managed');
      mkdirSync(dir);
      symlinkSync(outside, join(dir, '..2020_01_01_00_00_00.000_abcdefabcdef'));
      symlinkSync(target(outside), join(dir, '..data'));
      const before = snapshot();

      const result = await writeFileSet([file(join(dir, 'a'), 'v')]);
      expect(result.changed).toEqual([join(dir, 'a')]);
      expect(GENERATION.test(dataTarget(dir))).toBe(true);
      expect(lstatSync(join(dir, dataTarget(dir))).isDirectory()).toBe(true);
      // Only the file asked for, written anew: no hard link to the outside file, nothing carried over.
      expect(readdirSync(join(dir, dataTarget(dir)))).toEqual(['a']);
      expect(statSync(join(dir, 'a')).ino).not.toBe(statSync(join(outside, 'a')).ino);
      expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('v');
      expect(snapshot()).toBe(before);
      // The generation-named link was a leftover to remove: the link went, what it pointed at stayed.
      expect(existsSync(join(dir, '..2020_01_01_00_00_00.000_abcdefabcdef'))).toBe(false);
      expect(snapshot()).toBe(before);
    });

    it('replaces a ..data that is a regular file, and a ..data_tmp that is a directory', async () => {
      const dir = join(root, 'odd');
      mkdirSync(join(dir, '..data_tmp'), { recursive: true });
      writeFileSync(join(dir, '..data_tmp', 'x'), 'x');
      writeFileSync(join(dir, '..data'), 'not a link');
      await writeFileSet([file(join(dir, 'a'), 'v')]);
      expect(GENERATION.test(dataTarget(dir))).toBe(true);
      expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('v');
      expect(readdirSync(dir)).not.toContain('..data_tmp');
    });

    it('replaces a visible file that is a link to outside without writing through it', async () => {
      const { outside, snapshot } = outsideDir();
      const dir = join(root, 'visible');
      mkdirSync(dir);
      symlinkSync(join(outside, 'private'), join(dir, 'a'));
      const before = snapshot();
      await writeFileSet([file(join(dir, 'a'), 'v')]);
      expect(readlinkSync(join(dir, 'a'))).toBe('..data/a');
      expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('v');
      expect(snapshot()).toBe(before);
    });
  });

  it('cleans up the leftovers of a crashed write on the next change and leaves other files alone', async () => {
    const dir = join(root, 'crash');
    await writeFileSet([file(join(dir, 'a'), 'v1')]);
    const g1 = dataTarget(dir);
    // A write that died after creating its generation, its ..data_tmp link and a temporary visible link.
    const orphan = '..2020_01_01_00_00_00.000_abcdefabcdef';
    mkdirSync(join(dir, orphan));
    writeFileSync(join(dir, orphan, 'a'), 'half');
    symlinkSync(orphan, join(dir, '..data_tmp'));
    symlinkSync('..data/a', join(dir, '..link_0123456789ab'));
    writeFileSync(join(dir, 'notes.txt'), 'not ours');
    mkdirSync(join(dir, '..other'));

    await writeFileSet([file(join(dir, 'a'), 'v2')]);
    expect(readdirSync(dir).sort()).toEqual(['..data', '..other', g1, dataTarget(dir), 'a', 'notes.txt'].sort());
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('v2');
  });

  it('leaves the previous set in place and no half-built generation when a write fails', async () => {
    const dir = join(root, 'fail');
    await writeFileSet([file(join(dir, 'a'), 'v1'), file(join(dir, 'b'), 'v1')]);
    const target = dataTarget(dir);
    // An impossible owner makes the second file of the new generation fail after the first was written.
    await expect(
      writeFileSet([file(join(dir, 'a'), 'v2'), { ...file(join(dir, 'b'), 'v2'), uid: -2 }]),
    ).rejects.toThrow();
    expect(dataTarget(dir)).toBe(target);
    expect(generations(dir)).toEqual([target]);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('v1');
    expect(readdirSync(dir)).not.toContain('..data_tmp');
  });

  it('recovers when ..data points at a generation that no longer exists', async () => {
    const dir = join(root, 'dangling');
    mkdirSync(dir);
    symlinkSync('..2020_01_01_00_00_00.000_abcdefabcdef', join(dir, '..data'));
    const result = await writeFileSet([file(join(dir, 'a'), 'v')]);
    expect(result.changed).toEqual([join(dir, 'a')]);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('v');
  });

  it('writes several directories in one call, switching only those that changed', async () => {
    const one = join(root, 'one');
    const two = join(root, 'two');
    const first = await writeFileSet([
      file(join(one, 'creds'), 'one-v1'),
      file(join(two, 'creds'), 'two-v1'),
      file(join(two, 'extra'), 'two-extra'),
    ]);
    expect(first.changed).toHaveLength(3);
    // Same file name, different directories: independent contents.
    expect(readFileSync(join(one, 'creds'), 'utf8')).toBe('one-v1');
    expect(readFileSync(join(two, 'creds'), 'utf8')).toBe('two-v1');
    const oneTarget = dataTarget(one);
    const twoTarget = dataTarget(two);

    const second = await writeFileSet([
      file(join(one, 'creds'), 'one-v1'),
      file(join(two, 'creds'), 'two-v2'),
      file(join(two, 'extra'), 'two-extra'),
    ]);
    expect(second).toEqual({ changed: [join(two, 'creds')], unchanged: [join(one, 'creds'), join(two, 'extra')] });
    expect(dataTarget(one)).toBe(oneTarget);
    expect(dataTarget(two)).not.toBe(twoTarget);
    expect(readFileSync(join(one, 'creds'), 'utf8')).toBe('one-v1');
    expect(readFileSync(join(two, 'creds'), 'utf8')).toBe('two-v2');
  });

  it('carries files it was not given into the new generation with their mode', async () => {
    const dir = join(root, 'carry');
    await writeFileSet([file(join(dir, 'a'), 'a1'), file(join(dir, 'b'), 'b1', 0o440)]);
    const result = await writeFileSet([file(join(dir, 'a'), 'a2')]);
    expect(result).toEqual({ changed: [join(dir, 'a')], unchanged: [] });
    const target = dataTarget(dir);
    expect(readFileSync(join(dir, target, 'b'), 'utf8')).toBe('b1');
    expect(permissions(join(dir, target, 'b'))).toBe(0o440);
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('b1');
  });

  it('serialises concurrent calls for the same directory; the last call wins', async () => {
    const dir = join(root, 'race');
    const calls = Array.from({ length: 20 }, (_, n) =>
      writeFileSet([file(join(dir, 'a'), `v${n}:a`), file(join(dir, 'b'), `v${n}:b`)]),
    );
    const results = await Promise.all(calls);
    expect(results.every((r) => r.changed.length === 2)).toBe(true);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('v19:a');
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('v19:b');
    expect(generations(dir)).toHaveLength(2);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'sets the owner and group when asked, and rewrites when they differ',
    async () => {
      const dir = join(root, 'owner');
      await writeFileSet([{ ...file(join(dir, 'a'), 'x'), uid: 1234, gid: 5678 }]);
      expect(statSync(join(dir, 'a'))).toMatchObject({ uid: 1234, gid: 5678 });
      expect((await writeFileSet([{ ...file(join(dir, 'a'), 'x'), uid: 1234, gid: 5678 }])).changed).toEqual([]);
      expect((await writeFileSet([{ ...file(join(dir, 'a'), 'x'), uid: 4321 }])).changed).toEqual([join(dir, 'a')]);
      expect(statSync(join(dir, 'a'))).toMatchObject({ uid: 4321, gid: 0 });
    },
  );

  it('rejects reserved names, duplicates and bad modes before touching the disk', async () => {
    await expect(writeFileSet([file(join(root, 'x', '..data'), 'v')])).rejects.toThrow(TypeError);
    await expect(writeFileSet([file(join(root, 'x', '..hidden'), 'v')])).rejects.toThrow('reserved');
    await expect(writeFileSet([file(join(root, 'x', 'a'), 'v'), file(join(root, 'x', '.', 'a'), 'w')])).rejects.toThrow(
      'given twice',
    );
    await expect(writeFileSet([file(join(root, 'x', 'a'), 'v', 0o10000)])).rejects.toThrow('bad mode');
    expect(existsSync(join(root, 'x'))).toBe(false);
  });

  it('does nothing for an empty list', async () => {
    expect(await writeFileSet([])).toEqual({ changed: [], unchanged: [] });
  });
});
