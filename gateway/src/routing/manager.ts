// The routes in force, compiled into one table that is swapped whole.

// Requests under way finish on the table they matched; no connection is dropped. Three layers, highest precedence
// first:
//
//   1. runtime routes, created through POST /actuator/gateway/routes/{id}: they survive every refresh (as Spring's
//      in-memory route repository does) and a runtime route replaces a route of the same id from the layers below;
//   2. the config server's `spring.cloud.gateway.*` for the application `gateway`, when --config-uri is set;
//   3. the local routes file (--routes-file).
//
// Between 2 and 3 the rule is Spring's property precedence: remote configuration wins over the local file, and a
// list comes whole from one source. So each part (routes, default-filters, globalcors, httpclient timeouts) is taken
// from the config server when it sets that part, and from the file otherwise: a config server that sets routes
// replaces the file's whole route list (it does not merge route by route), and one that sets no gateway routes
// leaves the file's in force. A route set that does not compile (from either source) never replaces the working
// table: the load is refused, the source's problem is kept for /actuator/health, and the previous table stays.
import { readFile } from 'node:fs/promises';
import { GatewayError } from '../errors.ts';
import type { RouteDefinition } from './definition.ts';
import {
  complete,
  EMPTY_LAYER,
  overlay,
  readGatewayFile,
  type GatewayDocument,
  type GatewayLayer,
} from './document.ts';
import { RouteTable, type CompileOptions } from './table.ts';

/** Where routes come from besides the management API: the routes file, or the config server. */
export interface RouteSource {
  /** Shown in logs, health and errors, e.g. the file name. */
  readonly name: string;
  /**
   * The parts of the gateway configuration this source sets. `fresh` asks the source to fetch again first (POST
   * /actuator/gateway/refresh); otherwise it may answer from what it already holds (a config server change event).
   */
  load(fresh: boolean): Promise<GatewayLayer>;
}

export function fileRouteSource(file: string, env: Readonly<Record<string, string | undefined>> = {}): RouteSource {
  return {
    name: file,
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new GatewayError('invalid_route', `cannot read the routes file ${file}`, { cause: err });
      }
      return readGatewayFile(text, env);
    },
  };
}

/** Which layer a route in force comes from. */
export type RouteOrigin = 'file' | 'config' | 'api';

/** The layers a manager reads, lowest precedence first. */
export type SourceKind = 'file' | 'config';

export interface RouteSources {
  readonly file?: RouteSource | undefined;
  readonly config?: RouteSource | undefined;
}

/** A load a source's routes failed; cleared by that source's next successful load. */
export interface SourceProblem {
  readonly source: string;
  readonly message: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

/** The document the file and config server layers make together: the config server's parts over the file's. */
function combined(layers: Readonly<Record<SourceKind, GatewayLayer>>): GatewayDocument {
  return complete(overlay(layers.config, layers.file));
}

type ManagerCompileOptions = Omit<
  CompileOptions,
  'defaultFilters' | 'globalCors' | 'connectTimeoutMs' | 'responseTimeoutMs'
>;

export class RouteManager {
  readonly #sources: RouteSources;
  readonly #compile: ManagerCompileOptions;
  #layers: Readonly<Record<SourceKind, GatewayLayer>> = { file: EMPTY_LAYER, config: EMPTY_LAYER };
  #document: GatewayDocument = complete(EMPTY_LAYER);
  #runtime = new Map<string, RouteDefinition>();
  #table: RouteTable;
  readonly #problems = new Map<SourceKind, SourceProblem>();

  constructor(sources: RouteSources, compile: ManagerCompileOptions) {
    this.#sources = { ...sources };
    this.#compile = compile;
    this.#table = RouteTable.compile([], compile);
  }

  /** The table in force; read once per request. */
  get table(): RouteTable {
    return this.#table;
  }

  /** The file and config server layers as in force (runtime routes not included). */
  get document(): GatewayDocument {
    return this.#document;
  }

