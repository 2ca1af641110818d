// POST /peerreplication/batch: a Eureka peer's batched changes. Each item is applied with the rules of the request
// it stands for and answered on its own (a bad item does not fail the batch); every item counts as replicated.
import { documented, type KitEnv } from '@trellis/kit';
import {
  badRequest,
  guarded,
  replicationBody,
  replicationResponse,
  tooLarge,
  unsupportedBody,
  writeSecurity,
} from '../api-docs.ts';
import { Hono } from 'hono';
import { parseReplicationBatch, renderReplicationResponse } from '../eureka/index.ts';
import type { ReplicationItem, ReplicationResponseItem } from '../eureka/index.ts';
import { limitError, RegistryError } from '../errors.ts';
import { acceptsGzip, sendDocument } from '../http/negotiate.ts';
import { paths } from '../http/params.ts';
import { admitRegistration, clampLease, futureTimestamp } from '../registry/limits.ts';
import type { RegistrationLimits } from '../registry/limits.ts';
import type { Registry } from '../registry/registry.ts';
import type { RouteDeps } from './deps.ts';
import { cancel, deleteStatusOverride, heartbeat, setStatus } from './instance-operations.ts';
import { utf8Body } from '../http/body.ts';

/** The most items Eureka puts in one batch (PeerEurekaNode's maxBatchingSize); our replicator sends as many. */
export const EUREKA_MAX_BATCH_ITEMS = 250;
/** Room per item beyond the registration: the item's own fields, and what Eureka adds (leaseInfo, defaults). */
const ITEM_OVERHEAD_BYTES = 2048;

/**
 * The request body limit a node needs for a full batch of the largest registrations it accepts. Eureka drops a batch
 * answered 413 whole (ReplicationTaskProcessor: "discarding N replication tasks") rather than splitting it, so under
 * the kit's default 1 MiB a burst of 250 registrations of over ~4 KB each from a Eureka peer was lost. Registration
 * bodies keep their own, smaller limit (--max-instance-bytes); nothing is read before the access check.
 */
export function replicationBodyLimit(limits: Pick<RegistrationLimits, 'maxInstanceBytes'>): number {
  return Math.max(1024 * 1024, EUREKA_MAX_BATCH_ITEMS * (limits.maxInstanceBytes + ITEM_OVERHEAD_BYTES));
}

export function peerReplicationRoutes(deps: RouteDeps): Hono<KitEnv> {
  const { registry, limits } = deps;
  const app = new Hono<KitEnv>();
  const operation = guarded(writeSecurity(deps.access), {
    summary: "A Eureka peer's batch of changes",
    description: 'Each item is applied with the rules of the request it stands for, and answered on its own.',
    tags: ['eureka'],
    requestBody: replicationBody(limits),
    responses: {
      200: replicationResponse,
      ...badRequest('not a {"replicationList": […]}'),
      ...tooLarge('a batch over the body limit'),
      ...unsupportedBody,
    },
  });
  app.on(
    'POST',
    paths('/peerreplication/batch'),
    documented(operation, async (c) => {
      const batch = parseReplicationBatch(await utf8Body(c), { now: registry.now() });
      if (!batch.ok) throw new RegistryError('invalid_request', batch.error.message);
      const responses = batch.value.map((item): ReplicationResponseItem => {
        if (!item.ok) {
          c.var.log.info({ reason: item.error.message }, 'replication item refused');
          return { statusCode: 400 };
        }
        const refused = refusal(registry, item.value, limits);
        if (refused !== undefined) {
          c.var.log.info({ action: item.value.action, reason: refused.reason }, 'replication item refused');
          return { statusCode: refused.statusCode };
        }
        return apply(registry, item.value, limits);
      });
      // The batch answer is always JSON (Eureka's ReplicationListResponse is a Jackson bean).
      return sendDocument(c, 200, renderReplicationResponse(responses), 'json', acceptsGzip(c));
    }),
  );
  return app;
}

/**
 * A peer is held to the rules of a client: the same limits and no lastDirtyTimestamp from the future, so a forged
 * batch (or a compromised peer) cannot do what a forged registration cannot. Undefined when the item may be applied.
 */
function refusal(
  registry: Registry,
  item: ReplicationItem,
  limits: RegistrationLimits,
): { statusCode: number; reason: string } | undefined {
  const now = registry.now();
  const violation =
    futureTimestamp(item.lastDirtyTimestamp, limits, now) ??
    futureTimestamp(item.instanceInfo?.lastDirtyTimestamp, limits, now);
  if (violation !== undefined) return { statusCode: limitError(violation).status, reason: violation.message };
  if (item.action !== 'Register' || item.instanceInfo === undefined) return undefined;
  const admitted = admitRegistration(registry, item.instanceInfo, limits, { measure: true });
  return admitted.ok
    ? undefined
    : { statusCode: limitError(admitted.violation).status, reason: admitted.violation.message };
}

function apply(registry: Registry, item: ReplicationItem, limits: RegistrationLimits): ReplicationResponseItem {
  const { appName: app, id } = item;
  const lastDirtyTimestamp = item.lastDirtyTimestamp ?? item.instanceInfo?.lastDirtyTimestamp;
  switch (item.action) {
    case 'Register': {
      // The codec refuses a Register without a valid instanceInfo, so it is always there.
      if (item.instanceInfo === undefined) return { statusCode: 400 };
      // refusal() admitted it; registered with the lease times lowered to the ceiling.
      registry.register(clampLease(item.instanceInfo, limits), { replicated: true });
      return { statusCode: 204 };
    }
    case 'Heartbeat': {
      const result = heartbeat(registry, app, id, {
        lastDirtyTimestamp,
        overriddenStatus: item.overriddenStatus ?? item.instanceInfo?.overriddenStatus,
        replicated: true,
      });
      return result.instance === undefined
        ? { statusCode: result.statusCode }
        : { statusCode: result.statusCode, responseEntity: result.instance };
    }
    case 'Cancel':
      return { statusCode: cancel(registry, app, id, true).statusCode };
    case 'StatusUpdate': {
      if (item.status === undefined) return { statusCode: 400 };
      return {
        statusCode: setStatus(registry, app, id, item.status, { lastDirtyTimestamp, replicated: true }).statusCode,
      };
    }
    case 'DeleteStatusOverride':
      return {
        statusCode: deleteStatusOverride(registry, app, id, {
          status: item.status,
          lastDirtyTimestamp,
          replicated: true,
        }).statusCode,
      };
  }
}
