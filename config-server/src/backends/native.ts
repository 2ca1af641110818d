// Spring's native backend: config files in a local directory, watched so reads cost no file system call.
import { createHash } from 'node:crypto';
import { constants, statSync, watch, type FSWatcher } from 'node:fs';
import { lstat, open, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import type { Health, Logger } from '@trellis/kit';
import {
  ConfigFileError,
  parseConfigFile,
  type ConfigDocument,
  type EnvironmentRequest,
  type PropertySource,
} from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { CONFIG_FILE, candidateFiles, fileSources, resourceCandidates } from './files.ts';
import type { BackendChange, BackendEnvironment, EnvironmentBackend, ResourceRequest } from './types.ts';

export interface NativeBackendOptions {
  /** The directory tree, as configured (kept as written for source names: `file:config-repo/product.yml`). */
  readonly root: string;
  /** Served when the client names no label; needs no sub-directory. */
  readonly defaultLabel: string;
  /** Quiet time after the last file event before subscribers hear of it (editors write in bursts). Default 30 ms. */
  readonly debounceMs?: number;
  /** How long to wait before trying again to watch a repository that could not be watched. Default 5 s. */
  readonly watchRetryMs?: number;
  /**
   * How often to check that the watched directory is still the one at `root` (a symbolic link switched to a new
   * checkout, or the tree deleted and made again, sends no event into the old one). Default 1 s.
   */
  readonly rootCheckMs?: number;
  /**
   * Longest a found environment is served on the watcher's word alone before its files are checked again: some
   * file systems (network shares, VM bind mounts) change without sending events. Default 1 s.
   */
  readonly revalidateMs?: number;
  readonly logger?: Logger;
}

// Bounds the health scan so a huge tree (or a link loop) cannot stall the health endpoint.
const MAX_SCANNED_FILES = 5000;
// Enough for every (applications, profiles, label) a landscape asks for; older entries are dropped first.
const MAX_CACHED_RESULTS = 256;

interface Parsed {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
  readonly digest: string;
  readonly documents?: readonly ConfigDocument[];
  readonly error?: string;
}

interface Location {
  readonly dir: string;
  /** Relative to the root, `''` for the root itself. */
  readonly prefix: string;
}

function displayRoot(root: string): string {
  const n = normalize(root).replaceAll(sep, '/').replace(/\/+$/, '');
  return n.startsWith('./') ? n.slice(2) : n === '.' ? '' : n;
}

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

// What a path a client named can run into: it is simply not there (ELOOP: a link where O_NOFOLLOW found one;
// ENAMETOOLONG: a name longer than the file system takes). Never a 500.
const NOT_THERE = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EISDIR', 'EINVAL']);

/**
 * Reads a regular file without following a link in its last component (O_NOFOLLOW: a file swapped for a link after
 * it was checked is refused, not followed). Undefined when it is not there; EACCES and other errors are thrown.
 */
async function readNoFollow(file: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (NOT_THERE.has(errorCode(err) ?? '')) return undefined;
    throw err;
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * Spring's native backend: `{app}.yml|yaml|properties`, `{app}-{profile}.…` and `application.…` in a directory,
 * with optional `{label}/` sub-directories searched before the root.
 *
 * The repository is watched from the first read until `close` (the same watcher feeds the watch streams). While the
 * watcher is healthy its events are trusted: a found environment is kept until an event touches the tree, so a
 * steady read costs no file system call (the files are checked again at most once per `revalidateMs`); a read after
 * an event that has been delivered sees the change.
 * Parsed files are kept by inode, size and mtime, and a file an event names is read again. When the tree cannot be
 * watched (missing, or the watcher failed) every read checks the files again, as it would without a watcher.
 *
 * @example
 * const backend = createNativeBackend({ root: './config-repo', defaultLabel: 'main' });
 * const env = await backend.findOne({ applications: ['product'], profiles: ['docker'] });
 */
export function createNativeBackend(options: NativeBackendOptions): EnvironmentBackend {
  const root = resolve(options.root);
  const shown = displayRoot(options.root);
  const debounceMs = options.debounceMs ?? 30;
  const log = options.logger;
  const watchRetryMs = options.watchRetryMs ?? 5000;
  const rootCheckMs = options.rootCheckMs ?? 1000;
  const revalidateMs = options.revalidateMs ?? 1000;
  const cache = new Map<string, Parsed>();
  // Found environments by request, valid only while `watcher` is set: its events clear them.
  const results = new Map<string, { readonly found: BackendEnvironment; readonly at: number }>();
  const listeners = new Set<(change: BackendChange) => void>();
  let watcher: FSWatcher | undefined;
  let watchFailedAt: number | undefined;
  let retry: NodeJS.Timeout | undefined;
  let rootCheck: NodeJS.Timeout | undefined;
  // The watched directory (device and inode, links followed), to notice when `root` names another one.
  let watchedRoot: string | undefined;
  let closed = false;
  // Bumped by every sign of change; a read that started before the bump must not keep what it read.
  let generation = 0;
  let timer: NodeJS.Timeout | undefined;
  let pending = new Set<string>();

  const nameOf = (rel: string): string => (shown === '' ? rel : `${shown}/${rel}`);

  function invalidate(): void {
    generation++;
    results.clear();
  }

  /**
   * Whether `dir` (relative to the root, `''` for the root) and every directory above it are real directories:
   * symbolic links below the root are never followed, on any route. `memo` spares repeated checks within one read.
   */
  function realDir(dir: string, memo: Map<string, Promise<boolean>>): Promise<boolean> {
    if (dir === '') return Promise.resolve(true);
    let known = memo.get(dir);
    if (known === undefined) {
      const slash = dir.lastIndexOf('/');
      known = realDir(slash === -1 ? '' : dir.slice(0, slash), memo).then(
        (above) =>
          above &&
          lstat(join(root, dir)).then(
            (info) => info.isDirectory(),
            () => false,
          ),
      );
      memo.set(dir, known);
    }
    return known;
  }

  const dirOf = (rel: string): string => rel.slice(0, Math.max(0, rel.lastIndexOf('/')));

  /** A config file by its path relative to the root; undefined when it is not there or is not a regular file. */
  async function load(rel: string, memo: Map<string, Promise<boolean>>): Promise<Parsed | undefined> {
    const file = join(root, rel);
    let started = generation;
    if (!(await realDir(dirOf(rel), memo))) return undefined;
    let info;
    try {
      info = await lstat(file);
    } catch (err) {
      if (NOT_THERE.has(errorCode(err) ?? '')) return undefined;
      throw err;
    }
    // lstat: a symbolic link is not a file here, wherever it points.
    if (!info.isFile()) return undefined;
    const cached = cache.get(file);
    if (cached?.mtimeMs === info.mtimeMs && cached.size === info.size && cached.ino === info.ino) return cached;
    if (cached !== undefined) {
      // A file changed that no event has announced yet (or the tree is not watched): kept results are stale too.
      cache.delete(file);
      invalidate();
      started = generation;
    }
    let bytes: Buffer | undefined;
    try {
      bytes = await readNoFollow(file);
    } catch (err) {
      // Unreadable by the server (EACCES…): skipped like a file that does not parse, and shown in health.
      const reason = `cannot be read (${errorCode(err) ?? 'error'})`;
      log?.warn({ file: rel, reason }, 'config file skipped');
      return { mtimeMs: info.mtimeMs, size: info.size, ino: info.ino, digest: '', error: reason };
    }
    if (bytes === undefined) return undefined;
    const text = bytes.toString('utf8');
    const digest = createHash('sha1').update(text).digest('hex');
    let parsed: Parsed;
    try {
      const documents = parseConfigFile(file, text);
      parsed = { mtimeMs: info.mtimeMs, size: info.size, ino: info.ino, digest, documents };
    } catch (err) {
      // Only our own parser messages are kept: they name a line, never quote the file (which may hold secrets).
      const reason = err instanceof ConfigFileError ? err.message : 'unreadable';
      parsed = { mtimeMs: info.mtimeMs, size: info.size, ino: info.ino, digest, error: reason };
      log?.warn({ file: rel, reason }, 'config file skipped: it does not parse');
    }
    // An event during the read may have dropped this file's entry: what was read may predate it, so it is not kept.
    if (generation === started) cache.set(file, parsed);
    return parsed;
  }

  async function locations(
    label: string | undefined,
    memo: Map<string, Promise<boolean>>,
  ): Promise<{ label: string; locations: Location[] }> {
    const wanted = label ?? options.defaultLabel;
    const dir = resolve(root, wanted);
    if (!isInside(root, dir) || dir === root) {
      throw new ConfigServerError('invalid_request', 'Invalid Request: label escapes the repository');
    }
    // A label directory that is a link (or lies under one) is no label directory.
    if (await realDir(wanted, memo))
      return {
        label: wanted,
        locations: [
          { dir, prefix: `${wanted}/` },
          { dir: root, prefix: '' },
        ],
      };
    if (wanted === options.defaultLabel) return { label: wanted, locations: [{ dir: root, prefix: '' }] };
    throw new ConfigServerError('no_such_label', `No such label: ${wanted}`);
  }

  const resultKey = (request: EnvironmentRequest): string =>
    JSON.stringify([request.label ?? null, request.applications, request.profiles]);

  /** A kept result the watcher still vouches for: it has reported nothing since, and it was read recently. */
  function keptResult(key: string): BackendEnvironment | undefined {
    const kept = results.get(key);
    return kept !== undefined && watcher !== undefined && performance.now() - kept.at < revalidateMs
      ? kept.found
      : undefined;
  }

  async function findOne(request: EnvironmentRequest): Promise<BackendEnvironment> {
    ensureWatching();
    const key = resultKey(request);
    const kept = keptResult(key);
    if (kept !== undefined) return kept;
    const started = generation;
    const at = performance.now();
    const found = await readOne(request);
    // Kept only when the watcher saw the whole read through: an event since then may have come too late for it.
    if (watcher !== undefined && generation === started) {
      results.delete(key);
      results.set(key, { found, at });
      if (results.size > MAX_CACHED_RESULTS) results.delete(results.keys().next().value ?? '');
    }
    return found;
  }

  async function readOne(request: EnvironmentRequest): Promise<BackendEnvironment> {
    const memo = new Map<string, Promise<boolean>>();
    const { label, locations: locs } = await locations(request.label, memo);
    const files = candidateFiles(
      request,
      locs.map((l) => l.prefix),
    );
    const loaded = await Promise.all(files.map(async (rel) => ({ rel, parsed: await load(rel, memo) })));
    const propertySources: PropertySource[] = [];
    const version = createHash('sha1');
    let any = false;
    for (const { rel, parsed } of loaded) {
      if (parsed === undefined || parsed.error !== undefined) continue;
      any = true;
      version.update(`${rel}\0${parsed.digest}\0`);
      propertySources.push(
        ...fileSources(
          parsed.documents ?? [],
          { name: `file:${nameOf(rel)}`, shown: nameOf(rel), file: rel },
          request.profiles,
        ),
      );
    }
    return { label, version: any ? version.digest('hex') : null, state: null, propertySources };
  }

  async function findResource(request: ResourceRequest): Promise<Buffer> {
    const memo = new Map<string, Promise<boolean>>();
    const { locations: locs } = await locations(request.label, memo);
    const candidates = resourceCandidates(
      request.path,
      request.profiles,
      locs.map((l) => l.prefix),
    );
    for (const rel of candidates) {
      if (request.admits?.(rel) === false || !(await realDir(dirOf(rel), memo))) continue;
      let bytes: Buffer | undefined;
      try {
        bytes = await readNoFollow(join(root, rel));
      } catch (err) {
        // Unreadable by the server: as good as absent to the client; the log says which file.
        log?.warn({ file: rel, code: errorCode(err) }, 'plain resource cannot be read');
        continue;
      }
      if (bytes !== undefined) return bytes;
    }
    throw new ConfigServerError('no_such_resource', `No such resource: ${request.path}`);
  }

  function emit(): void {
    timer = undefined;
    const change: BackendChange = { paths: [...pending].sort() };
    pending = new Set();
    for (const l of listeners) l(change);
  }

  function schedule(): void {
    clearTimeout(timer);
    timer = setTimeout(emit, debounceMs);
  }

  function onEvent(filename: string | Buffer | null): void {
    invalidate();
    const rel = filename === null ? '' : String(filename);
    if (rel === '') {
      // The root itself was renamed or removed: its watcher will hear nothing of whatever takes its place.
      cache.clear();
      rewatch();
    } else {
      // A directory event (renamed, removed) stands for every file under it.
      const changed = join(root, rel);
      for (const file of cache.keys()) if (file === changed || file.startsWith(changed + sep)) cache.delete(file);
      pending.add(rel.replaceAll(sep, '/'));
    }
    schedule();
  }

  function stopWatching(): void {
    watcher?.close();
    watcher = undefined;
    watchedRoot = undefined;
    clearTimeout(retry);
    clearInterval(rootCheck);
    invalidate();
  }

  function rewatch(): void {
    stopWatching();
    ensureWatching();
    if (listeners.size > 0) schedule();
  }

  function rootIdentity(): string {
    const info = statSync(root);
    return `${info.dev}:${info.ino}`;
  }

  function checkRoot(): void {
    void stat(root).then(
      (info) => {
        if (watcher !== undefined && `${info.dev}:${info.ino}` !== watchedRoot) rewatch();
      },
      () => {
        if (watcher !== undefined) rewatch();
      },
    );
  }

  function watchFailed(): void {
    watchFailedAt = performance.now();
    // Watch streams depend on the watcher even when nothing reads; unref'd, as the watcher itself does not hold the
    // process open either.
    clearTimeout(retry);
    if (listeners.size > 0) {
      retry = setTimeout(() => {
        // Timers may fire a little early; this one is the retry, whatever the clock says.
        watchFailedAt = Number.NEGATIVE_INFINITY;
        ensureWatching();
      }, watchRetryMs).unref();
    }
  }

  /**
   * Starts the watcher before a read relies on it, so no change can fall between the read and the first event. A
   * tree that cannot be watched is tried again after `watchRetryMs`; until then reads check the files themselves.
   */
  function ensureWatching(): void {
    if (watcher !== undefined || closed) return;
    if (watchFailedAt !== undefined && performance.now() - watchFailedAt < watchRetryMs) return;
    try {
      // Taken first: should the root be replaced in between, the next check sees a mismatch and watches again.
      const identity = rootIdentity();
      const started = watch(root, { recursive: true, persistent: false }, (_event, filename) => onEvent(filename));
      started.on('error', (err) => {
        log?.warn({ err }, 'watching the config repository failed; reads check the files until it is watched again');
        if (watcher !== started) return;
        stopWatching();
        watchFailed();
      });
      watcher = started;
      watchedRoot = identity;
      rootCheck = setInterval(checkRoot, rootCheckMs).unref();
      // Files may have changed while nothing watched them: what is kept was only checked by stat.
      invalidate();
      // Events of the unwatched time are lost: subscribers check their environments again.
      if (watchFailedAt !== undefined && listeners.size > 0) schedule();
      watchFailedAt = undefined;
    } catch (err) {
      if (watchFailedAt === undefined) {
        log?.warn({ err, root }, 'cannot watch the config repository; reads check the files, watch streams wait');
      }
      watchFailed();
    }
  }

  async function scan(dir: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (out.length >= MAX_SCANNED_FILES || e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) await scan(full, out);
      else if (e.isFile() && CONFIG_FILE.test(e.name)) out.push(full);
    }
  }

  async function health(): Promise<Health> {
    try {
      if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
    } catch {
      return { status: 'DOWN', details: { backend: 'native', repository: shown, error: 'repository not found' } };
    }
    const files: string[] = [];
    await scan(root, files);
    const broken: { file: string; reason: string }[] = [];
    const memo = new Map<string, Promise<boolean>>();
    for (const file of files) {
      const parsed = await load(relative(root, file).replaceAll(sep, '/'), memo).catch(() => undefined);
      if (parsed?.error !== undefined)
        broken.push({ file: nameOf(relative(root, file).replaceAll(sep, '/')), reason: parsed.error });
    }
    return {
      status: broken.length === 0 ? 'UP' : 'DOWN',
      details: { backend: 'native', repository: shown, files: files.length, ...(broken.length > 0 ? { broken } : {}) },
    };
  }

  return {
    kind: 'native',
    findOne,
    currentVersion: (request) => keptResult(resultKey(request))?.version,
    findResource,
    subscribe(listener) {
      listeners.add(listener);
      ensureWatching();
      return () => {
        listeners.delete(listener);
      };
    },
    health,
    close() {
      closed = true;
      listeners.clear();
      stopWatching();
      clearTimeout(timer);
      return Promise.resolve();
    },
  };
}
