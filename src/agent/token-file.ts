// The workload's projected service-account token file: read it, and notice when kubelet replaces it.
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { watch } from 'chokidar';

/** The JWT in the token file; the error names the file and the errno code, never the content. */
export async function readTokenFile(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    throw new Error(`cannot read the token file ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * Calls `onChange` when the token file is written or replaced. kubelet swaps a projected volume's
 * `..data` link rather than writing the file, so a change of that link counts too.
 */
export function watchTokenFile(path: string, onChange: () => void): { close(): Promise<void> } {
  const watcher = watch(dirname(path), { ignoreInitial: true, depth: 0, followSymlinks: false });
  watcher.on('all', (_event, changed) => {
    const name = basename(changed);
    if (name !== basename(path) && name !== '..data') return;
    onChange();
  });
  return watcher;
}
