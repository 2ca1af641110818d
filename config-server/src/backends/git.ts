// Spring's git backend: environments and plain files read from mirrored repositories, by branch, tag or commit id.
import type { Health, Logger } from '@trellis/kit';
import type { EnvironmentRequest, PropertySource } from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { candidateFiles, fileSources, resourceCandidates } from './files.ts';
import { maskCredentials } from './git-cli.ts';
import { BlobDocuments, type BlobFile } from './git-documents.ts';
import { GitMirrors } from './git-mirror.ts';
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
  /** Told after each clone or fetch, how long it took and whether it worked (the refresh meters). */
  readonly onRefresh?: ((seconds: number, ok: boolean) => void) | undefined;
}

/** A git backend; `start` clones (or reopens) and schedules background fetches, `refresh` fetches now. */
export interface GitBackend extends EnvironmentBackend {
  start(): Promise<void>;
  refresh(): Promise<void>;
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

/**
 * The directory prefixes to look in at `label`, most specific first: later search paths override earlier ones and
 * all of them override the root, as later Spring locations do.
 */
function searchPrefixes(
  searchPaths: readonly string[],
  request: { applications: readonly string[]; profiles: readonly string[] },
  label: string,
): string[] {
  const out: string[] = [];
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

function shownUri(uri: string): string {
  const masked = maskCredentials(uri).replace(/\/+$/, '');
  // A plain path gets `file:` as native sources do, so a client can tell a file source by its name.
  return /^[a-z][a-z0-9+.-]*:/i.test(masked) && !/^[a-z]:[\\/]/i.test(masked) ? masked : `file:${masked}`;
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
  const searchPaths = (options.searchPaths ?? []).map(checkSearchPath);
  const listeners = new Set<(change: BackendChange) => void>();
  const documents = new BlobDocuments(options.logger);
  const mirrors = new GitMirrors({
    ...options,
    onSync: options.onRefresh,
    onChange(change) {
      for (const l of listeners) l(change);
    },
  });

  async function findOne(request: EnvironmentRequest): Promise<BackendEnvironment> {
    const mirror = await mirrors.serving(request.applications);
    const { label, commit } = await mirror.resolve(request.label);
    const files = await mirror.tree(commit);
    const wanted = candidateFiles(request, searchPrefixes(searchPaths, request, label))
      .map((path) => ({ path, blob: files.get(path) }))
      .filter((f): f is BlobFile => f.blob !== undefined);
    const shown = shownUri(mirror.uri);
    const propertySources: PropertySource[] = [];
    for (const file of await documents.read(mirror, label, wanted)) {
      const name = `${shown}/${file.path}`;
      propertySources.push(...fileSources(file.documents, { name, shown: name, file: file.path }, request.profiles));
    }
    return { label, version: commit, state: null, propertySources };
  }

  async function findResource(request: ResourceRequest): Promise<Buffer> {
    const mirror = await mirrors.serving([request.application]);
    const { label, commit } = await mirror.resolve(request.label);
    const files = await mirror.tree(commit);
    const scope = { applications: [request.application], profiles: request.profiles };
    for (const path of resourceCandidates(request.path, request.profiles, searchPrefixes(searchPaths, scope, label))) {
      const blob = files.get(path);
      if (blob === undefined || request.admits?.(path) === false) continue;
      const content = (await mirror.blobs([blob])).get(blob);
      if (content !== undefined) return Buffer.from(content);
    }
    throw new ConfigServerError('no_such_resource', `No such resource: ${request.path}`);
  }

  function health(): Promise<Health> {
    const repositories = mirrors.statuses();
    const broken = documents.broken();
    // A failing fetch alone stays UP: the last good state still serves, and a DOWN would make load balancers drop
    // a server that can answer. Nothing cloned, or a broken file, is DOWN.
    const down = repositories.some((r) => !r.cloned) || broken.length > 0;
    return Promise.resolve({
      status: down ? 'DOWN' : 'UP',
      details: {
        backend: 'git',
        uri: maskCredentials(options.uri),
        refreshSeconds: mirrors.refreshMs / 1000,
        repositories,
        ...(broken.length > 0 ? { broken } : {}),
      },
    });
  }

  return {
    kind: 'git',
    start: () => mirrors.start(),
    refresh: () => mirrors.refresh(),
    findOne,
    findResource,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    health,
    close() {
      listeners.clear();
      mirrors.close();
      return Promise.resolve();
    },
  };
}
