// Remote git repositories mirrored in the data directory: clone, timed background fetch, reads by commit id.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@trellis/kit';
import { ConfigServerError } from '../errors.ts';
import { GitCommandError, maskCredentials, parseCatFileBatch, parseLsTree, runGit } from './git-cli.ts';
import { Lru } from './lru.ts';
import type { BackendChange } from './types.ts';

const DEFAULT_REFRESH_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 5_000;
// A clone moves the whole history where a fetch moves a few objects.
const CLONE_TIMEOUT_FACTOR = 6;
// In the mirror directory, the time of its last good fetch: health dates a mirror reopened with the remote down.
const LAST_GOOD_FETCH_FILE = 'trellis-last-good-fetch';

// Branch and tag names as git allows them, minus what rev-parse would read as an expression or an option
// (`-x`, `@{…}`, `^`, `~`, `:`): a label only ever names a ref or a commit.
const REF_NAME = /^[A-Za-z0-9_][A-Za-z0-9._/+-]*$/;
const COMMIT_ID = /^[0-9a-f]{7,40}$/i;

function checkLabel(label: string): void {
  if (!REF_NAME.test(label) || label.includes('..') || label.includes('//') || label.endsWith('.lock')) {
    throw new ConfigServerError('invalid_request', 'Invalid Request: label must be a branch, tag or commit id');
  }
}

/** What every mirror of one backend shares. */
interface MirrorContext {
  readonly baseDir: string;
  readonly defaultLabel: string;
  readonly timeoutMs: number;
  readonly env: Readonly<Record<string, string | undefined>> | undefined;
  readonly logger: Logger | undefined;
  /** Aborted on close: a running git is killed rather than waited for. */
  readonly signal: AbortSignal;
  /** Told when a fetch moved a ref, with the files that changed. */
  onChange(change: BackendChange): void;
  /** Told after each clone or fetch, how long it took and whether it worked (the refresh meters). */
  onSync?: ((seconds: number, ok: boolean) => void) | undefined;
}

interface FetchState {
  readonly at: string;
  readonly error?: string;
}

interface Refs {
  readonly heads: ReadonlyMap<string, string>;
  readonly tags: ReadonlyMap<string, string>;
}

const EMPTY_REFS: Refs = { heads: new Map(), tags: new Map() };

/** One repository as health shows it. */
export interface MirrorStatus {
  readonly uri: string;
  readonly cloned: boolean;
  /** When the last fetch (or clone) ran, whether or not it worked. */
  readonly lastFetch?: string;
  /**
   * When a fetch (or clone) last worked: what is served is the remote as it was then. Also for a mirror reopened
   * from an earlier run, so a restart with the remote down still says how old what it serves is.
   */
  readonly lastGoodFetch?: string;
  readonly fetchError?: string;
  readonly commit?: string;
}

