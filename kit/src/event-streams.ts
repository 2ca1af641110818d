// Long-lived event streams (Server-Sent Events) each hold a socket, a file descriptor, a listener and whatever the
// stream keeps per client for as long as the client likes; `trellis up` runs every component in one process. So the
// streams are capped, in total and per caller (one credential or address must not take every slot), and a client
// that stops reading is cut after a timeout instead of holding its slot and the frames queued for it for ever.
import type { SSEStreamingApi } from 'hono/streaming';

/** A slot taken, or why not. */
export type StreamSlot = { readonly ok: true; release(): void } | { readonly ok: false; readonly reason: string };

export interface StreamSlotLimits {
  /** Streams open at once in all. */
  readonly max: number;
  /** Streams open at once for one caller key (a credential, an address); default: `max`. */
  readonly perCaller?: number;
}

/**
 * Counts open streams against a total and a per-caller cap. The caller turns a refusal into its own 503 with
 * Retry-After; the reason says which cap was reached, never another caller's identity.
 *
 * @example
 * const slots = new StreamSlots({ max: 1000, perCaller: 100 });
 * const slot = slots.take(`client:${id}`);
 * if (!slot.ok) throw new MyError('unavailable', slot.reason);
 */
export class StreamSlots {
  readonly max: number;
  readonly perCaller: number;
  #open = 0;
  readonly #byCaller = new Map<string, number>();

  constructor(limits: StreamSlotLimits) {
    this.max = limits.max;
    this.perCaller = Math.min(limits.perCaller ?? limits.max, limits.max);
  }

  get open(): number {
    return this.#open;
  }

  /** Streams open for one caller key (0 when none). */
  openFor(caller: string): number {
    return this.#byCaller.get(caller) ?? 0;
  }

  /** Takes a slot for `caller`; the release is safe to call more than once. */
  take(caller: string): StreamSlot {
    const mine = this.#byCaller.get(caller) ?? 0;
    if (mine >= this.perCaller) {
      return { ok: false, reason: `this caller already has ${this.perCaller} open event streams (the most allowed)` };
    }
    if (this.#open >= this.max) return { ok: false, reason: `too many open event streams (${this.max})` };
    this.#open++;
    this.#byCaller.set(caller, mine + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#open--;
        const left = (this.#byCaller.get(caller) ?? 1) - 1;
        // Emptied keys are dropped, so addresses seen once do not pile up in the map.
        if (left === 0) this.#byCaller.delete(caller);
        else this.#byCaller.set(caller, left);
      },
    };
  }
}

export interface EventPumpOptions {
  /** A write the client has not taken after this long cuts the stream and closes the socket. */
  readonly writeTimeoutMs: number;
  /** A comment line this often keeps proxies from closing an idle stream. */
  readonly pingMs: number;
  /** That comment, as written (the registry's watch documents `: ping`); default `: keep-alive`. */
  readonly ping?: string;
  /** Frames queued for a client that reads slower than they come; beyond it the stream is ended (see overflow). */
  readonly maxQueued: number;
  /**
   * What falling maxQueued frames behind does: `cut` (default) aborts the stream and closes the socket at once, as a
   * client that is not reading at all would be; `end` drops the queue and ends the stream cleanly once the write under
   * way is taken (or times out), for a client that reads but too slowly and is told to start again (the registry's
   * watch: it reconnects to a fresh snapshot).
   */
  readonly overflow?: 'cut' | 'end';
  /** Shutdown: the stream ends at once, even mid-write. */
  readonly stopping: AbortSignal;
  /** Closes the connection under the stream (the node socket); called when a write times out. */
  readonly destroySocket: () => void;
}

/** What a stream's source sees: queue a frame, or end the stream. */
export interface EventSink {
  push(frame: string): void;
  end(): void;
  readonly ended: boolean;
}

/**
 * Runs one event stream until the client goes, stops reading (writeTimeoutMs), falls maxQueued frames behind, the
 * source ends it, or the service stops. `open` subscribes the stream's source and returns its unsubscribe, always called at the end, so no
 * listener, timer or queued frame outlives the stream. Frames are written one batch at a time: a slow client
 * holds at most maxQueued frames, not an unbounded chain of pending writes.
 */
export async function pumpEvents(
  stream: SSEStreamingApi,
  options: EventPumpOptions,
  open: (sink: EventSink) => (() => void) | Promise<() => void>,
): Promise<void> {
  const queue: string[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  let cutNow: () => void = () => undefined;
  const cutDone = new Promise<void>((resolve) => {
    cutNow = resolve;
  });
  const end = (): void => {
    ended = true;
    cutNow();
    signal();
  };
  const cut = (): void => {
    stream.abort();
    options.destroySocket();
    end();
  };
  const sink: EventSink = {
    push(frame) {
      if (ended) return;
      if (queue.length >= options.maxQueued) {
        if (options.overflow === 'end') {
          // The loop stops after the write under way; nothing more is queued for a client that starts again.
          ended = true;
          queue.length = 0;
          signal();
        } else {
          // So far behind that it is not reading: cut like a write that timed out (a live client reconnects).
          cut();
        }
        return;
      }
      queue.push(frame);
      signal();
    },
    end,
    get ended() {
      return ended;
    },
  };
  const stop = (): void => {
    stream.abort();
    end();
  };
  if (options.stopping.aborted) return;
  options.stopping.addEventListener('abort', stop);
  stream.onAbort(end);
  const pingFrame = options.ping ?? ': keep-alive\n\n';
  const ping = setInterval(() => sink.push(pingFrame), options.pingMs);
  let close: (() => void) | undefined;
  try {
    close = await open(sink);
    while (!ended && !stream.aborted) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const chunk = queue.join('');
      queue.length = 0;
      const timer = setTimeout(cut, options.writeTimeoutMs);
      try {
        await Promise.race([stream.write(chunk), cutDone]);
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    ended = true;
    queue.length = 0;
    clearInterval(ping);
    // The signal lives as long as the service: a listener left on it would keep this stream's closure (and what it
    // captured) alive after the client has gone.
    options.stopping.removeEventListener('abort', stop);
    close?.();
  }
}
