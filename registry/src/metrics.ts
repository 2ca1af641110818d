// The registry's own meters, the numbers Eureka's dashboard shows: instances per status, renews, self-preservation.
import { counter, gauge, type Metrics } from '@trellis/kit';
import { INSTANCE_STATUSES } from './eureka/index.ts';
import type { PeerHttp } from './peers/peer-http.ts';
import type { Registry } from './registry/registry.ts';

/**
 * Gauges read the registry when Prometheus scrapes (nothing on the heartbeat path); counters follow its change events.
 * No label names an application or an instance: clients choose those, so they would make series without bound.
 */
export function observeRegistry(metrics: Metrics, registry: Registry): void {
  gauge(metrics, 'trellis_registry_instances', 'Instances currently registered, by served status', ['status'], (g) => {
    for (const status of INSTANCE_STATUSES) g.set({ status }, registry.countWithStatus(status));
  });
  gauge(metrics, 'trellis_registry_renews_last_minute', 'Heartbeats received in the last minute', [], (g) => {
    g.set(registry.renewsLastMinute());
  });
  gauge(
    metrics,
    'trellis_registry_renews_threshold',
    'Renews per minute below which self-preservation engages',
    [],
    (g) => {
      g.set(registry.selfPreservation().threshold);
    },
  );
  gauge(
    metrics,
    'trellis_registry_renews_expected_per_minute',
    'Renews per minute the established instances promise',
    [],
    (g) => {
      g.set(registry.selfPreservation().expectedRenewalsPerMinute);
    },
  );
  gauge(
    metrics,
    'trellis_registry_self_preservation_engaged',
    '1 while self-preservation suspends evictions, else 0',
    [],
    (g) => {
      g.set(registry.selfPreservation().engaged ? 1 : 0);
    },
  );

  // Children bound once: `source` is client (an instance's own call) or peer (replicated from another node).
  const bind = (name: string, help: string) => {
    const family = counter(metrics, name, help, ['source']);
    const bound = { client: family.labels({ source: 'client' }), peer: family.labels({ source: 'peer' }) };
    // Zero from the start: a series that appears only on its first increase hides that first increase from rate().
    bound.client.inc(0);
    bound.peer.inc(0);
    return bound;
  };
  const counters = {
    register: bind('trellis_registry_registrations_total', 'Registrations accepted'),
    cancel: bind('trellis_registry_cancellations_total', 'Cancellations accepted'),
    eviction: bind('trellis_registry_evictions_total', 'Expired leases removed by the eviction sweep'),
  };
  registry.onChange((change) => {
    if (change.cause !== 'register' && change.cause !== 'cancel' && change.cause !== 'eviction') return;
    const bound = counters[change.cause];
    (change.replicated ? bound.peer : bound.client).inc();
  });
}

/** Counts the replication batches sent to peers by outcome; the wrapped transport answers as before. */
export function countReplication(metrics: Metrics, send: PeerHttp): PeerHttp {
  const family = counter(metrics, 'trellis_registry_replication_batches_total', 'Replication batches sent to peers', [
    'outcome',
  ]);
  const success = family.labels({ outcome: 'success' });
  const failure = family.labels({ outcome: 'failure' });
  success.inc(0);
  failure.inc(0);
  return async (request) => {
    try {
      const answer = await send(request);
      (answer.status === 200 ? success : failure).inc();
      return answer;
    } catch (err) {
      failure.inc();
      throw err;
    }
  };
}
