// The routes in force: those of the routes file (or, later, the config server) plus those created at run time
// through the management API, compiled into one table that is swapped whole. Runtime routes survive a refresh, as
// Spring's in-memory route repository does; a runtime route with a file route's id replaces it.
import { readFile } from 'node:fs/promises';
import { GatewayError } from '../errors.ts';
import type { RouteDefinition } from './definition.ts';
import { readGatewayDocument, type GatewayDocument } from './document.ts';
import { RouteTable, type CompileOptions } from './table.ts';

/** Where file routes come from: a YAML file today; the config server's `gateway` application is the next source. */
export interface RouteSource {
  /** Shown in logs and errors, e.g. the file name. */
  readonly name: string;
  load(): Promise<GatewayDocument>;
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
      return readGatewayDocument(text, env);
    },
  };
}

export type RouteOrigin = 'file' | 'api';

const EMPTY: GatewayDocument = {
  routes: [],
  defaultFilters: [],
  globalCors: [],
  connectTimeoutMs: undefined,
  responseTimeoutMs: undefined,
};

export class RouteManager {
  readonly #source: RouteSource | undefined;
  readonly #compile: Omit<CompileOptions, 'defaultFilters' | 'globalCors' | 'connectTimeoutMs' | 'responseTimeoutMs'>;
  #document: GatewayDocument = EMPTY;
  #runtime = new Map<string, RouteDefinition>();
  #table: RouteTable;

  constructor(
    source: RouteSource | undefined,
    compile: Omit<CompileOptions, 'defaultFilters' | 'globalCors' | 'connectTimeoutMs' | 'responseTimeoutMs'>,
  ) {
    this.#source = source;
    this.#compile = compile;
    this.#table = RouteTable.compile([], compile);
  }

  /** The table in force; read once per request. */
  get table(): RouteTable {
    return this.#table;
  }

  get document(): GatewayDocument {
    return this.#document;
  }

  /** Reloads the source; on any error the routes in force stay as they were. */
  async refresh(): Promise<RouteTable> {
    const document = this.#source === undefined ? EMPTY : await this.#source.load();
    this.#table = this.#build(document, this.#runtime);
    this.#document = document;
    return this.#table;
  }

  /** Creates or replaces a runtime route; resolves to whether it is new. Invalid definitions change nothing. */
  put(definition: RouteDefinition): boolean {
    const runtime = new Map(this.#runtime).set(definition.id, definition);
    const existed = this.#table.get(definition.id) !== undefined;
    this.#table = this.#build(this.#document, runtime);
    this.#runtime = runtime;
    return !existed;
  }

  /** Deletes a runtime route; file routes change only with the file. */
  delete(id: string): void {
    if (!this.#runtime.has(id)) {
      if (this.#document.routes.some((r) => r.id === id)) {
        throw new GatewayError(
          'route_conflict',
          `route ${id} is defined in the routes file; edit the file and POST /actuator/gateway/refresh`,
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
    return this.#runtime.has(id) ? 'api' : 'file';
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
