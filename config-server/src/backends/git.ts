import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Health, Logger } from '@trellis/kit';
import {
  ConfigFileError,
  type ConfigDocument,
  type EnvironmentRequest,
  type PropertySource,
} from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { candidateFiles, fileSources, parseConfigFile, resourceCandidates } from './files.ts';
import { GitCommandError, maskCredentials, parseCatFileBatch, parseLsTree, runGit } from './git-cli.ts';
import type { BackendChange, BackendEnvironment, EnvironmentBackend, ResourceRequest } from './types.ts';

export interface GitBackendOptions {
  /** Local path or URL of the repository; `{application}` makes one repository per application. */
  readonly uri: string;
  /** Where clones live (`<data-dir>/config-git`); one bare mirror per repository. */
  readonly baseDir: string;
  /** Served when a client names no label; `main` falls back to `master` when the repository has no `main`. */
  readonly defaultLabel: string;
  /** Directories searched besides the root (Spring's search-paths); `{application}` and `{profile}` allowed. */
  readonly searchPaths?: readonly string[];
  /** Time between background fetches. Default 30 s. */
  readonly refreshMs?: number;
  /** Limit for one git run (fetch, clone, read). Default 5 s for reads and fetches, 6× that for a clone. */
  readonly timeoutMs?: number;
  /** Environment of the git processes (proxies, SSH agent, HOME for credential helpers). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
}

/** A git backend; `start` clones (or reopens) and schedules background fetches, `refresh` fetches now. */
export interface GitBackend extends EnvironmentBackend {
  start(): Promise<void>;
  refresh(): Promise<void>;
}

// Branch and tag names as git allows them, minus what rev-parse would read as an expression or an option
// (`-x`, `@{…}`, `^`, `~`, `:`): a label only ever names a ref or a commit.
const REF_NAME = /^[A-Za-z0-9_][A-Za-z0-9._/+-]*$/;
const COMMIT_ID = /^[0-9a-f]{7,40}$/i;
const DEFAULT_REFRESH_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 5_000;

function checkLabel(label: string): void {
  if (!REF_NAME.test(label) || label.includes('..') || label.includes('//') || label.endsWith('.lock')) {
    throw new ConfigServerError('invalid_request', 'Invalid Request: label must be a branch, tag or commit id');
  }
}

function checkSearchPath(path: string): string {
  const p = path.replace(/^\.?\/+/, '').replace(/\/+$/, '');
  if (p === '' || p.split('/').some((s) => s === '..' || s === '.') || p.includes('\\') || p.includes('\0')) {
    throw new ConfigServerError(
      'invalid_request',
      `search path ${JSON.stringify(path)} must stay inside the repository`,
    );
  }
  return p;
}

/** Small least-recently-used map: objects are immutable, so entries never go stale, they only take memory. */
class Lru<K, V> {
  readonly #map = new Map<K, V>();
  constructor(readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as K);
  }
}

interface ParsedBlob {
  readonly documents?: readonly ConfigDocument[];
  readonly error?: string;
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

function shownUri(uri: string): string {
  const masked = maskCredentials(uri).replace(/\/+$/, '');
  // A plain path gets `file:` as native sources do, so a client can tell a file source by its name.
  return /^[a-z][a-z0-9+.-]*:/i.test(masked) && !/^[a-z]:[\\/]/i.test(masked) ? masked : `file:${masked}`;
}

/**
 * One remote repository mirrored under the data directory. Reads go to the object database by commit id
 * (`ls-tree`, `cat-file`), never through a work tree, so any number of labels are served at once while a fetch
 * runs; a failed fetch leaves the refs (the last good state) as they were.
 */
class Mirror {
  readonly dir: string;
  refs: Refs = EMPTY_REFS;
  ready = false;
  lastFetch: FetchState | undefined;
  #running: Promise<void> | undefined;
  readonly #trees = new Lru<string, Map<string, string>>(32);
  readonly #commits = new Lru<string, string | null>(256);

  constructor(
    readonly uri: string,
    private readonly owner: GitBackendInternals,
  ) {
    const digest = createHash('sha1').update(uri).digest('hex').slice(0, 12);
    const tail = (
      uri
        .replace(/[/\\]+$/, '')
        .split(/[/\\:]/)
        .pop() ?? 'repo'
    )
      .replace(/[^\w.-]/g, '_')
      .slice(0, 40);
    this.dir = join(owner.baseDir, `${tail}-${digest}.git`);
  }

