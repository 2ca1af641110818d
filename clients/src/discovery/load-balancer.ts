// Round robin per application, as Spring Cloud LoadBalancer chooses by default.
import { asciiUpperCase } from './names.ts';
import type { ServiceInstance } from './wire.ts';

export interface RoundRobinOptions {
  /** A number in [0, 1); injected so tests can fix the starting position. Default Math.random. */
  readonly random?: () => number;
}

/**
 * Spring Cloud LoadBalancer's default: round robin per application, each starting at a random position (so a fleet
 * of callers restarted together does not send its first requests to the same instance).
 *
 * @example
 * const lb = new RoundRobin();
 * lb.choose('REVIEW', discovery.getInstances('review'));
 */
export class RoundRobin {
  readonly #random: () => number;
  readonly #positions = new Map<string, number>();

  constructor(options: RoundRobinOptions = {}) {
    this.#random = options.random ?? Math.random;
  }

  /** The next instance of `app` in round-robin order; undefined when there is none. */
  choose(app: string, instances: readonly ServiceInstance[]): ServiceInstance | undefined {
    const n = instances.length;
    if (n === 0) return undefined;
    const key = asciiUpperCase(app);
    // Spring starts at `new Random().nextInt(1000)` and increments before use.
    const position = (this.#positions.get(key) ?? Math.floor(this.#random() * 1000)) + 1;
    // Kept small so it never loses integer precision however long the process runs.
    this.#positions.set(key, position % 1_000_000_000);
    return instances[position % n];
  }

  /**
   * The instance after `previous` in list order, skipping those in `exclude` (already tried for this request); for
   * a retry. It does not move the application's position: were it to, a dead instance in a list of two would be
   * every request's first choice, while this way it stays every other request's.
   */
  next(
    instances: readonly ServiceInstance[],
    previous: ServiceInstance,
    exclude: ReadonlySet<string>,
  ): ServiceInstance | undefined {
    const n = instances.length;
    // The list may have changed since the first choice; then start from its beginning.
    const from = instances.findIndex((i) => i.instanceId === previous.instanceId) + 1;
    for (let k = 0; k < n; k++) {
      const candidate = instances[(from + k) % n];
      if (candidate !== undefined && !exclude.has(candidate.instanceId)) return candidate;
    }
    return undefined;
  }
}
