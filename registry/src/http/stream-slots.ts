// The open event streams (watch and dashboard) are capped: each holds a socket, a file descriptor and a listener for
// as long as its client likes, and `trellis up` runs every component in one process, so a few thousand anonymous
// streams would take the whole landscape's descriptors. The cap is also shared out by source address: with one
// global cap only, one address opening every stream would lock every other watcher (services, gateways, the
// dashboard) out. Beyond either cap a stream is refused with 503 and Retry-After; the discovery client then polls
// until a slot is free. The counting is the kit's, as the config server's.
import { addressKey, sourceAddress, StreamSlots as Slots, type KitEnv } from '@trellis/kit';
import type { Context } from 'hono';
import { RegistryError } from '../errors.ts';

/** Event streams open at once by default: far above a landscape's services, far below a process's descriptors. */
export const DEFAULT_MAX_WATCHERS = 1000;

/** Event streams one source address (an IPv6 /64) may hold open at once by default: a tenth of the total. */
export const DEFAULT_MAX_WATCHERS_PER_ADDRESS = 100;

/** What a refused stream is told to wait before it tries again. */
export const STREAM_RETRY_AFTER_SECS = 30;

export class StreamSlots {
  readonly #slots: Slots;

  constructor(max: number, perAddress: number = DEFAULT_MAX_WATCHERS_PER_ADDRESS) {
    this.#slots = new Slots({ max, perCaller: perAddress });
  }

  get max(): number {
    return this.#slots.max;
  }

  get open(): number {
    return this.#slots.open;
  }

  /**
   * Takes a slot for a stream about to open, counted against the connection's source address (the socket's peer: the
   * registry takes no X-Forwarded-For, and its streams are not served through the gateway); returns its release
   * (safe to call more than once). 503 with Retry-After and the reason when a cap is reached.
   */
  take(c: Context<KitEnv>): () => void {
    const incoming = (c.env as { incoming?: Parameters<typeof sourceAddress>[0] } | undefined)?.incoming;
    // Every slot taken says so, whoever asks (the kit names the per-address share first).
    if (this.open >= this.max) throw refused(`Too many open event streams (${this.max})`);
    // Without a socket (app.request in tests) every stream counts as one unknown address.
    const slot = this.#slots.take(incoming === undefined ? 'unknown' : addressKey(sourceAddress(incoming, undefined)));
    if (!slot.ok) throw refused(slot.reason.charAt(0).toUpperCase() + slot.reason.slice(1));
    return () => slot.release();
  }
}

function refused(reason: string): RegistryError {
  return new RegistryError(
    'unavailable',
    `${reason}; retry in ${STREAM_RETRY_AFTER_SECS} s, or poll GET /apps/delta meanwhile`,
    { retryAfterSecs: STREAM_RETRY_AFTER_SECS },
  );
}
