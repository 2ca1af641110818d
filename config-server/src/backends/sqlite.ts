// Spring's JDBC backend over the SQLite property store.
import type { Health } from '@trellis/kit';
import type { EnvironmentRequest, PropertySource } from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import type { PropertyStore } from '../store/properties.ts';
import type { BackendChange, BackendEnvironment, EnvironmentBackend } from './types.ts';

export interface SqliteBackendOptions {
  readonly store: PropertyStore;
  /** Spring's JDBC default label is `master`, whatever the other backends use. */
  readonly defaultLabel?: string;
  /** Shown in health (the file, never its content). */
  readonly file?: string;
}

/**
 * Spring's JDBC backend over the SQLite property store: for each application (the requested ones, then
 * `application`) and each profile (the requested ones, then `default`), the rows of PROPERTIES become a source
 * named `{application}-{profile}`, most specific first, as JdbcEnvironmentRepository orders them. Like Spring, an
 * unknown label is an empty environment, and `version` is null.
 *
 * @example
 * const backend = createSqliteBackend({ store: openPropertyStore({ file: 'data/config.sqlite' }) });
 */
export function createSqliteBackend(options: SqliteBackendOptions): EnvironmentBackend {
  const defaultLabel = options.defaultLabel ?? 'master';
  const { store } = options;
  return {
    kind: 'sqlite',
    findOne(request: EnvironmentRequest): Promise<BackendEnvironment> {
      const label = request.label ?? defaultLabel;
      const applications = [...new Set(['application', ...request.applications])].reverse();
      const profiles = [...new Set(['default', ...request.profiles])].reverse();
      const propertySources: PropertySource[] = [];
      for (const application of applications) {
        for (const profile of profiles) {
          const rows = store.read({ application, profile, label });
          if (rows.length > 0)
            propertySources.push({
              name: `${application}-${profile}`,
              source: Object.fromEntries(rows),
              document: { application },
            });
        }
      }
      return Promise.resolve({ label, version: null, state: null, propertySources });
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
      try {
        return Promise.resolve({
          status: 'UP',
          details: {
            backend: 'sqlite',
            ...(options.file === undefined ? {} : { file: options.file }),
            properties: store.count(),
          },
        });
      } catch {
        return Promise.resolve({
          status: 'DOWN',
          details: { backend: 'sqlite', error: 'the database cannot be read' },
        });
      }
    },
    close() {
      store.close();
      return Promise.resolve();
    },
  };
}
