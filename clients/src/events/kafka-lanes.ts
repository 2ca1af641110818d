// Per-partition work lanes: a partition's records one after another (Kafka's ordering), partitions side by side.
/** Items a partition runs before giving way to another that waits. */
const TURN = 64;

/** A FIFO that takes from the front in constant time (Array#shift copies the array once it is large). */
class Lane<I> {
  #items: I[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: I): void {
    this.#items.push(item);
  }

  shift(): I | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    // Compact now and then, so taken items do not stay referenced.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): number {
    const dropped = this.length;
    this.#items = [];
    this.#head = 0;
    return dropped;
  }
}

/**
 * Runs work items keyed by partition: each partition's items strictly in arrival order, at most `concurrency`
 * partitions at a time. With concurrency 1 the whole consumer handles one record at a time, as Spring's single
 * listener thread does; more lets distinct partitions proceed in parallel without reordering any of them.
 */
export class PartitionLanes<I> {
  readonly #lanes = new Map<number, Lane<I>>();
  readonly #running = new Set<number>();
  readonly #concurrency: number;
  readonly #work: (item: I) => void | Promise<void>;
  #queued = 0;
  #held = false;
  #idle: (() => void)[] = [];

  constructor(concurrency: number, work: (item: I) => void | Promise<void>) {
    this.#concurrency = concurrency;
    this.#work = work;
  }

  /** Items waiting plus lanes running (held items count: they still wait). */
  get size(): number {
    return this.#queued + this.#running.size;
  }

  push(partition: number, item: I): void {
    // Nothing waits anywhere and a slot is free: run it now, and without a lane at all when it finishes at once.
    if (!this.#held && this.#queued === 0 && this.#running.size < this.#concurrency && !this.#running.has(partition)) {
      let pending: void | Promise<void> = undefined;
      try {
        pending = this.#work(item);
      } catch {
        // As in #run: the work function handles its own failures.
      }
      if (pending !== undefined) void this.#finish(partition, pending);
      return;
    }
    let lane = this.#lanes.get(partition);
    if (lane === undefined) {
      lane = new Lane();
      this.#lanes.set(partition, lane);
    }
    lane.push(item);
    this.#queued++;
    if (!this.#running.has(partition)) this.#pump();
  }

  /** Drops the waiting items of a partition (it was revoked: its next owner reads them from the committed offset). */
  drop(partition: number): void {
    const lane = this.#lanes.get(partition);
    if (lane === undefined) return;
    this.#queued -= lane.clear();
    this.#settleIfIdle();
  }

  /**
   * Starts no new item until `release()`; items in hand finish. A rebalance holds the lanes so that records of
   * partitions about to move are not handled here while their next owner starts on them too.
   */
  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    this.#pump();
  }

  /** Drops every waiting item. */
  clear(): void {
    for (const partition of this.#lanes.keys()) this.drop(partition);
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    if (this.#held) return;
    for (const [partition, lane] of this.#lanes) {
      if (this.#running.size >= this.#concurrency) return;
      if (lane.length > 0 && !this.#running.has(partition)) void this.#run(partition, lane);
    }
  }

  async #run(partition: number, lane: Lane<I>): Promise<void> {
    this.#running.add(partition);
    let turn = 0;
    for (let item = this.#next(lane); item !== undefined; item = this.#next(lane)) {
      this.#queued--;
      try {
        // Awaited only when the work is asynchronous: synchronous work runs a whole turn without a promise.
        const pending = this.#work(item);
        if (pending !== undefined) await pending;
      } catch {
        // The work function handles its own failures; this only keeps a bug there from stopping the lane.
      }
      // Take turns with waiting partitions, as a Kafka poll mixes them, instead of draining one while others wait;
      // and yield once a turn, so a long synchronous run neither starves the event loop nor nests pumps.
      if (++turn >= TURN) {
        if (this.#othersWait(partition)) break;
        turn = 0;
        await Promise.resolve();
      }
    }
    if (turn >= TURN) await Promise.resolve();
    // Behind the others for the next turn.
    this.#lanes.delete(partition);
    this.#lanes.set(partition, lane);
    this.#running.delete(partition);
    this.#pump();
    this.#settleIfIdle();
  }

  /** Holds the partition's slot while an item started by `push` completes, then goes on with its lane. */
  async #finish(partition: number, pending: Promise<void>): Promise<void> {
    this.#running.add(partition);
    try {
      await pending;
    } catch {
      // As in #run.
    }
    this.#running.delete(partition);
    this.#pump();
    this.#settleIfIdle();
  }

  #othersWait(partition: number): boolean {
    for (const [p, lane] of this.#lanes) if (p !== partition && lane.length > 0 && !this.#running.has(p)) return true;
    return false;
  }

  #next(lane: Lane<I>): I | undefined {
    return this.#held ? undefined : lane.shift();
  }

  #settleIfIdle(): void {
    if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}
