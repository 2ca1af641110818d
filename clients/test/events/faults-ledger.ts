// The bookkeeping of the broker-fault tests: which numbered events the binder confirmed, which each consumer got and
// how often, and a producer that keeps sending (again, when the binder gives up on one) across a fault.
import { EventsError, type EventMessage, type Producer } from '../../src/events/index.ts';

export interface Numbered {
  readonly n: number;
}

/** One consumer instance's deliveries: before the fault, held across it, and taken fresh after the restart. */
export interface InstanceCounts {
  before: number;
  /** Handlers that had a message in hand through the fault and finished once the broker was back. */
  held: number;
  after: number;
  /** From the broker being back to this instance's first fresh delivery (reported, not asserted). */
  resumedInMs?: number;
}

export class Ledger {
  /** Numbers 1..sent have been (or are being) sent. */
  sent = 0;
  /** Numbers whose send resolved: the binder said the broker has them durably. */
  readonly confirmed = new Set<number>();
  /** Deliveries per number, over every consumer of the group. */
  readonly deliveries = new Map<number, number>();
  readonly byConsumer = new Map<string, InstanceCounts>();
  /** Sends the binder rejected (its publish timeout passed) that the producer made again. */
  resent = 0;
  /** Confirmed and consumed when the fault came: what the broker had to keep through it. */
  atFault: { confirmed: number; consumed: number } | undefined;
  /** Set once the broker is back. */
  restarted = false;
  #restartedAt = 0;
  readonly #holdAfter: number;
  readonly #back: Promise<void>;
  #release: () => void = () => undefined;

  /**
   * Once `holdAfter` numbers are consumed, handlers wait until the broker is back: the consumers then have messages
   * in hand (unacknowledged, uncommitted) and the broker a backlog when the fault comes.
   */
  constructor(holdAfter: number) {
    this.#holdAfter = holdAfter;
    this.#back = new Promise((resolve) => (this.#release = resolve));
  }

  /** The broker is back: held handlers go on, and new deliveries count as `after`. */
  markRestarted(): void {
    this.restarted = true;
    this.#restartedAt = Date.now();
    this.#release();
  }

  /** The handler of one consumer instance. */
  handler(consumer: string): (m: EventMessage<Numbered>) => Promise<void> {
    return async (m) => {
      const held = !this.restarted && this.consumed >= this.#holdAfter;
      if (held) await this.#back;
      this.deliveries.set(m.payload.n, (this.deliveries.get(m.payload.n) ?? 0) + 1);
      const c = this.instance(consumer);
      if (held) c.held++;
      else if (this.restarted) {
        c.resumedInMs ??= Date.now() - this.#restartedAt;
        c.after++;
      } else c.before++;
    };
  }

  instance(consumer: string): InstanceCounts {
    let c = this.byConsumer.get(consumer);
    if (c === undefined) {
      c = { before: 0, held: 0, after: 0 };
      this.byConsumer.set(consumer, c);
    }
    return c;
  }

  get consumed(): number {
    return this.deliveries.size;
  }

  /** Confirmed numbers no consumer got. */
  lost(): number[] {
    return [...this.confirmed].filter((n) => !this.deliveries.has(n)).sort((a, b) => a - b);
  }

  /** Deliveries beyond the first of each number. */
  duplicates(): number {
    let extra = 0;
    for (const count of this.deliveries.values()) extra += count - 1;
    return extra;
  }

  /** Delivered numbers that were never sent (a corrupted or foreign message). */
  strays(): number[] {
    return [...this.deliveries.keys()].filter((n) => !Number.isInteger(n) || n < 1 || n > this.sent);
  }

  summary(): Record<string, unknown> {
    const repeated = [...this.deliveries].filter(([, count]) => count > 1).map(([n]) => n);
    return {
      sent: this.sent,
      atFault: this.atFault,
      confirmed: this.confirmed.size,
      resent: this.resent,
      consumed: this.consumed,
      deliveries: [...this.deliveries.values()].reduce((a, b) => a + b, 0),
      duplicates: this.duplicates(),
      // Which numbers came twice tells the side: held by a consumer at the fault, or re-sent by the producer.
      repeatedRange: repeated.length === 0 ? undefined : [Math.min(...repeated), Math.max(...repeated)],
      lost: this.lost().length,
      byConsumer: Object.fromEntries(this.byConsumer),
    };
  }
}

/** Sends `n` until the binder confirms it, again each time the binder gives up (as a service would retry). */
async function sendConfirmed(producer: Producer<Numbered>, ledger: Ledger, n: number): Promise<void> {
  for (;;) {
    try {
      await producer.send({ n });
      ledger.confirmed.add(n);
      return;
    } catch (err) {
      if (!(err instanceof EventsError) || (err.code !== 'broker_unavailable' && err.code !== 'publish_rejected')) {
        throw err;
      }
      ledger.resent++;
    }
  }
}

/**
 * Sends 1..total with up to `window` sends in flight. Nothing from `faultAt` on is sent before `fault()` resolves
 * (it breaks the broker and returns while it is still down), so the fault lands mid-stream with earlier sends
 * unconfirmed in flight, and the sends after it go to a broker that is away.
 */
export async function publishAll(
  producer: Producer<Numbered>,
  ledger: Ledger,
  options: { total: number; window: number; faultAt: number; fault: () => Promise<void> },
): Promise<void> {
  // Lanes reaching the fault wait for it, so nothing after `faultAt` is sent before the broker is broken.
  let gate: Promise<void> | undefined;
  const lane = async (): Promise<void> => {
    while (ledger.sent < options.total) {
      const n = ++ledger.sent;
      if (n === options.faultAt) gate = options.fault();
      if (n >= options.faultAt) await gate;
      await sendConfirmed(producer, ledger, n);
    }
  };
  await Promise.all(Array.from({ length: options.window }, lane));
}

/** Waits until every confirmed number was delivered, or `timeoutMs` passed (the caller then asserts what is lost). */
export async function settle(ledger: Ledger, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (ledger.lost().length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Sends a few more numbers at a time until every instance has taken a fresh delivery since the restart, or
 * `timeoutMs` passed: an instance that rejoins its group after the others drained the backlog still gets its share
 * of what comes next.
 */
export async function untilEachResumed(
  producer: Producer<Numbered>,
  ledger: Ledger,
  instances: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (instances.some((i) => ledger.instance(i).after === 0) && Date.now() < end) {
    await Promise.all(Array.from({ length: 20 }, () => sendConfirmed(producer, ledger, ++ledger.sent)));
    await new Promise((r) => setTimeout(r, 500));
  }
}
