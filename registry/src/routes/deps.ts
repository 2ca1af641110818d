// What every route of the Eureka API is built from.
import type { ApiAccess } from '../api-docs.ts';
import type { ResponseCache } from '../http/response-cache.ts';
import type { StreamSlots } from '../http/stream-slots.ts';
import type { RegistrationLimits } from '../registry/limits.ts';
import type { Registry } from '../registry/registry.ts';

export interface RouteDeps {
  readonly registry: Registry;
  readonly cache: ResponseCache;
  /** Aborted when the service begins to stop: watch streams end on it. */
  readonly stopping: AbortSignal;
  /** Interval of the watch stream's `: ping` comments. */
  readonly watchPingMs: number;
  /** Changes a watch client may fall behind by before its stream is ended (it reconnects to a fresh snapshot). */
  readonly watchMaxQueued: number;
  /** Longest a write may wait for a watch client to read before its stream is cut. */
  readonly watchWriteTimeoutMs: number;
  /** The open event streams, capped (shared with the dashboard's stream). */
  readonly streams: StreamSlots;
  /** What a registration may claim and how much the registry holds. */
  readonly limits: RegistrationLimits;
  /** The credentials in force, for what each route's document says it needs. */
  readonly access: ApiAccess;
}
