// Spring's JDBC backend over the property store (SQLite or PostgreSQL).
import type { Health } from '@trellis/kit';
import type { EnvironmentRequest, PropertySource } from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import type { PropertyStore } from '../store/properties.ts';
import type { BackendChange, BackendEnvironment, EnvironmentBackend } from './types.ts';

export interface JdbcBackendOptions {
  readonly store: PropertyStore;
  /** Spring's JDBC default label is `master`, whatever the other backends use. */
  readonly defaultLabel?: string;
}

/** The options of the backend's older name, when the store was SQLite only. */
export type SqliteBackendOptions = JdbcBackendOptions;

/**
 * Spring's JDBC backend over the property store: for each application (the requested ones, then `application`) and
 * each profile (the requested ones, then `default`), the rows of PROPERTIES become a source named
 * `{application}-{profile}`, most specific first, as JdbcEnvironmentRepository orders them. Like Spring, an unknown
 * label is an empty environment, and `version` is null. Its kind is the store's: `sqlite` or `jdbc`.
 *
 * @example
 * const backend = createJdbcBackend({ store: openPropertyStore({ file: 'data/config.sqlite' }) });
 */
export function createJdbcBackend(options: JdbcBackendOptions): EnvironmentBackend {
  const defaultLabel = options.defaultLabel ?? 'master';
  const { store } = options;
  return {
    kind: store.kind,
    async findOne(request: EnvironmentRequest): Promise<BackendEnvironment> {
      const label = request.label ?? defaultLabel;
      const applications = [...new Set(['application', ...request.applications])].reverse();
      const profiles = [...new Set(['default', ...request.profiles])].reverse();
      const scopes = applications.flatMap((application) => profiles.map((profile) => ({ application, profile })));
      // Read together (a database server answers them in parallel), kept in Spring's order.
      const rows = await Promise.all(scopes.map((s) => store.read({ ...s, label })));
      const propertySources: PropertySource[] = [];
      scopes.forEach(({ application, profile }, i) => {
        const found = rows[i] ?? [];
        if (found.length > 0)
          propertySources.push({
            name: `${application}-${profile}`,
            source: Object.fromEntries(found),
            document: { application },
          });
      });
      return { label, version: null, state: null, propertySources };
    },
    findResource(request) {
      return Promise.reject(new ConfigServerError('no_such_resource', `No such resource: ${request.path}`));
    },
    subscribe(listener: (change: BackendChange) => void) {
      return store.subscribe((scope) =>
        listener({ paths: scope === undefined ? [] : [`${scope.application}-${scope.profile}`] }),
      );
    },
    health(): Promise<Health> {
      return store.health();
    },
    close() {
      return store.close();
    },
  };
}

/** {@link createJdbcBackend}, by the name it had when SQLite was its only store. */
export const createSqliteBackend = createJdbcBackend;