  git(args: readonly string[], input?: string, timeoutMs = this.owner.timeoutMs): Promise<Buffer> {
    return runGit(args, {
      gitDir: this.dir,
      timeoutMs,
      signal: this.owner.closing.signal,
      ...(input === undefined ? {} : { input }),
      ...(this.owner.env === undefined ? {} : { env: this.owner.env }),
    });
  }

  /** Clones when there is no mirror yet, fetches otherwise; one run at a time. */
  sync(): Promise<void> {
    this.#running ??= this.#sync().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #sync(): Promise<void> {
    const before = this.refs;
    try {
      if (!this.ready && !(await exists(join(this.dir, 'HEAD')))) await this.#clone();
      else await this.git(['fetch', '--prune', '--quiet', 'origin']);
      this.lastFetch = { at: new Date().toISOString() };
    } catch (err) {
      const reason = err instanceof GitCommandError ? err.message : 'git could not be run';
      this.lastFetch = { at: new Date().toISOString(), error: reason };
      this.owner.logger?.warn(
        { repository: maskCredentials(this.uri), reason },
        'git fetch failed; serving the last good state',
      );
      // An existing mirror from an earlier run still serves, even when the remote is down from the start.
      if (!this.ready && !(await exists(join(this.dir, 'HEAD')))) return;
    }
    this.refs = await this.#readRefs();
    this.ready = true;
    const paths = await this.#changedPaths(before, this.refs);
    if (paths !== undefined) this.owner.emit({ paths });
  }

  async #clone(): Promise<void> {
    await mkdir(this.owner.baseDir, { recursive: true });
    // Cloned beside the final place and renamed, so a clone cut short never looks like a mirror.
    const temp = `${this.dir}.tmp-${process.pid}`;
    await rm(temp, { recursive: true, force: true });
    try {
      await runGit(['clone', '--mirror', '--quiet', '--', this.uri, temp], {
        timeoutMs: this.owner.timeoutMs * 6,
        signal: this.owner.closing.signal,
        ...(this.owner.env === undefined ? {} : { env: this.owner.env }),
      });
      await rename(temp, this.dir);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  async #readRefs(): Promise<Refs> {
    const out = await this.git([
      'for-each-ref',
      '--format=%(objectname) %(*objectname) %(refname)',
      'refs/heads',
      'refs/tags',
    ]);
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

  /** The files that changed between two ref states; undefined when nothing moved. */
  async #changedPaths(before: Refs, after: Refs): Promise<string[] | undefined> {
    const moved: [string | undefined, string | undefined][] = [];
    for (const kind of ['heads', 'tags'] as const) {
      const names = new Set([...before[kind].keys(), ...after[kind].keys()]);
      for (const n of names) {
        const a = before[kind].get(n);
        const b = after[kind].get(n);
        if (a !== b) moved.push([a, b]);
      }
    }
    if (moved.length === 0 || before === EMPTY_REFS) return moved.length === 0 ? undefined : [];
    const paths = new Set<string>();
    for (const [a, b] of moved) {
      if (a === undefined || b === undefined) continue;
      const out = await this.git(['diff', '--name-only', '-z', a, b]).catch(() => Buffer.alloc(0));
      for (const p of out.toString('utf8').split('\0')) if (p !== '') paths.add(p);
    }
    return [...paths].sort();
  }

  /** A label (or the default) → the served label and its commit; `no_such_label` when neither ref nor commit. */
  async resolve(label: string | undefined): Promise<{ label: string; commit: string }> {
    if (!this.ready) {
      throw new ConfigServerError('backend_unavailable', 'the git repository has not been cloned yet');
    }
    let wanted = label ?? this.owner.defaultLabel;
    // Spring's fallback: repositories made before git's default branch became `main` still serve without a label.
    if (label === undefined && wanted === 'main' && !this.refs.heads.has('main') && this.refs.heads.has('master')) {
      wanted = 'master';
    }
    checkLabel(wanted);
    const ref = this.refs.heads.get(wanted) ?? this.refs.tags.get(wanted);
    if (ref !== undefined) return { label: wanted, commit: ref };
    if (COMMIT_ID.test(wanted)) {
      const key = wanted.toLowerCase();
      let commit = this.#commits.get(key);
      if (commit === undefined) {
        const out = await this.git(['rev-parse', '--verify', '--quiet', `${key}^{commit}`]).catch(() => undefined);
        commit = out?.toString('utf8').trim() || null;
        this.#commits.set(key, commit);
      }
      if (commit !== null) return { label: wanted, commit };
    }
    throw new ConfigServerError('no_such_label', `No such label: ${wanted}`);
  }

