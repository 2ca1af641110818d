// What the dashboard shows, gathered from the registry in one synchronous step so the page is consistent.
import { availableParallelism, freemem, totalmem } from 'node:os';
import type { InstanceStatus } from '../eureka/index.ts';
import type { PeerStatus } from '../peers/replicator.ts';
import type { RecentCancellation, RecentEntry, Registry, RegistryStatus } from '../registry/registry.ts';

export interface SystemInfo {
  readonly totalMemoryBytes: number;
  readonly freeMemoryBytes: number;
  readonly residentBytes: number;
  readonly heapUsedBytes: number;
  readonly cpus: number;
  readonly nodeVersion: string;
}

export interface DashboardSources {
  readonly registry: Registry;
  readonly environment: string;
  /** When this node started (ms since the epoch), for the uptime. */
  readonly startedAt: number;
  readonly replicas: () => readonly PeerStatus[];
  readonly system: () => SystemInfo;
}

export interface InstanceLink {
  readonly id: string;
  /** The instance's statusPageUrl, checked by the page before it becomes a link. */
  readonly statusPageUrl: string | null;
}

export interface ApplicationRow {
  readonly name: string;
  readonly instances: number;
  readonly zones: readonly string[];
  readonly byStatus: readonly { readonly status: InstanceStatus; readonly instances: readonly InstanceLink[] }[];
}

export interface DashboardModel {
  readonly environment: string;
  readonly now: number;
  readonly uptimeMs: number;
  readonly status: RegistryStatus;
  readonly replicas: readonly PeerStatus[];
  readonly applications: readonly ApplicationRow[];
  readonly recentRegistrations: readonly RecentEntry[];
  readonly recentCancellations: readonly RecentCancellation[];
  readonly system: SystemInfo;
}

/** Statuses in the order an operator looks for them: what serves traffic first. */
const STATUS_ORDER: readonly InstanceStatus[] = ['UP', 'STARTING', 'OUT_OF_SERVICE', 'DOWN', 'UNKNOWN'];

export function dashboardModel(sources: DashboardSources): DashboardModel {
  const { registry } = sources;
  const now = registry.now();
  const applications = registry
    .applications()
    .map((application): ApplicationRow => {
      const zones = new Set<string>();
      const groups = new Map<InstanceStatus, InstanceLink[]>();
      for (const instance of application.instances) {
        // Spring Cloud puts the zone in metadata; without one the instance is in Eureka's "default" zone.
        zones.add(instance.metadata['zone'] ?? 'default');
        let group = groups.get(instance.status);
        if (group === undefined) {
          group = [];
          groups.set(instance.status, group);
        }
        group.push({ id: instance.instanceId, statusPageUrl: instance.statusPageUrl });
      }
      return {
        name: application.name,
        instances: application.instances.length,
        zones: [...zones].sort(),
        byStatus: STATUS_ORDER.flatMap((status) => {
          const group = groups.get(status);
          return group === undefined ? [] : [{ status, instances: group }];
        }),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    environment: sources.environment,
    now,
    uptimeMs: Math.max(0, now - sources.startedAt),
    status: registry.status(),
    replicas: sources.replicas(),
    applications,
    recentRegistrations: registry.recentRegistrations(),
    recentCancellations: registry.recentCancellations(),
    system: sources.system(),
  };
}

/** This process and machine, as the dashboard's "General info" shows them. */
export function processSystemInfo(): SystemInfo {
  const memory = process.memoryUsage();
  return {
    totalMemoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    residentBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    cpus: availableParallelism(),
    nodeVersion: process.version,
  };
}
