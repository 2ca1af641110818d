// The cap on proxied requests one source may have in flight at once (--max-in-flight-per-client).
import type http from 'node:http';
import { addressKey, sourceAddress, type TrustedProxies } from '@trellis/kit';
import { GatewayError } from '../errors.ts';

/**
 * Every upstream's pool has a fixed number of connections, and a request holds one until its answer ends: without a
 * cap per source, one client opening event streams or slow calls takes them all and everyone else's requests wait.
 */
export class InFlightLimit {
  readonly #max: number;
  readonly #trusted: TrustedProxies;
  /** Requests in flight per source; a source is removed at zero, so the map holds only the sources being served. */
  readonly #inFlight = new Map<string, number>();

  /** `max` per source, the source being addressKey of the client address (through trusted proxies). */
  constructor(max: number, trusted: TrustedProxies) {
    this.#max = max;
    this.#trusted = trusted;
  }

  /**
   * Takes one of the source's slots, or throws 429. Answers the source, to hand to `release` once the response closes
   * (finished, or the client gone): the proxy has one close listener per request for all it must do then.
   */
  admit(req: http.IncomingMessage): string {
    const key = addressKey(sourceAddress(req, this.#trusted));
    const count = this.#inFlight.get(key) ?? 0;
    if (count >= this.#max) {
      throw new GatewayError(
        'too_many_requests',
        `more than ${this.#max} requests in flight from one address; retry when one of them has finished`,
        { headers: { 'retry-after': '1' } },
      );
    }
    this.#inFlight.set(key, count + 1);
    return key;
  }

  /** Gives back the slot `admit` took for `key`. */
  release(key: string): void {
    const left = (this.#inFlight.get(key) ?? 1) - 1;
    if (left <= 0) this.#inFlight.delete(key);
    else this.#inFlight.set(key, left);
  }
}
