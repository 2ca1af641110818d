import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import type { Health, Logger } from '@trellis/clients';
import {
  ConfigFileError,
  type ConfigDocument,
  type EnvironmentRequest,
  type PropertySource,
} from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { CONFIG_FILE, candidateFiles, fileSources, parseConfigFile, resourceCandidates } from './files.ts';
import type { BackendChange, BackendEnvironment, EnvironmentBackend, ResourceRequest } from './types.ts';

export interface NativeBackendOptions {
  /** The directory tree, as configured (kept as written for source names: `file:config-repo/product.yml`). */
  readonly root: string;
  /** Served when the client names no label; needs no sub-directory. */
  readonly defaultLabel: string;
  /** Quiet time after the last file event before subscribers hear of it (editors write in bursts). Default 30 ms. */
  readonly debounceMs?: number;
  readonly logger?: Logger;
}

// Bounds the health scan so a huge tree (or a link loop) cannot stall the health endpoint.
const MAX_SCANNED_FILES = 5000;

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

/**
 * Spring's native backend: `{app}.yml|yaml|properties`, `{app}-{profile}.…` and `application.…` in a directory,
 * with optional `{label}/` sub-directories searched before the root. Parsed files are cached by inode, size and
 * mtime and dropped on every file event.
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
  const cache = new Map<string, Parsed>();
  const listeners = new Set<(change: BackendChange) => void>();
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pending = new Set<string>();

  const nameOf = (rel: string): string => (shown === '' ? rel : `${shown}/${rel}`);

  async function load(file: string): Promise<Parsed | undefined> {
    let info;
    try {
      info = await stat(file);
    } catch (err) {
      if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return undefined;
      throw err;
    }
    if (!info.isFile()) return undefined;
    const cached = cache.get(file);
    if (cached?.mtimeMs === info.mtimeMs && cached.size === info.size && cached.ino === info.ino) return cached;
    const text = await readFile(file, 'utf8');
    const digest = createHash('sha1').update(text).digest('hex');
    let parsed: Parsed;
    try {
      const documents = parseConfigFile(file, text);
      parsed = { mtimeMs: info.mtimeMs, size: info.size, ino: info.ino, digest, documents };
    } catch (err) {
      // Only our own parser messages are kept: they name a line, never quote the file (which may hold secrets).
      const reason = err instanceof ConfigFileError ? err.message : 'unreadable';
      parsed = { mtimeMs: info.mtimeMs, size: info.size, ino: info.ino, digest, error: reason };
      log?.warn({ file: relative(root, file), reason }, 'config file skipped: it does not parse');
    }
    cache.set(file, parsed);
    return parsed;
  }

  async function locations(label: string | undefined): Promise<{ label: string; locations: Location[] }> {
    const wanted = label ?? options.defaultLabel;
    const dir = resolve(root, wanted);
    if (!isInside(root, dir) || dir === root) {
      throw new ConfigServerError('invalid_request', 'Invalid Request: label escapes the repository');
    }
    let isDir = false;
    try {
      isDir = (await stat(dir)).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir)
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

  async function findOne(request: EnvironmentRequest): Promise<BackendEnvironment> {
    const { label, locations: locs } = await locations(request.label);
    const files = candidateFiles(
      request,
      locs.map((l) => l.prefix),
    );
    const loaded = await Promise.all(files.map(async (rel) => ({ rel, parsed: await load(join(root, rel)) })));
    const propertySources: PropertySource[] = [];
    const version = createHash('sha1');
    let any = false;
    for (const { rel, parsed } of loaded) {
      if (parsed === undefined || parsed.error !== undefined) continue;
      any = true;
      version.update(`${rel}\0${parsed.digest}\0`);
      propertySources.push(
        ...fileSources(parsed.documents ?? [], { name: `file:${nameOf(rel)}`, shown: nameOf(rel) }, request.profiles),
      );
    }
    return { label, version: any ? version.digest('hex') : null, state: null, propertySources };
  }

  async function findResource(request: ResourceRequest): Promise<Buffer> {
    const { locations: locs } = await locations(request.label);
    const candidates = resourceCandidates(
      request.path,
      request.profiles,
      locs.map((l) => l.prefix),
    ).map((rel) => join(root, rel));
    const realRoot = await realpath(root).catch(() => root);
    for (const file of candidates) {
      let real: string;
      try {
        real = await realpath(file);
      } catch {
        continue;
      }
      // A symbolic link inside the tree must not serve files from outside it.
      if (!isInside(realRoot, real)) continue;
      const info = await stat(real);
      if (info.isFile()) return readFile(real);
    }
    throw new ConfigServerError('no_such_resource', `No such resource: ${request.path}`);
  }

  function emit(): void {
    timer = undefined;
    const change: BackendChange = { paths: [...pending].sort() };
    pending = new Set();
    for (const l of listeners) l(change);
  }

  function startWatching(): void {
    try {
      watcher = watch(root, { recursive: true, persistent: false }, (_event, filename) => {
        cache.clear();
        if (filename !== null) pending.add(String(filename).replaceAll(sep, '/'));
        clearTimeout(timer);
        timer = setTimeout(emit, debounceMs);
      });
      watcher.on('error', (err) => log?.warn({ err }, 'watching the config repository failed'));
    } catch (err) {
      log?.warn({ err, root }, 'cannot watch the config repository; watch streams will stay silent');
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
    for (const file of files) {
      const parsed = await load(file).catch(() => undefined);
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
    findResource,
    subscribe(listener) {
      listeners.add(listener);
      if (watcher === undefined) startWatching();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          watcher?.close();
          watcher = undefined;
          clearTimeout(timer);
        }
      };
    },
    health,
    close() {
      listeners.clear();
      watcher?.close();
      watcher = undefined;
      clearTimeout(timer);
      return Promise.resolve();
    },
  };
}
