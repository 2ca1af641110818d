// Spring's composite backend: several backends in order, the first one's sources winning.
import { createHash } from 'node:crypto';
import { aggregateStatus, type Health } from '@trellis/kit';
import type { EnvironmentRequest, PropertySource } from '../environment/index.ts';
import { isConfigServerError } from '../errors.ts';
import type { BackendEnvironment, EnvironmentBackend, ResourceRequest } from './types.ts';

/**
 * Several backends in order, as Spring's composite: the first backend's sources come first (and so win). A backend
 * that does not know the label is left out rather than failing the request, so a tag that exists only in git still
 * serves next to a native tree; the label is unknown only when no backend knows it.
 *
 * @example
 * const backend = createCompositeBackend([native, git, sqlite]);
 */
export function createCompositeBackend(backends: readonly EnvironmentBackend[]): EnvironmentBackend {
  if (backends.length === 1 && backends[0] !== undefined) return backends[0];
  const list = [...backends];

  async function findOne(request: EnvironmentRequest): Promise<BackendEnvironment> {
    const results = await Promise.all(
      list.map((b) =>
        b.findOne(request).catch((err: unknown) => {
          if (isConfigServerError(err) && err.code === 'no_such_label') return err;
          throw err;
        }),
      ),
    );
    const found = results.filter((r): r is BackendEnvironment => !(r instanceof Error));
    if (found.length === 0) throw results[0] as Error;
    const propertySources: PropertySource[] = found.flatMap((f) => f.propertySources);
    const versions = found.map((f) => f.version);
    // A version must name the whole content (caches trust it), so an unversioned part (SQLite, like Spring's JDBC
    // backend) leaves the whole unversioned. One backend keeps its own (a commit id stays a commit id).
    const version = versions.some((v) => v === null)
      ? null
      : versions.length === 1
        ? (versions[0] ?? null)
        : createHash('sha1').update(versions.join('\0')).digest('hex');
    return { label: request.label ?? found[0]?.label ?? null, version, state: null, propertySources };
  }

  async function findResource(request: ResourceRequest): Promise<Buffer> {
    let first: unknown;
    for (const b of list) {
      try {
        return await b.findResource(request);
      } catch (err) {
        if (!isConfigServerError(err) || (err.code !== 'no_such_resource' && err.code !== 'no_such_label')) throw err;
        first ??= err;
      }
    }
    throw first;
  }

  return {
    kind: list.map((b) => b.kind).join(','),
    findOne,
    findResource,
    subscribe(listener) {
      const offs = list.map((b) => b.subscribe(listener));
      return () => offs.forEach((off) => off());
    },
    async health(): Promise<Health> {
      const parts = await Promise.all(list.map((b) => b.health()));
      const components: Record<string, Health> = {};
      // Named by kind (each kind is configured once); a repeated kind gets its position so none hides another.
      parts.forEach((h, i) => {
        const kind = list[i]?.kind ?? 'backend';
        components[kind in components ? `${kind}-${i + 1}` : kind] = h;
      });
      return { status: aggregateStatus(parts.map((p) => p.status)), components };
    },
    async close() {
      await Promise.all(list.map((b) => b.close()));
    },
  };
}
