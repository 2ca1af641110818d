// Renewals per minute, counted in 60 one-second buckets: a sliding minute that costs O(1) per heartbeat and a fixed
// 60 slots of memory, whatever the heartbeat rate.
const SLOTS = 60;

export class RenewalRate {
  readonly #counts = new Array<number>(SLOTS).fill(0);
  /** The second each slot counts; a slot holding an older second is stale and reset before reuse. */
  readonly #seconds = new Array<number>(SLOTS).fill(-1);

  add(now: number): void {
    const second = Math.floor(now / 1000);
    const slot = second % SLOTS;
    if (this.#seconds[slot] !== second) {
      this.#seconds[slot] = second;
      this.#counts[slot] = 0;
    }
    this.#counts[slot] = (this.#counts[slot] ?? 0) + 1;
  }

  /** Renewals in the current second and the 59 before it. */
  lastMinute(now: number): number {
    const second = Math.floor(now / 1000);
    let total = 0;
    for (let slot = 0; slot < SLOTS; slot++) {
      const at = this.#seconds[slot] ?? -1;
      if (at > second - SLOTS && at <= second) total += this.#counts[slot] ?? 0;
    }
    return total;
  }
}
