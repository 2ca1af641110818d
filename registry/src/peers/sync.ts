// Start-up sync: a node that starts (or restarts) copies the registry from the first peer that answers, so clients
// reading from it see what the others see at once instead of after every instance's next heartbeat reached it.
// Bounded in time: a landscape whose other nodes are all down still gets a registry after a few seconds.
import { describeError } from '@trellis/clients/http';
import type { Logger } from '@trellis/kit';
import { parseApplications } from '../eureka/index.ts';
import { admitRegistration, takenViolation } from '../registry/limits.ts';
import type { RegistrationLimits } from '../registry/limits.ts';
import type { Registry } from '../registry/registry.ts';
import type { PeerHttp } from './peer-http.ts';
import type { PeerUrl } from './peer-url.ts';

export interface SyncOptions {
  readonly registry: Registry;
  readonly peers: readonly PeerUrl[];
  readonly http: PeerHttp;
  readonly log: Logger;
  /** Longest the whole sync may take, across peers. */
  readonly timeoutMs: number;
  /** The limits a registration is held to; a peer's copy is held to them too (offending instances are skipped). */
  readonly limits?: RegistrationLimits;
  /** Told of each peer's answer or failure (the replicator shows it as the peer's state). */
  readonly onOutcome?: (url: string, outcome: { ok: true; at: number } | { ok: false; error: string }) => void;
}

export interface SyncResult {
  /** The peer copied from; undefined when none answered in time. */
  readonly from: string | undefined;
  readonly instances: number;
}

/**
 * Tries the peers in order; the first that answers GET {peer}/apps with a registry is copied from. Every instance is
 * registered as a peer's change, so it is not replicated back, and an instance this node holds with a newer
 * lastDirtyTimestamp (restored from its store) keeps its own copy.
 */
export async function syncFromPeers(options: SyncOptions): Promise<SyncResult> {
  const { registry, log } = options;
  const deadline = registry.now() + options.timeoutMs;
  for (const peer of options.peers) {
    const left = deadline - registry.now();
    if (left <= 0) break;
    try {
      const answer = await withDeadline(
        options.http({
          method: 'GET',
          url: `${peer.url}/apps`,
          headers: {
            accept: 'application/json',
            'accept-encoding': 'gzip',
            ...(peer.authorization === undefined ? {} : { authorization: peer.authorization }),
          },
          timeoutMs: left,
        }),
        left,
      );
      if (answer.status !== 200) throw new Error(`answered ${answer.status}`);
      const document = parseApplications(answer.body, 'application/json', { now: registry.now() });
      if (!document.ok) throw new Error(`sent an unreadable registry (${document.error.message})`);
      options.onOutcome?.(peer.url, { ok: true, at: registry.now() });
      let instances = 0;
      let skipped = document.value.skipped.length;
      for (const application of document.value.applications) {
        for (const instance of application.instances) {
          // An id another application holds here is skipped, as a client's registration of it would be refused.
          const admitted =
            options.limits === undefined
              ? takenViolation(registry, instance) === undefined
                ? { ok: true as const, value: instance }
                : { ok: false as const }
              : admitRegistration(registry, instance, options.limits, { measure: true });
          if (!admitted.ok) {
            skipped++;
            continue;
          }
          registry.register(admitted.value, { replicated: true });
          instances++;
        }
      }
      log.info({ peer: peer.label, instances, skipped }, 'registry synced from peer');
      return { from: peer.label, instances };
    } catch (err) {
      const error = describeError(err);
      options.onOutcome?.(peer.url, { ok: false, error });
      log.warn({ peer: peer.label, reason: error }, 'could not sync the registry from peer');
    }
  }
  if (options.peers.length > 0) log.warn('no peer answered; starting with the local registry only');
  return { from: undefined, instances: 0 };
}

/** Connect and header timeouts do not cover a body that trickles; the deadline covers the whole exchange. */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
