// Named instances, made on first use from the service's configuration, and the one way to combine them:
// Retry(CircuitBreaker(TimeLimiter(Bulkhead(call)))), Resilience4j's order. Retry is outermost so each attempt is
// judged by the breaker (and refused once it opens); the time limiter sits inside the breaker so a timeout counts as
// a failure; the bulkhead is innermost so waiting for a slot counts against the timeout.
import { currentObservability, type Logger, type Observability } from '@trellis/kit';
import { Bulkhead } from './bulkhead.ts';
import { CircuitBreaker, type CircuitBreakerPredicates } from './circuit-breaker.ts';
import {
  bulkheadSettings,
  circuitBreakerSettings,
  isConfigured,
  retrySettings,
  timeLimiterSettings,
  type ResilienceConfig,
} from './config.ts';
import { ResilienceMeters } from './metrics.ts';
import { Retry, type RetryPredicates } from './retry.ts';
import { TimeLimiter } from './time-limiter.ts';

/** Predicates in code for one instance name, beside the error names configuration gives. */
export interface InstancePredicates {
  readonly circuitBreaker?: CircuitBreakerPredicates;
  readonly retry?: RetryPredicates;
}

export interface ResilienceOptions {
  /** The `resilience4j` subtree of the service's configuration (see {@link ResilienceConfig}). */
  readonly config?: ResilienceConfig;
  /** State changes are logged here (OPEN at warn, others at info); retries and timeouts at debug. */
  readonly logger?: Logger;
  /** By instance name; `default` applies to instances without their own entry. */
  readonly predicates?: Readonly<Record<string, InstancePredicates>>;
  /** Milliseconds since the epoch. Default Date.now. */
  readonly now?: () => number;
  /** For randomized retry waits. Default Math.random. */
  readonly random?: () => number;
  /**
   * Where Resilience4j's Micrometer meters go (`resilience4j_circuitbreaker_state`, …). Default: the observability of
   * the scope the registry is made in (`service.inScope`).
   */
  readonly observability?: Observability;
}

/** What the wrapped call receives. */
export interface CallContext {
  /** Aborted at the time limiter's timeout or when the caller's signal aborts: pass it to the request. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

export interface ExecuteOptions<T> {
  /** The caller's own cancellation; it ends retries too. */
  readonly signal?: AbortSignal;
  /**
   * Answers instead of the error once every attempt failed or the breaker refused the call (check
   * {@link isCallNotPermitted}); rethrow to let the error through.
   */
  readonly fallback?: (err: unknown) => T | PromiseLike<T>;
  /** Results the breaker counts as failures for this call (e.g. a 5xx response); overrides the instance's. */
  readonly recordResult?: (value: T) => boolean;
  /**
   * The instance to use for each layer, or false to leave the layer out. Default: the name given to execute for
   * retry, circuit breaker and time limiter; for the bulkhead only when configuration has it (an instance entry or a
   * `default` config), since a bulkhead limit nobody asked for would refuse calls under load.
   */
  readonly retry?: string | false;
  readonly circuitBreaker?: string | false;
  readonly timeLimiter?: string | false;
  readonly bulkhead?: string | false;
}

interface Layers {
  readonly retry: Retry | undefined;
  readonly circuitBreaker: CircuitBreaker | undefined;
  readonly timeLimiter: TimeLimiter | undefined;
  readonly bulkhead: Bulkhead | undefined;
}

const NEVER = new AbortController().signal;

/** The named resilience instances of one service. */
export class ResilienceRegistry {
  #config: ResilienceConfig;
  readonly #options: ResilienceOptions;
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #retries = new Map<string, Retry>();
  readonly #limiters = new Map<string, TimeLimiter>();
  readonly #bulkheads = new Map<string, Bulkhead>();
  readonly #meters: ResilienceMeters | undefined;