  /** Why the last load of a source was refused, per source; empty when every source's routes are in force. */
  get problems(): readonly SourceProblem[] {
    return [...this.#problems.values()];
  }

  /**
   * Reloads every source (fetching again unless `fresh` is false, as at start when the config client has just
   * fetched) and swaps the table. On any error the routes in force stay as they were and the error is thrown (a
   * GatewayError naming the source and the route).
   */
  async refresh(fresh = true): Promise<RouteTable> {
    const kinds = (['file', 'config'] as const).filter((k) => this.#sources[k] !== undefined);
    const loaded = await Promise.allSettled(kinds.map((k) => this.#load(k, fresh)));
    const layers = { ...this.#layers };
    for (const [i, result] of loaded.entries()) {
      const kind = kinds[i] as SourceKind;
      if (result.status === 'rejected') throw result.reason;
      layers[kind] = result.value;
    }
    return this.#apply(layers, kinds);
  }

  /**
   * Reloads one source from what it holds (a config server change event) and swaps the table; on error the routes in
   * force stay and the error is thrown.
   */
  async reload(kind: SourceKind): Promise<RouteTable> {
    if (this.#sources[kind] === undefined) return this.#table;
    const layer = await this.#load(kind, false);
    return this.#apply({ ...this.#layers, [kind]: layer }, [kind]);
  }

  /** Creates or replaces a runtime route; resolves to whether it is new. Invalid definitions change nothing. */
  put(definition: RouteDefinition): boolean {
    const runtime = new Map(this.#runtime).set(definition.id, definition);
    const existed = this.#table.get(definition.id) !== undefined;
    this.#table = this.#build(this.#document, runtime);
    this.#runtime = runtime;
    return !existed;
  }

  /** Deletes a runtime route; routes of the file or the config server change only there. */
  delete(id: string): void {
    if (!this.#runtime.has(id)) {
      if (this.#document.routes.some((r) => r.id === id)) {
        throw new GatewayError(
          'route_conflict',
          this.#layers.config.routes !== undefined
            ? `route ${id} comes from the config server (spring.cloud.gateway.routes of the application gateway); change it there`
            : `route ${id} is defined in the routes file; edit the file and POST /actuator/gateway/refresh`,
        );
      }
      throw new GatewayError('unknown_route', `there is no route ${id}`);
    }
    const runtime = new Map(this.#runtime);
    runtime.delete(id);
    this.#table = this.#build(this.#document, runtime);
    this.#runtime = runtime;
  }

  originOf(id: string): RouteOrigin {
    if (this.#runtime.has(id)) return 'api';
    return this.#layers.config.routes !== undefined ? 'config' : 'file';
  }

  async #load(kind: SourceKind, fresh: boolean): Promise<GatewayLayer> {
    const source = this.#sources[kind];
    if (source === undefined) return EMPTY_LAYER;
    try {
      return await source.load(fresh);
    } catch (err) {
      // A route set that cannot work is the source's problem to report; an unreachable config server is the config
      // client's (its own health component), and is over as soon as it answers again.
      if (err instanceof GatewayError && err.code === 'invalid_route') this.#refused(kind, err);
      throw err;
    }
  }

  /** Compiles the layers with the runtime routes; swaps only when that succeeds. */
  #apply(layers: Readonly<Record<SourceKind, GatewayLayer>>, loaded: readonly SourceKind[]): RouteTable {
    const document = combined(layers);
    let table: RouteTable;
    try {
      table = this.#build(document, this.#runtime);
    } catch (err) {
      // The route set a source just delivered is what failed to compile (the previous combination did compile); with
      // several sources reloaded, blame the ones that fail beside the others' routes in force.
      if (err instanceof GatewayError) for (const kind of this.#culprits(layers, loaded)) this.#refused(kind, err);
      throw err;
    }
    this.#table = table;
    this.#layers = layers;
    this.#document = document;
    for (const kind of loaded) this.#problems.delete(kind);
    return table;
  }

  #culprits(layers: Readonly<Record<SourceKind, GatewayLayer>>, loaded: readonly SourceKind[]): SourceKind[] {
    if (loaded.length < 2) return [...loaded];
    const failing = loaded.filter((kind) => {
      const alone = { ...this.#layers, [kind]: layers[kind] };
      try {
        this.#build(combined(alone), this.#runtime);
        return false;
      } catch {
        return true;
      }
    });
    return failing.length === 0 ? [...loaded] : failing;
  }

  #refused(kind: SourceKind, err: GatewayError): void {
    this.#problems.set(kind, {
      source: this.#sources[kind]?.name ?? kind,
      message: err.message,
      at: this.#compile.now(),
    });
  }

  #build(document: GatewayDocument, runtime: ReadonlyMap<string, RouteDefinition>): RouteTable {
    const definitions = [...document.routes.filter((r) => !runtime.has(r.id)), ...runtime.values()];
    return RouteTable.compile(definitions, {
      ...this.#compile,
      defaultFilters: document.defaultFilters,
      globalCors: document.globalCors,
      connectTimeoutMs: document.connectTimeoutMs,
      responseTimeoutMs: document.responseTimeoutMs,
    });
  }
}
