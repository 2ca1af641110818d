// What /actuator/info says of the build: the git branch and commit, read from the working directory's .git.
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface GitInfo {
  readonly branch?: string;
  readonly commit: { readonly id: string };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Finds the commit of the checkout that `from` lies in by reading `.git` directly (no `git` process at start-up).
 * Answers undefined outside a checkout, e.g. in a container image built without `.git`.
 */
export function readGitInfo(from: string = process.cwd()): GitInfo | undefined {
  let dir = resolve(from);
  for (;;) {
    const gitDir = join(dir, '.git');
    let isDir = false;
    try {
      isDir = statSync(gitDir).isDirectory();
    } catch {
      // not here; look further up
    }
    if (isDir) return readGitDir(gitDir);
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readGitDir(gitDir: string): GitInfo | undefined {
  const head = readText(join(gitDir, 'HEAD'));
  if (head === undefined) return undefined;
  const ref = /^ref: (.+)$/.exec(head)?.[1];
  if (ref === undefined) return /^[0-9a-f]{40}$/.test(head) ? { commit: { id: head } } : undefined;
  const branch = ref.replace(/^refs\/heads\//, '');
  const loose = readText(join(gitDir, ref));
  if (loose !== undefined) return { branch, commit: { id: loose } };
  const packed = readText(join(gitDir, 'packed-refs'));
  const line = packed?.split('\n').find((l) => l.endsWith(` ${ref}`));
  const id = line?.split(' ')[0];
  return id === undefined ? undefined : { branch, commit: { id } };
}