/** `<last path segment>-<digest>.git`: readable in a directory listing, unique per URI. */
function mirrorDirName(uri: string): string {
  const digest = createHash('sha1').update(uri).digest('hex').slice(0, 12);
  const tail = (
    uri
      .replace(/[/\\]+$/, '')
      .split(/[/\\:]/)
      .pop() ?? 'repo'
  )
    .replace(/[^\w.-]/g, '_')
    .slice(0, 40);
  return `${tail}-${digest}.git`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Commit of every branch and tag, annotated tags peeled to the commit they point at. */
function parseRefs(out: Buffer): Refs {
  const heads = new Map<string, string>();
  const tags = new Map<string, string>();
  for (const line of out.toString('utf8').split('\n')) {
    const [id, peeled, ref] = line.split(' ');
    if (id === undefined || ref === undefined) continue;
    // An annotated tag points at a tag object; its peeled id is the commit.
    const commit = peeled !== '' && peeled !== undefined ? peeled : id;
    if (ref.startsWith('refs/heads/')) heads.set(ref.slice('refs/heads/'.length), commit);
    else if (ref.startsWith('refs/tags/')) tags.set(ref.slice('refs/tags/'.length), commit);
  }
  return { heads, tags };
}

/** The (before, after) commits of every ref that moved, appeared or went away. */
function movedRefs(before: Refs, after: Refs): [string | undefined, string | undefined][] {
  const moved: [string | undefined, string | undefined][] = [];
  for (const kind of ['heads', 'tags'] as const) {
    const names = new Set([...before[kind].keys(), ...after[kind].keys()]);
    for (const n of names) {
      const a = before[kind].get(n);
      const b = after[kind].get(n);
      if (a !== b) moved.push([a, b]);
    }
  }
  return moved;
}

/**
 * One remote repository mirrored under the data directory. Reads go to the object database by commit id
 * (`ls-tree`, `cat-file`), never through a work tree, so any number of labels are served at once while a fetch
 * runs; a failed fetch leaves the refs (the last good state) as they were.
 */
export class GitMirror {
  readonly dir: string;
  #refs: Refs = EMPTY_REFS;
  ready = false;
  lastFetch: FetchState | undefined;
  #lastGoodFetch: string | undefined;
  #running: Promise<void> | undefined;
  // Objects are immutable: a commit's tree, or what a commit id names, never changes once read.
  readonly #trees = new Lru<string, Map<string, string>>(32);
  readonly #commits = new Lru<string, string | null>(256);

  constructor(
    readonly uri: string,
    private readonly context: MirrorContext,
  ) {
    this.dir = join(context.baseDir, mirrorDirName(uri));
  }

  #git(args: readonly string[], input?: string): Promise<Buffer> {
    return runGit(args, {
      gitDir: this.dir,
      timeoutMs: this.context.timeoutMs,
      signal: this.context.signal,
      ...(input === undefined ? {} : { input }),
      ...(this.context.env === undefined ? {} : { env: this.context.env }),
    });
  }

  /** Clones when there is no mirror yet, fetches otherwise; one run at a time. */
  sync(): Promise<void> {
    this.#running ??= this.#sync().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #sync(): Promise<void> {
    const before = this.#refs;
    const started = performance.now();
    try {
      if (!this.ready && !(await exists(join(this.dir, 'HEAD')))) await this.#clone();
      else await this.#git(['fetch', '--prune', '--quiet', 'origin']);
      this.lastFetch = { at: new Date().toISOString() };
      this.#lastGoodFetch = this.lastFetch.at;
      await writeFile(join(this.dir, LAST_GOOD_FETCH_FILE), this.#lastGoodFetch).catch(() => undefined);
      this.context.onSync?.((performance.now() - started) / 1000, true);
    } catch (err) {
      this.context.onSync?.((performance.now() - started) / 1000, false);
      this.#fetchFailed(err);
      this.#lastGoodFetch ??= await this.#fetchedOnDisk();
      // An existing mirror from an earlier run still serves, even when the remote is down from the start.
      if (!this.ready && !(await exists(join(this.dir, 'HEAD')))) return;
    }
    this.#refs = parseRefs(
      await this.#git(['for-each-ref', '--format=%(objectname) %(*objectname) %(refname)', 'refs/heads', 'refs/tags']),
    );
    this.ready = true;
    const paths = await this.#changedPaths(before, this.#refs);
    if (paths !== undefined) this.context.onChange({ paths });
  }

  #fetchFailed(err: unknown): void {
    const reason = err instanceof GitCommandError ? err.message : 'git could not be run';
    this.lastFetch = { at: new Date().toISOString(), error: reason };
    this.context.logger?.warn(
      { repository: maskCredentials(this.uri), reason },
      'git fetch failed; serving the last good state',
    );
  }

  /** When a mirror left by an earlier run last fetched (git's FETCH_HEAD is rewritten by failed fetches too). */
  async #fetchedOnDisk(): Promise<string | undefined> {
    const text = await readFile(join(this.dir, LAST_GOOD_FETCH_FILE), 'utf8').catch(() => '');
    return Number.isNaN(Date.parse(text)) ? undefined : new Date(text).toISOString();
  }

  async #clone(): Promise<void> {
    await mkdir(this.context.baseDir, { recursive: true });
    // Cloned beside the final place and renamed, so a clone cut short never looks like a mirror.
    const temp = `${this.dir}.tmp-${process.pid}`;
    await rm(temp, { recursive: true, force: true });
    try {
      await runGit(['clone', '--mirror', '--quiet', '--', this.uri, temp], {
        timeoutMs: this.context.timeoutMs * CLONE_TIMEOUT_FACTOR,
        signal: this.context.signal,
        ...(this.context.env === undefined ? {} : { env: this.context.env }),
      });
      await rename(temp, this.dir);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  /** The files that changed between two ref states; undefined when nothing moved. */
  async #changedPaths(before: Refs, after: Refs): Promise<string[] | undefined> {
    const moved = movedRefs(before, after);
    if (moved.length === 0 || before === EMPTY_REFS) return moved.length === 0 ? undefined : [];
    const paths = new Set<string>();
    for (const [a, b] of moved) {
      if (a === undefined || b === undefined) continue;
      const out = await this.#git(['diff', '--name-only', '-z', a, b]).catch(() => Buffer.alloc(0));
      for (const p of out.toString('utf8').split('\0')) if (p !== '') paths.add(p);
    }
    return [...paths].sort();
  }

  /** A label (or the default) → the served label and its commit; `no_such_label` when neither ref nor commit. */
  async resolve(label: string | undefined): Promise<{ label: string; commit: string }> {
    if (!this.ready) {
      throw new ConfigServerError('backend_unavailable', 'the git repository has not been cloned yet');
    }
    let wanted = label ?? this.context.defaultLabel;
    // Spring's fallback: repositories made before git's default branch became `main` still serve without a label.
    if (label === undefined && wanted === 'main' && !this.#refs.heads.has('main') && this.#refs.heads.has('master')) {
      wanted = 'master';
    }
    checkLabel(wanted);
    const ref = this.#refs.heads.get(wanted) ?? this.#refs.tags.get(wanted);
    if (ref !== undefined) return { label: wanted, commit: ref };
    if (COMMIT_ID.test(wanted)) {
      const commit = await this.#commitById(wanted.toLowerCase());
      if (commit !== null) return { label: wanted, commit };
    }
    throw new ConfigServerError('no_such_label', `No such label: ${wanted}`);
  }

  /** The full id of the commit an abbreviated id names; null when it names none (remembered too). */
  async #commitById(id: string): Promise<string | null> {
    let commit = this.#commits.get(id);
    if (commit === undefined) {
      const out = await this.#git(['rev-parse', '--verify', '--quiet', `${id}^{commit}`]).catch(() => undefined);
      commit = out?.toString('utf8').trim() || null;
      this.#commits.set(id, commit);
    }
    return commit;
  }

  /** Path → blob id of every regular file at a commit (cached: a commit never changes). */
  async tree(commit: string): Promise<Map<string, string>> {
    let files = this.#trees.get(commit);
    if (files === undefined) {
      files = parseLsTree(await this.#git(['ls-tree', '-r', '-z', '--full-tree', commit]));
      this.#trees.set(commit, files);
    }
    return files;
  }

  /** Blob id → content, in one git run; missing objects are left out. */
  async blobs(ids: readonly string[]): Promise<Map<string, Buffer>> {
    if (ids.length === 0) return new Map();
    return parseCatFileBatch(await this.#git(['cat-file', '--batch'], `${ids.join('\n')}\n`));
  }

  status(): MirrorStatus {
    const defaultCommit = this.#refs.heads.get(this.context.defaultLabel) ?? this.#refs.heads.get('master');
    return {
      uri: maskCredentials(this.uri),
      cloned: this.ready,
      ...(this.lastFetch === undefined ? {} : { lastFetch: this.lastFetch.at }),
      ...(this.#lastGoodFetch === undefined ? {} : { lastGoodFetch: this.#lastGoodFetch }),
      ...(this.lastFetch?.error === undefined ? {} : { fetchError: this.lastFetch.error }),
      ...(defaultCommit === undefined ? {} : { commit: defaultCommit }),
    };
  }
}

export interface GitMirrorsOptions {
  /** Local path or URL; `{application}` makes one repository (one mirror) per application. */
  readonly uri: string;
  readonly baseDir: string;
  readonly defaultLabel: string;
  readonly refreshMs?: number;
  readonly timeoutMs?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  onChange(change: BackendChange): void;
  onSync?: ((seconds: number, ok: boolean) => void) | undefined;
}

/**
 * The mirrors of one backend, by URI, fetched in the background every `refreshMs` and never on the request path:
 * only an application's first request waits, for its clone.
 */
export class GitMirrors {
  readonly refreshMs: number;
  readonly #uri: string;
  readonly #templated: boolean;
  readonly #context: MirrorContext;
  readonly #closing = new AbortController();
  readonly #mirrors = new Map<string, GitMirror>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: GitMirrorsOptions) {
    this.#uri = options.uri;
    this.#templated = options.uri.includes('{application}');
    this.refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
    this.#context = {
      baseDir: options.baseDir,
      defaultLabel: options.defaultLabel,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      env: options.env,
      logger: options.logger,
      signal: this.#closing.signal,
      onChange: (change) => options.onChange(change),
      onSync: options.onSync,
    };
  }

  /** Clones (or reopens) the repository, then fetches on the timer. */
  async start(): Promise<void> {
    // With `{application}` repositories are cloned on each application's first request.
    if (!this.#templated) {
      const mirror = new GitMirror(this.#uri, this.#context);
      this.#mirrors.set(this.#uri, mirror);
      await mirror.sync();
    }
    this.#schedule();
  }

  /** The mirror that serves these applications; with `{application}` the last named (most specific) one's. */
  async serving(applications: readonly string[]): Promise<GitMirror> {
    const application = applications[applications.length - 1] ?? 'application';
    const uri = this.#templated ? this.#uri.replaceAll('{application}', application) : this.#uri;
    let mirror = this.#mirrors.get(uri);
    if (mirror === undefined) {
      mirror = new GitMirror(uri, this.#context);
      this.#mirrors.set(uri, mirror);
    }
    // Only an application's first request waits for its clone; later ones use what the background fetched.
    if (!mirror.ready && mirror.lastFetch === undefined) await mirror.sync();
    if (this.#templated && !mirror.ready) {
      // An application whose repository cannot be cloned is unknown, as Spring answers it (404,
      // NoSuchRepositoryException); forgetting the mirror keeps every name a caller makes up from staying as an
      // entry the background fetches again and again. The next request for it tries the clone anew.
      this.#mirrors.delete(uri);
      throw new ConfigServerError('no_such_repository', 'No such repository for this application');
    }
    return mirror;
  }

  /** Fetches every mirror now. */
  async refresh(): Promise<void> {
    await Promise.all([...this.#mirrors.values()].map((m) => m.sync()));
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.refresh()
        .catch((err: unknown) => this.#context.logger?.warn({ err }, 'git refresh failed'))
        .finally(() => this.#schedule());
    }, this.refreshMs);
    // Background work must not keep a stopping process alive.
    this.#timer.unref();
  }

  statuses(): MirrorStatus[] {
    return [...this.#mirrors.values()].map((m) => m.status());
  }

  /** Stops the timer and kills any running git. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#closing.abort();
  }
}