  /** Path → blob id of every regular file at a commit (cached: a commit never changes). */
  async tree(commit: string): Promise<Map<string, string>> {
    let files = this.#trees.get(commit);
    if (files === undefined) {
      files = parseLsTree(await this.git(['ls-tree', '-r', '-z', '--full-tree', commit]));
      this.#trees.set(commit, files);
    }
    return files;
  }
}

interface GitBackendInternals {
  readonly baseDir: string;
  readonly defaultLabel: string;
  readonly timeoutMs: number;
  readonly env: Readonly<Record<string, string | undefined>> | undefined;
  readonly logger: Logger | undefined;
  readonly closing: AbortController;
  emit(change: BackendChange): void;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Spring's git backend over the git command line: label = branch, tag or commit id; `version` = the commit id.
 * Mirrors are cloned on start and fetched in the background every `refreshMs`, never on the request path; when the
 * remote is down the last fetched state keeps serving and health shows the fetch error. A fetch that moves a ref
 * tells subscribers (watch streams) which files changed.
 *
 * @example
 * const git = createGitBackend({ uri: 'https://example.org/config-repo.git', baseDir: 'data/config-git', defaultLabel: 'main' });
 * await git.start();
 */
export function createGitBackend(options: GitBackendOptions): GitBackend {
  if (options.uri.trim() === '') throw new ConfigServerError('invalid_request', 'the git uri is empty');
  const templated = options.uri.includes('{application}');
  const searchPaths = (options.searchPaths ?? []).map(checkSearchPath);
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  const listeners = new Set<(change: BackendChange) => void>();
  const parsed = new Lru<string, ParsedBlob>(2000);
  // Blobs that did not parse, by path, for health; reset when a path parses again.
  const broken = new Map<string, string>();
  const mirrors = new Map<string, Mirror>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const internals: GitBackendInternals = {
    baseDir: options.baseDir,
    defaultLabel: options.defaultLabel,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    env: options.env,
    logger: options.logger,
    closing: new AbortController(),
    emit(change) {
      for (const l of listeners) l(change);
    },
  };

  function uriFor(application: string): string {
    return templated ? options.uri.replaceAll('{application}', application) : options.uri;
  }

  async function mirrorFor(applications: readonly string[]): Promise<Mirror> {
    // With `{application}` the last named application's repository serves (it is the most specific one).
    const uri = uriFor(applications[applications.length - 1] ?? 'application');
    let mirror = mirrors.get(uri);
    if (mirror === undefined) {
      mirror = new Mirror(uri, internals);
      mirrors.set(uri, mirror);
    }
    // Only an application's first request waits for its clone; later ones use what the background fetched.
    if (!mirror.ready && mirror.lastFetch === undefined) await mirror.sync();
    return mirror;
  }

  function prefixes(
    request: { applications: readonly string[]; profiles: readonly string[] },
    label: string,
  ): string[] {
    const out: string[] = [];
    // Later search paths override earlier ones and all of them override the root, as later Spring locations do.
    for (const path of [...searchPaths].reverse()) {
      const apps = path.includes('{application}') ? [...request.applications].reverse() : [''];
      const profiles = path.includes('{profile}') ? [...request.profiles].reverse() : [''];
      for (const a of apps)
        for (const p of profiles) {
          const expanded = path.replaceAll('{application}', a).replaceAll('{profile}', p).replaceAll('{label}', label);
          out.push(`${checkSearchPath(expanded)}/`);
        }
    }
    out.push('');
    return [...new Set(out)];
  }

  async function readBlobs(mirror: Mirror, ids: readonly string[]): Promise<Map<string, Buffer>> {
    if (ids.length === 0) return new Map();
    return parseCatFileBatch(await mirror.git(['cat-file', '--batch'], `${ids.join('\n')}\n`));
  }

  async function findOne(request: EnvironmentRequest): Promise<BackendEnvironment> {
    const mirror = await mirrorFor(request.applications);
    const { label, commit } = await mirror.resolve(request.label);
    const files = await mirror.tree(commit);
    const wanted = candidateFiles(request, prefixes(request, label))
      .map((path) => ({ path, blob: files.get(path) }))
      .filter((f): f is { path: string; blob: string } => f.blob !== undefined);
    const missing = [...new Set(wanted.filter((f) => parsed.get(f.blob) === undefined).map((f) => f.blob))];
    const contents = await readBlobs(mirror, missing);
    const shown = shownUri(mirror.uri);
    const propertySources: PropertySource[] = [];
    for (const { path, blob } of wanted) {
      let entry = parsed.get(blob);
      if (entry === undefined) {
        entry = parseBlob(path, contents.get(blob));
        parsed.set(blob, entry);
      }
      if (entry.error !== undefined) {
        broken.set(`${label}:${path}`, entry.error);
        continue;
      }
      broken.delete(`${label}:${path}`);
      const name = `${shown}/${path}`;
      propertySources.push(...fileSources(entry.documents ?? [], { name, shown: name, file: path }, request.profiles));
    }
    return { label, version: commit, state: null, propertySources };
  }

  function parseBlob(path: string, content: Buffer | undefined): ParsedBlob {
    if (content === undefined) return { error: 'object missing from the repository' };
    try {
      return { documents: parseConfigFile(path, content.toString('utf8')) };
    } catch (err) {
      // Only our own parser messages are kept: they name a line, never quote the file (which may hold secrets).
      const reason = err instanceof ConfigFileError ? err.message : 'unreadable';
      options.logger?.warn({ file: path, reason }, 'config file skipped: it does not parse');
      return { error: reason };
    }
  }

  async function findResource(request: ResourceRequest): Promise<Buffer> {
    const mirror = await mirrorFor([request.application]);
    const { label, commit } = await mirror.resolve(request.label);
    const files = await mirror.tree(commit);
    for (const path of resourceCandidates(
      request.path,
      request.profiles,
      prefixes({ applications: [request.application], profiles: request.profiles }, label),
    )) {
      const blob = files.get(path);
      if (blob === undefined || request.admits?.(path) === false) continue;
      const content = (await readBlobs(mirror, [blob])).get(blob);
      if (content !== undefined) return Buffer.from(content);
    }
    throw new ConfigServerError('no_such_resource', `No such resource: ${request.path}`);
  }

  async function refresh(): Promise<void> {
    await Promise.all([...mirrors.values()].map((m) => m.sync()));
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => {
      refresh()
        .catch((err: unknown) => options.logger?.warn({ err }, 'git refresh failed'))
        .finally(schedule);
    }, refreshMs);
    // Background work must not keep a stopping process alive.
    timer.unref();
  }

