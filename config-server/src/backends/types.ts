// What a backend (native, git, SQLite, composite) answers and promises.
import type { Health } from '@trellis/kit';
import type { EnvironmentRequest, PropertySource } from '../environment/index.ts';

/** What a backend finds for (applications, profiles, label): property sources most specific first, and a version. */
export interface BackendEnvironment {
  /** The label actually served (the default label when the client named none). */
  readonly label: string | null;
  /** Changes whenever any served source changes (git: the commit id; native: a digest of the files). */
  readonly version: string | null;
  readonly state: string | null;
  readonly propertySources: readonly PropertySource[];
}

export interface ResourceRequest {
  readonly application: string;
  readonly profiles: readonly string[];
  readonly label?: string;
  /** Relative path with `/` separators, already checked for `..`. */
  readonly path: string;
  /**
   * Whether the client may receive the file at this path (relative to the repository root, label directory and
   * search path included); candidates it refuses are passed over as if they did not exist.
   */
  readonly admits?: (file: string) => boolean;
}

export interface BackendChange {
  /** Paths (relative to the backend's root) that changed, when the backend knows them. */
  readonly paths: readonly string[];
}

/**
 * A source of configuration. Native, git and SQLite backends implement it; a composite can list several in order.
 * `findOne` throws `ConfigServerError('no_such_label')` for an unknown label and never throws for a malformed file
 * (it skips the file and reports it through `health`).
 */
export interface EnvironmentBackend {
  readonly kind: string;
  findOne(request: EnvironmentRequest): Promise<BackendEnvironment>;
  /**
   * The version `findOne` would answer now, when the backend knows it without any I/O (a native tree whose watcher
   * has reported nothing since the last read); undefined when only a read can tell. Lets cached bodies be served
   * on the request's own tick.
   */
  currentVersion?(request: EnvironmentRequest): string | null | undefined;
  /** A plain text resource; throws `no_such_resource` or `no_such_label`. */
  findResource(request: ResourceRequest): Promise<Buffer>;
  /** Tells `listener` when sources may have changed; returns the unsubscribe function. */
  subscribe(listener: (change: BackendChange) => void): () => void;
  health(): Promise<Health>;
  close(): Promise<void>;
}
