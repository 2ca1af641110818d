// The open event streams (watch and dashboard) are capped: each holds a socket, a file descriptor and a listener for
// as long as its client likes, and `trellis up` runs every component in one process, so a few thousand anonymous
// streams would take the whole landscape's descriptors. Beyond the cap a stream is refused with 503 and Retry-After;
// the discovery client then polls until a slot is free.
import { RegistryError } from '../errors.ts';

/** Event streams open at once by default: far above a landscape's services, far below a process's descriptors. */
export const DEFAULT_MAX_WATCHERS = 1000;

/** What a refused stream is told to wait before it tries again. */
export const STREAM_RETRY_AFTER_SECS = 30;

export class StreamSlots {
  readonly max: number;
  #open = 0;

  constructor(max: number) {
    this.max = max;
  }

  get open(): number {
    return this.#open;
  }

  /**
   * Takes a slot for a stream about to open; returns its release (safe to call more than once). 503 with Retry-After
   * and the reason when every slot is taken.
   */
  take(): () => void {
    if (this.#open >= this.max) {
      throw new RegistryError(
        'unavailable',
        `Too many open event streams (${this.max}); retry in ${STREAM_RETRY_AFTER_SECS} s, or poll GET /apps/delta meanwhile`,
        { retryAfterSecs: STREAM_RETRY_AFTER_SECS },
      );
    }
    this.#open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
    };
  }
}
