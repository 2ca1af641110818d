// The instance operations as status codes, shared by the per-instance routes and the peer replication batch, so a
// replicated item is judged by exactly the rules of the request it stands for.
import type { InstanceInfo, InstanceStatus } from '../eureka/index.ts';
import type { Registry } from '../registry/registry.ts';

export interface OperationResult {
  readonly statusCode: 200 | 404 | 409;
  /** The registry's copy, sent with a 409 so a replica can sync from it. */
  readonly instance?: InstanceInfo;
}

export interface HeartbeatParams {
  readonly lastDirtyTimestamp?: number | undefined;
  readonly overriddenStatus?: InstanceStatus | undefined;
  readonly replicated: boolean;
}

export function heartbeat(registry: Registry, app: string, id: string, params: HeartbeatParams): OperationResult {
  const result = registry.renew(app, id, params);
  switch (result.outcome) {
    case 'renewed':
      return { statusCode: 200 };
    case 'not_found':
      return { statusCode: 404 };
    case 'conflict':
      return { statusCode: 409, instance: result.instance };
  }
}

export function cancel(registry: Registry, app: string, id: string, replicated: boolean): OperationResult {
  return { statusCode: registry.cancel(app, id, { replicated }) ? 200 : 404 };
}

export function setStatus(
  registry: Registry,
  app: string,
  id: string,
  status: InstanceStatus,
  params: { readonly lastDirtyTimestamp?: number | undefined; readonly replicated: boolean },
): OperationResult {
  return { statusCode: registry.setStatusOverride(app, id, status, params) ? 200 : 404 };
}

export function deleteStatusOverride(
  registry: Registry,
  app: string,
  id: string,
  params: {
    readonly status?: InstanceStatus | undefined;
    readonly lastDirtyTimestamp?: number | undefined;
    readonly replicated: boolean;
  },
): OperationResult {
  return { statusCode: registry.deleteStatusOverride(app, id, params) ? 200 : 404 };
}
