// The agent config's validation problems as one message, each naming its key as a path such as `secrets[0].mode`.
import type { z } from 'zod';

/** `['secrets', 0, 'mode']` → `secrets[0].mode`. */
function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** At most five problems, then how many more. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], source: string): string {
  const lines = issues.slice(0, 5).map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `'${keyPath([...issue.path, k])}'`).join(', ');
      return `unknown key ${keys}`;
    }
    const key = keyPath(issue.path);
    return key === '' ? issue.message : `invalid value for '${key}': ${issue.message}`;
  });
  const more = issues.length > 5 ? `; and ${issues.length - 5} more` : '';
  return `${source}: ${lines.join('; ')}${more}`;
}
