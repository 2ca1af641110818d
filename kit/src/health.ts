// Health: indicators registered by name and group, checked, and aggregated into one status as Spring Boot does.
/**
 * Spring Boot Actuator's health model: named components, each with a status and details, aggregated into one status
 * with the order DOWN > OUT_OF_SERVICE > UP > UNKNOWN. Statuses outside the order (e.g. CIRCUIT_OPEN) are shown but do
 * not change the aggregate, so one open circuit breaker does not take a whole instance out of the load balancer.
 */
export type HealthStatus = 'UP' | 'DOWN' | 'OUT_OF_SERVICE' | 'UNKNOWN' | (string & {});

export interface Health {
  readonly status: HealthStatus;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly components?: Readonly<Record<string, Health>>;
}

export type HealthIndicator = () => Health | Promise<Health>;

export type HealthGroup = 'liveness' | 'readiness';

export interface HealthContributor {
  readonly indicator: HealthIndicator;
  /** Probe groups the component belongs to besides the main `/actuator/health`. */
  readonly groups: readonly HealthGroup[];
}

export const DEFAULT_STATUS_ORDER: readonly string[] = ['DOWN', 'OUT_OF_SERVICE', 'UP', 'UNKNOWN'];

/** Aggregates statuses the way Spring's SimpleStatusAggregator does. */
export function aggregateStatus(statuses: Iterable<string>, order: readonly string[] = DEFAULT_STATUS_ORDER): string {
  let best: string | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const s of statuses) {
    const rank = order.indexOf(s);
    if (rank !== -1 && rank < bestRank) {
      best = s;
      bestRank = rank;
    }
  }
  return best ?? 'UNKNOWN';
}

/** DOWN and OUT_OF_SERVICE answer 503 so load balancers and orchestrators take the instance out; others 200. */
export function httpStatusOf(status: string): 200 | 503 {
  return status === 'DOWN' || status === 'OUT_OF_SERVICE' ? 503 : 200;
}

export interface HealthRegistryOptions {
  /** An indicator that takes longer than this is reported DOWN, so a stuck dependency cannot hang the probe. */
  readonly timeoutMs?: number;
  readonly order?: readonly string[];
}

/** The components a service reports in `/actuator/health`. */
export class HealthRegistry {
  readonly #contributors = new Map<string, HealthContributor>();
  readonly #last = new Map<string, { results: readonly Health[]; health: Health }>();
  readonly #timeoutMs: number;
  readonly #order: readonly string[];

  constructor(options: HealthRegistryOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#order = options.order ?? DEFAULT_STATUS_ORDER;
  }

  /**
   * Adds a named component.
   *
   * @example
   * health.register('db', () => ({ status: 'UP', details: { database: 'SQLite' } }), { groups: ['readiness'] });
   */
  register(name: string, indicator: HealthIndicator, options: { groups?: readonly HealthGroup[] } = {}): void {
    if (!/^[A-Za-z][\w-]*$/.test(name)) throw new TypeError(`invalid health component name ${JSON.stringify(name)}`);
    if (this.#contributors.has(name)) throw new TypeError(`health component ${name} is registered twice`);
    this.#contributors.set(name, { indicator, groups: options.groups ?? [] });
    this.#last.clear();
  }

  unregister(name: string): void {
    this.#contributors.delete(name);
    this.#last.clear();
  }

  names(): string[] {
    return [...this.#contributors.keys()];
  }

  /** Runs the indicators of a group (or all) concurrently and aggregates them. */
  async check(group?: HealthGroup): Promise<Health> {
    return this.evaluate(group);
  }

  /**
   * Like {@link check}, but answers synchronously when every indicator did: probes call this constantly, and most
   * indicators report state they already keep.
   */
  evaluate(group?: HealthGroup): Health | Promise<Health> {
    const components: Record<string, Health> = {};
    const results: Health[] = [];
    let pending: Promise<void>[] | undefined;
    for (const [name, c] of this.#contributors) {
      if (group !== undefined && !c.groups.includes(group)) continue;
      const result = this.#run(c.indicator);
      if (result instanceof Promise) {
        components[name] = { status: 'UNKNOWN' }; // keeps registration order in the output
        (pending ??= []).push(result.then((h) => void (components[name] = h)));
      } else {
        components[name] = result;
        results.push(result);
      }
    }
    if (pending !== undefined) return Promise.all(pending).then(() => this.#aggregate(components));
    // Steady state: the same frozen answers as last time give the same aggregate object, so its JSON can be reused.
    const key = group ?? '';
    const last = this.#last.get(key);
    if (last !== undefined && sameFrozen(last.results, results)) return last.health;
    const health = this.#aggregate(components);
    if (results.every(isFrozen)) this.#last.set(key, { results, health });
    else this.#last.delete(key);
    return health;
  }

  /** One component, or undefined when there is no such component. */
  async checkOne(name: string): Promise<Health | undefined> {
    const c = this.#contributors.get(name);
    return c === undefined ? undefined : await this.#run(c.indicator);
  }

  #aggregate(components: Record<string, Health>): Health {
    const statuses: string[] = [];
    for (const name in components) statuses.push((components[name] as Health).status);
    return { status: aggregateStatus(statuses, this.#order), components };
  }

  #run(indicator: HealthIndicator): Health | Promise<Health> {
    let pending: Promise<Health>;
    try {
      const result = indicator();
      // Most indicators answer synchronously from state they keep; only a pending answer needs a timer.
      if (!(result instanceof Promise)) return result;
      pending = result;
    } catch (err) {
      return failed(err);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Health>((resolve) => {
      timer = setTimeout(
        () => resolve({ status: 'DOWN', details: { error: `no answer within ${this.#timeoutMs} ms` } }),
        this.#timeoutMs,
      );
    });
    return Promise.race([pending, timeout])
      .catch(failed)
      .finally(() => clearTimeout(timer));
  }
}

function isFrozen(h: Health): boolean {
  return Object.isFrozen(h);
}

function sameFrozen(a: readonly Health[], b: readonly Health[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Answers for indicators that report a plain state: frozen, so the registry may reuse what it built from them. */
export const UP: Health = Object.freeze({ status: 'UP' });
export const OUT_OF_SERVICE: Health = Object.freeze({ status: 'OUT_OF_SERVICE' });

function failed(err: unknown): Health {
  return { status: 'DOWN', details: { error: err instanceof Error ? `${err.name}: ${err.message}` : 'failed' } };
}
