// Per-partition work lanes: a partition's records one after another (Kafka's ordering), partitions side by side.
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
  #idle: (() => void)[] = [];

  constructor(concurrency: number, work: (item: I) => Promise<void>) {
    this.#concurrency = concurrency;
    this.#work = work;
  }

  /** Items waiting plus lanes running. */
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
    for (const [partition, lane] of this.#lanes) {
      if (this.#running.size >= this.#concurrency) return;
      if (lane.length > 0 && !this.#running.has(partition)) void this.#run(partition, lane);
    }
  }

  async #run(partition: number, lane: I[]): Promise<void> {
    this.#running.add(partition);
    for (let item = lane.shift(); item !== undefined; item = lane.shift()) {
      this.#queued--;
      // The work function handles its own failures; this catch only keeps a bug there from stopping the lane.
      await this.#work(item).catch(() => undefined);
    }
    this.#running.delete(partition);
    this.#pump();
    this.#settleIfIdle();
  }

  #settleIfIdle(): void {
    if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}
