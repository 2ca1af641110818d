// The git command line, run as a child process, and parsers of its output.
// No native binding and no new dependency, and the same git that operators already configure (proxies, credential
// helpers, SSH keys) does the network work.
import { execFile } from 'node:child_process';

export interface GitRunOptions {
  /** The repository (`--git-dir`); omitted for `clone`. */
  readonly gitDir?: string;
  /** Written to git's standard input (e.g. object ids for `cat-file --batch`). */
  readonly input?: string;
  readonly timeoutMs: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

/** A failed git run; `message` is git's own first error line (and its continuation) with any credentials in URLs masked. */
export class GitCommandError extends Error {
  override readonly name = 'GitCommandError';
}

/** Masks `user:password@` in URLs so an error that quotes the remote never carries its credentials. */
export function maskCredentials(text: string): string {
  return text.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1***@');
}

// Big enough for the tree listing of a large repository; a config repository is far smaller.
const MAX_OUTPUT = 256 * 1024 * 1024;

/** Runs `git args…` and resolves with its standard output; rejects with a {@link GitCommandError}. */
export function runGit(args: readonly string[], options: GitRunOptions): Promise<Buffer> {
  const fullArgs = options.gitDir === undefined ? [...args] : ['--git-dir', options.gitDir, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      fullArgs,
      {
        encoding: 'buffer',
        maxBuffer: MAX_OUTPUT,
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        windowsHide: true,
        // No prompt may ever wait for a human: a server has none, and a hung git would hold a fetch forever.
        env: { ...(options.env ?? {}), GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      (err, stdout, stderr) => {
        if (err === null) return resolve(stdout);
        const timedOut = 'killed' in err && err.killed === true && !options.signal?.aborted;
        const lines = stderr
          .toString('utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '');
        // A line ending in a colon goes on in the next (`unable to connect to host:` ↵ `…errno=Connection refused`):
        // the reason is there.
        let first = lines[0] ?? '';
        for (let i = 1; first.endsWith(':') && i < lines.length; i++) first = `${first} ${lines[i] ?? ''}`;
        const reason = timedOut
          ? `git ${args[0] ?? ''} timed out after ${options.timeoutMs} ms`
          : first !== ''
            ? first
            : `git ${args[0] ?? ''} failed`;
        reject(new GitCommandError(maskCredentials(reason)));
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** Parses `git cat-file --batch` output: object id → content (missing objects are left out). */
export function parseCatFileBatch(out: Buffer): Map<string, Buffer> {
  const objects = new Map<string, Buffer>();
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(0x0a, at);
    if (nl === -1) break;
    const header = out.subarray(at, nl).toString('utf8').split(' ');
    at = nl + 1;
    const [id, type, size] = header;
    if (id === undefined || type === 'missing' || size === undefined) continue;
    const length = Number(size);
    objects.set(id, out.subarray(at, at + length));
    at += length + 1;
  }
  return objects;
}

/**
 * Parses `git ls-tree -r -z` output into regular files. Symbolic links (mode 120000) and submodules are left out,
 * so a link in the repository can never serve a file from outside it.
 */
export function parseLsTree(out: Buffer): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of out.toString('utf8').split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab === -1) continue;
    const [mode, type, id] = entry.slice(0, tab).split(' ');
    if (type !== 'blob' || (mode !== '100644' && mode !== '100755') || id === undefined) continue;
    files.set(entry.slice(tab + 1), id);
  }
  return files;
}
