// Serialized GET /apps and /apps/delta bodies per (format, gzip). Eureka serves reads from a cache refreshed every
// 30 s, so a change can take that long to show; this one is dropped on every change event instead, so the next read
// after a write always reflects it while repeated reads between writes cost nothing.
import { groupApplications, renderApplications } from '../eureka/index.ts';
import type { WireFormat } from '../eureka/index.ts';
import type { Registry } from '../registry/registry.ts';
import { encode } from './negotiate.ts';
import type { EncodedBody } from './negotiate.ts';

export type CachedDocument = 'apps' | 'delta';

interface Entry {
  /** registry.deltaRevision when rendered: old changes leaving the delta window change the body without an event. */
  readonly revision: number;
  readonly body: EncodedBody;
}

export class ResponseCache {
  readonly #registry: Registry;
  readonly #entries = new Map<string, Entry>();
  readonly #unsubscribe: () => void;

  constructor(registry: Registry) {
    this.#registry = registry;
    this.#unsubscribe = registry.onChange(() => this.#entries.clear());
  }

  /** The body of GET /apps or /apps/delta, rendered on the first read after a change. */
  get(document: CachedDocument, format: WireFormat, gzip: boolean): EncodedBody {
    const key = `${document}:${format}:${gzip ? 'gzip' : 'plain'}`;
    // Time alone moves changes out of the delta window; pruning first makes that show in the revision.
    this.#registry.pruneDelta();
    const revision = this.#registry.deltaRevision;
    const hit = this.#entries.get(key);
    if (hit !== undefined && hit.revision === revision) return hit.body;
    const body = encode(this.#render(document, format), gzip);
    this.#entries.set(key, { revision, body });
    return body;
  }

  /** The JSON of GET /apps as a string (the watch stream's snapshot). */
  appsJson(): string {
    const body = this.get('apps', 'json', false);
    return typeof body === 'string' ? body : new TextDecoder().decode(body);
  }

  dispose(): void {
    this.#unsubscribe();
    this.#entries.clear();
  }

  #render(document: CachedDocument, format: WireFormat): string {
    const registry = this.#registry;
    const applications = document === 'apps' ? registry.applications() : groupApplications(registry.deltaInstances());
    return renderApplications(applications, {
      format,
      versionsDelta: registry.version,
      // A delta carries the hash of the whole registry: clients compare it with theirs after applying the delta.
      appsHashCode: registry.appsHashCode(),
    });
  }
}