  constructor(options: ResilienceOptions = {}) {
    this.#options = options;
    this.#config = options.config ?? {};
    validate(this.#config);
    const metrics = (options.observability ?? currentObservability()).metrics;
    this.#meters = metrics === undefined ? undefined : new ResilienceMeters(metrics, this);
  }

  /** The circuit breaker named `name`, made from configuration on first use. */
  circuitBreaker(name: string): CircuitBreaker {
    let b = this.#breakers.get(name);
    if (b === undefined) {
      const p = this.#predicates(name).circuitBreaker;
      b = new CircuitBreaker({
        ...p,
        name,
        settings: circuitBreakerSettings(this.#config, name),
        meters: this.#meters?.circuitBreaker(name),
        ...this.#common(),
      });
      this.#breakers.set(name, b);
    }
    return b;
  }

  retry(name: string): Retry {
    let r = this.#retries.get(name);
    if (r === undefined) {
      r = new Retry({
        ...this.#predicates(name).retry,
        name,
        settings: retrySettings(this.#config, name),
        ...this.#common(),
        ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
      });
      this.#retries.set(name, r);
    }
    return r;
  }

  timeLimiter(name: string): TimeLimiter {
    let t = this.#limiters.get(name);
    if (t === undefined) {
      const logger = this.#options.logger;
      t = new TimeLimiter({
        name,
        settings: timeLimiterSettings(this.#config, name),
        meters: this.#meters?.timeLimiter(name),
        ...(logger === undefined ? {} : { logger }),
      });
      this.#limiters.set(name, t);
    }
    return t;
  }

  bulkhead(name: string): Bulkhead {
    let b = this.#bulkheads.get(name);
    if (b === undefined) {
      b = new Bulkhead({ name, settings: bulkheadSettings(this.#config, name) });
      this.#bulkheads.set(name, b);
    }
    return b;
  }

  /** Every circuit breaker made so far, for the actuator endpoints. */
  circuitBreakers(): CircuitBreaker[] {
    return [...this.#breakers.values()];
  }

  retries(): Retry[] {
    return [...this.#retries.values()];
  }

  bulkheads(): Bulkhead[] {
    return [...this.#bulkheads.values()];
  }

  /**
   * Runs a call through Retry(CircuitBreaker(TimeLimiter(Bulkhead(call)))) named `name`, answering from `fallback`
   * when it fails for good.
   *
   * @example
   * const product = await resilience.execute(
   *   'product',
   *   async ({ signal }) => (await http.request(`http://product/product/${id}`, { signal })).body.json(),
   *   { fallback: () => cache.get(id) },
   * );
   */
  async execute<T>(
    name: string,
    call: (context: CallContext) => PromiseLike<T> | T,
    options: ExecuteOptions<T> = {},
  ): Promise<T> {
    const layers = this.#layers(name, options);
    const { circuitBreaker: breaker, timeLimiter: limiter, bulkhead } = layers;
    const recordResult = options.recordResult === undefined ? {} : { recordResult: options.recordResult };
    const isolated = (signal: AbortSignal, attempt: number): PromiseLike<T> | T =>
      bulkhead === undefined ? call({ signal, attempt }) : bulkhead.execute(() => call({ signal, attempt }), signal);
    const limited = (signal: AbortSignal, attempt: number): PromiseLike<T> | T =>
      limiter === undefined ? isolated(signal, attempt) : limiter.execute((s) => isolated(s, attempt), signal);
    const guarded = (signal: AbortSignal, attempt: number): PromiseLike<T> | T =>
      breaker === undefined ? limited(signal, attempt) : breaker.execute(() => limited(signal, attempt), recordResult);
    try {
      if (layers.retry === undefined) return await guarded(options.signal ?? NEVER, 1);
      return await layers.retry.execute(({ signal, attempt }) => guarded(signal, attempt), options.signal);
    } catch (err) {
      if (options.fallback === undefined) throw err;
      return await options.fallback(err);
    }
  }

  /**
   * Wraps a function once, so every call of the result goes through {@link ResilienceRegistry.execute}.
   *
   * @example
   * const getProduct = resilience.decorate('product', ({ signal }, id: number) => fetchProduct(id, signal));
   * await getProduct(1);
   */
  decorate<A extends unknown[], T>(
    name: string,
    fn: (context: CallContext, ...args: A) => PromiseLike<T> | T,
    options: ExecuteOptions<T> = {},
  ): (...args: A) => Promise<T> {
    return (...args) => this.execute(name, (context) => fn(context, ...args), options);
  }

  /**
   * Takes new configuration (the config server changed it): instances whose settings changed are made again on next
   * use, with fresh state; the others keep theirs.
   *
   * @example
   * configClient.onChange((props) => resilience.reconfigure(resilienceConfigFromProperties(props)));
   */
  reconfigure(config: ResilienceConfig): void {
    // Resolve every instance first, so a bad value throws before anything changes.
    validate(config);
    const changed = {
      breakers: [...this.#breakers].filter(([n, b]) => !same(circuitBreakerSettings(config, n), b.settings)),
      retries: [...this.#retries].filter(([n, r]) => !same(retrySettings(config, n), r.settings)),
      limiters: [...this.#limiters].filter(([n, t]) => !same(timeLimiterSettings(config, n), t.settings)),
      bulkheads: [...this.#bulkheads].filter(([n, b]) => !same(bulkheadSettings(config, n), b.settings)),
    };
    this.#config = config;
    for (const [n, b] of changed.breakers) {
      b.close();
      this.#breakers.delete(n);
    }
    for (const [n] of changed.retries) this.#retries.delete(n);
    for (const [n] of changed.limiters) this.#limiters.delete(n);
    for (const [n] of changed.bulkheads) this.#bulkheads.delete(n);
  }

  /** Stops the breakers' timers (automatic half-open); call on shutdown. */
  close(): void {
    for (const b of this.#breakers.values()) b.close();
  }

  #layers(name: string, options: Pick<ExecuteOptions<never>, keyof Layers>): Layers {
    const pick = (choice: string | false | undefined): string | undefined =>
      choice === false ? undefined : (choice ?? name);
    const retryName = pick(options.retry);
    const breakerName = pick(options.circuitBreaker);
    const limiterName = pick(options.timeLimiter);
    const bulkheadName =
      options.bulkhead === false
        ? undefined
        : (options.bulkhead ?? (isConfigured(this.#config.bulkhead, name) ? name : undefined));
    return {
      retry: retryName === undefined ? undefined : this.retry(retryName),
      circuitBreaker: breakerName === undefined ? undefined : this.circuitBreaker(breakerName),
      timeLimiter: limiterName === undefined ? undefined : this.timeLimiter(limiterName),
      bulkhead: bulkheadName === undefined ? undefined : this.bulkhead(bulkheadName),
    };
  }

  #predicates(name: string): InstancePredicates {
    const all = this.#options.predicates;
    return all?.[name] ?? all?.['default'] ?? {};
  }

  #common(): { logger?: Logger; now?: () => number } {
    const { logger, now } = this.#options;
    return { ...(logger === undefined ? {} : { logger }), ...(now === undefined ? {} : { now }) };
  }
}

/** Resolves every configured instance, so a bad value stops the service at start, naming the property. */
function validate(config: ResilienceConfig): void {
  const names = (kind: { instances?: Readonly<Record<string, unknown>> } | undefined): string[] =>
    Object.keys(kind?.instances ?? {});
  for (const n of names(config.circuitbreaker)) circuitBreakerSettings(config, n);
  for (const n of names(config.retry)) retrySettings(config, n);
  for (const n of names(config.timelimiter)) timeLimiterSettings(config, n);
  for (const n of names(config.bulkhead)) bulkheadSettings(config, n);
  // A `default` config with no instances is still checked, through an instance name nobody configures.
  circuitBreakerSettings(config, '\0default');
  retrySettings(config, '\0default');
  timeLimiterSettings(config, '\0default');
  bulkheadSettings(config, '\0default');
}

function same(a: object, b: object): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Creates the resilience instances of a service from its configuration.
 *
 * @example
 * const resilience = createResilience({ config: config.resilience4j, logger: service.log });
 * attachResilienceEndpoints(service, resilience);
 * const reviews = await resilience.execute('review', ({ signal }) => http.request(url, { signal }));
 */
export function createResilience(options: ResilienceOptions = {}): ResilienceRegistry {
  return new ResilienceRegistry(options);
}