  function health(): Promise<Health> {
    const repositories = [...mirrors.values()].map((m) => {
      const defaultCommit = m.refs.heads.get(options.defaultLabel) ?? m.refs.heads.get('master');
      return {
        uri: maskCredentials(m.uri),
        cloned: m.ready,
        ...(m.lastFetch === undefined ? {} : { lastFetch: m.lastFetch.at }),
        ...(m.lastFetch?.error === undefined ? {} : { fetchError: m.lastFetch.error }),
        ...(defaultCommit === undefined ? {} : { commit: defaultCommit }),
      };
    });
    const brokenList = [...broken].map(([file, reason]) => ({ file, reason }));
    // A failing fetch alone stays UP: the last good state still serves, and a DOWN would make load balancers drop
    // a server that can answer. Nothing cloned, or a broken file, is DOWN.
    const down = repositories.some((r) => !r.cloned) || brokenList.length > 0;
    return Promise.resolve({
      status: down ? 'DOWN' : 'UP',
      details: {
        backend: 'git',
        uri: maskCredentials(options.uri),
        refreshSeconds: refreshMs / 1000,
        repositories,
        ...(brokenList.length > 0 ? { broken: brokenList } : {}),
      },
    });
  }

  return {
    kind: 'git',
    async start() {
      // With `{application}` repositories are cloned on each application's first request.
      if (!templated) {
        const mirror = new Mirror(options.uri, internals);
        mirrors.set(options.uri, mirror);
        await mirror.sync();
      }
      schedule();
    },
    refresh,
    findOne,
    findResource,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    health,
    close() {
      closed = true;
      clearTimeout(timer);
      listeners.clear();
      internals.closing.abort();
      return Promise.resolve();
    },
  };
}
