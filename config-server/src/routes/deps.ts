// What the route modules share, and the checks on the `{name}/{profiles}[/{label}]` path parameters.
import type { Logger } from '@trellis/kit';
import type { Guard } from '../access/guard.ts';
import type { Ownership } from '../access/ownership.ts';
import type { EnvironmentBackend } from '../backends/types.ts';
import type { KeyChain } from '../cipher/index.ts';
import type { EnvironmentRequest } from '../environment/index.ts';
import { normalizeNameOrLabel, parseApplications, parseProfiles } from '../environment/index.ts';
import type { ConfigServerMetrics } from '../metrics.ts';
import type { ServedEnvironments } from '../served-environments.ts';
import type { Security } from './openapi.ts';

/** What the route modules share; built once in createApp. */
export interface RouteDeps {
  readonly environments: ServedEnvironments;
  readonly backend: EnvironmentBackend;
  readonly keys: KeyChain | undefined;
  readonly guard: Guard;
  /** Which documents each client may receive, whatever URL made the backend read them. */
  readonly ownership: Ownership;
  readonly logger: Logger;
  /** Aborted on shutdown so watch streams end and the server can drain. */
  readonly stopping: AbortSignal;
  readonly heartbeatMs: number;
  /** The server's own meters; undefined with metrics off. */
  readonly metrics?: ConfigServerMetrics | undefined;
  /** The credentials the API document says each route asks for; undefined on an open server. */
  readonly security: Security | undefined;
}

/** Validates the `{name}/{profiles}[/{label}]` path parameters (already percent-decoded by the router). */
export function environmentRequest(name: string, profiles: string, label?: string): EnvironmentRequest {
  const applications = parseApplications(name);
  const parsedProfiles = parseProfiles(profiles);
  return label === undefined
    ? { applications, profiles: parsedProfiles }
    : { applications, profiles: parsedProfiles, label: normalizeNameOrLabel(label, 'label') };
}

export const V2_MEDIA_TYPE = 'application/vnd.spring-cloud.config-server.v2+json';
