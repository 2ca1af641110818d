// Per-partition work lanes: a partition's records one after another (Kafka's ordering), partitions side by side.
/** Items a partition runs before giving way to another that waits. */
const TURN = 64;

/**
 * Runs work items keyed by partition: each partition's items strictly in arrival order, at most `concurrency`
 * partitions at a time. With concurrency 1 the whole consumer handles one record at a time, as Spring's single
 * listener thread does; more lets distinct partitions proceed in parallel without reordering any of them.
 */
export class PartitionLanes<I> {
  readonly #lanes = new Map<number, I[]>();
  readonly #running = new Set<number>();
  readonly #concurrency: number;
  readonly #work: (item: I) => Promise<void>;
  #queued = 0;
  #held = false;
  #idle: (() => void)[] = [];

  constructor(concurrency: number, work: (item: I) => Promise<void>) {
    this.#concurrency = concurrency;
    this.#work = work;
  }

  /** Items waiting plus lanes running (held items count: they still wait). */
  get size(): number {
    return this.#queued + this.#running.size;
  }

  push(partition: number, item: I): void {
    const lane = this.#lanes.get(partition);
    if (lane === undefined) this.#lanes.set(partition, [item]);
    else lane.push(item);
    this.#queued++;
    this.#pump();
  }

  /** Drops the waiting items of a partition (it was revoked: its next owner reads them from the committed offset). */
  drop(partition: number): void {
    const lane = this.#lanes.get(partition);
    if (lane === undefined) return;
    this.#queued -= lane.length;
    lane.length = 0;
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

  async #run(partition: number, lane: I[]): Promise<void> {
    this.#running.add(partition);
    let turn = 0;
    for (let item = this.#next(lane); item !== undefined; item = this.#next(lane)) {
      this.#queued--;
      // The work function handles its own failures; this catch only keeps a bug there from stopping the lane.
      await this.#work(item).catch(() => undefined);
      // Take turns with waiting partitions, as a Kafka poll mixes them, instead of draining one while others wait.
      if (++turn >= TURN && this.#othersWait(partition)) break;
    }
    // Behind the others for the next turn.
    this.#lanes.delete(partition);
    this.#lanes.set(partition, lane);
    this.#running.delete(partition);
    this.#pump();
    this.#settleIfIdle();
  }

  #othersWait(partition: number): boolean {
    for (const [p, lane] of this.#lanes) if (p !== partition && lane.length > 0 && !this.#running.has(p)) return true;
    return false;
  }

  #next(lane: I[]): I | undefined {
    return this.#held ? undefined : lane.shift();
  }

  #settleIfIdle(): void {
    if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}
