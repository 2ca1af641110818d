// One undici Pool per upstream origin (and connect timeout), kept alive across requests and route refreshes.
import { KEEP_ALIVE_MS } from '@trellis/clients/http';
import { rootCertificates } from 'node:tls';
import { Pool } from 'undici';

export interface UpstreamsOptions {
  readonly connectTimeoutMs: number;
  /** Connections per origin at most. Default 128: enough for any one upstream, bounded against a stampede. */
  readonly connectionsPerOrigin?: number;
  /**
   * PEM certificates trusted for https:// upstreams in addition to the system roots (the landscape's services serve
   * certificates of the local development CA). Verification always stays on.
   */
  readonly ca?: readonly string[];
}

/**
 * Pools are never dropped on a route refresh: an unused pool's idle sockets close after KEEP_ALIVE_MS anyway, so it
 * holds nothing but a small object, and a route that comes back finds it warm.
 *
 * Idle sockets close after KEEP_ALIVE_MS (4 s), under a Node upstream's 5 s keepAliveTimeout: a pool that kept them
 * longer would now and then write a request onto a socket the upstream is closing, the "connection prematurely
 * closed" bug of gateways whose pool outlives the server's idle timeout.
 */
export class Upstreams {
  /** By origin, then connect timeout: two lookups on strings the routes hold, not a key string built per request. */
  readonly #pools = new Map<string, Map<number, Pool>>();
  readonly #options: UpstreamsOptions;
  /** Node's `ca` replaces the default roots rather than adding to them, so the roots are listed too. */
  readonly #ca: string[] | undefined;

  constructor(options: UpstreamsOptions) {
    this.#options = { ...options };
    this.#ca = options.ca === undefined || options.ca.length === 0 ? undefined : [...rootCertificates, ...options.ca];
  }

  pool(origin: string, connectTimeoutMs = this.#options.connectTimeoutMs): Pool {
    let byTimeout = this.#pools.get(origin);
    if (byTimeout === undefined) this.#pools.set(origin, (byTimeout = new Map<number, Pool>()));
    let pool = byTimeout.get(connectTimeoutMs);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.#options.connectionsPerOrigin ?? 128,
        keepAliveTimeout: KEEP_ALIVE_MS,
        keepAliveMaxTimeout: KEEP_ALIVE_MS,
        connect: { timeout: connectTimeoutMs, ...(this.#ca === undefined ? {} : { ca: this.#ca }) },
        // Streams (SSE, long downloads) may be quiet for long; only the wait for the response head is bounded.
        bodyTimeout: 0,
      });
      byTimeout.set(connectTimeoutMs, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()].flatMap((byTimeout) => [...byTimeout.values()]);
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())));
  }
}
