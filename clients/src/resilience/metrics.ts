// Resilience4j's Micrometer meters (resilience4j-micrometer's Tagged*Metrics) for a service's resilience instances.
import { counter, gauge, timer, type Counter, type Gauge, type Histogram, type Metrics } from '@trellis/kit';
import type { Bulkhead } from './bulkhead.ts';
import type { CircuitBreaker, CircuitBreakerMeters } from './circuit-breaker.ts';
import type { CircuitBreakerStateName } from './config.ts';
import type { Retry } from './retry.ts';
import type { TimeLimiterMeters } from './time-limiter.ts';

/** What the scrape-time gauges read: the instances a resilience registry has made so far. */
export interface ResilienceInstances {
  circuitBreakers(): readonly CircuitBreaker[];
  retries(): readonly Retry[];
  bulkheads(): readonly Bulkhead[];
}

const STATES: readonly CircuitBreakerStateName[] = [
  'CLOSED',
  'OPEN',
  'HALF_OPEN',
  'DISABLED',
  'FORCED_OPEN',
  'METRICS_ONLY',
];

type Sources = Set<ResilienceInstances>;

/**
 * The resilience registries recording into each service's meters. A gauge family is made once per meter registry
 * with one collect function, so a second resilience registry of the same service is read by the first's gauges
 * through this table; keyed weakly by the service's own registry, nothing is shared between services.
 */
const sourcesByRegistry = new WeakMap<object, Sources>();

/**
 * Records a resilience registry's instances under Resilience4j's Micrometer names, so Spring's Resilience4j dashboards
 * read Node services too. State, failure rate, buffered calls, retry counts and bulkhead slots are read at scrape time
 * (nothing per call); breaker call timings, refusals and time-limiter outcomes are bound once per instance name.
 * Labels are instance names, which come from configuration.
 */
export class ResilienceMeters {
  readonly #calls: Histogram<'name' | 'kind'>;
  readonly #notPermitted: Counter<'name' | 'kind'>;
  readonly #timeLimiterCalls: Counter<'name' | 'kind'>;

  constructor(metrics: Metrics, instances: ResilienceInstances) {
    let sources = sourcesByRegistry.get(metrics.registry);
    if (sources === undefined) {
      sources = new Set();
      sourcesByRegistry.set(metrics.registry, sources);
    }
    sources.add(instances);
    const all = sources;
    const breakers = (): CircuitBreaker[] => [...all].flatMap((s) => s.circuitBreakers());
    this.#calls = timer(metrics, 'resilience4j_circuitbreaker_calls_seconds', 'Total number of calls', [
      'name',
      'kind',
    ]);
    this.#notPermitted = counter(
      metrics,
      'resilience4j_circuitbreaker_not_permitted_calls_total',
      'Total number of not permitted calls',
      ['name', 'kind'],
    );
    this.#timeLimiterCalls = counter(metrics, 'resilience4j_timelimiter_calls_total', 'The number of calls', [
      'name',
      'kind',
    ]);
    scrapeGauge(
      metrics,
      'resilience4j_circuitbreaker_state',
      'The states of the circuit breaker',
      ['name', 'state'],
      (g) => {
        for (const b of breakers()) {
          for (const state of STATES) g.set({ name: b.name, state: state.toLowerCase() }, b.state === state ? 1 : 0);
        }
      },
    );
    scrapeGauge(
      metrics,
      'resilience4j_circuitbreaker_failure_rate',
      'The failure rate of the circuit breaker',
      ['name'],
      (g) => {
        for (const b of breakers()) g.set({ name: b.name }, b.metrics().failureRate);
      },
    );
    scrapeGauge(
      metrics,
      'resilience4j_circuitbreaker_slow_call_rate',
      'The slow call of the circuit breaker',
      ['name'],
      (g) => {
        for (const b of breakers()) g.set({ name: b.name }, b.metrics().slowCallRate);
      },
    );
    scrapeGauge(
      metrics,
      'resilience4j_circuitbreaker_buffered_calls',
      'The number of buffered calls stored in the ring buffer',
      ['name', 'kind'],
      (g) => {
        for (const b of breakers()) {
          const m = b.metrics();
          g.set({ name: b.name, kind: 'failed' }, m.failedCalls);
          g.set({ name: b.name, kind: 'successful' }, m.successfulCalls);
        }
      },
    );
    scrapeGauge(
      metrics,
      'resilience4j_circuitbreaker_slow_calls',
      'The number of slow calls which were slower than a certain threshold',
      ['name', 'kind'],
      (g) => {
        for (const b of breakers()) {
          const m = b.metrics();
          g.set({ name: b.name, kind: 'failed' }, m.slowFailedCalls);
          g.set({ name: b.name, kind: 'successful' }, m.slowCalls - m.slowFailedCalls);
        }
      },
    );
    // Resilience4j's retry meter is a FunctionCounter over the retry's own counts: read at scrape, reset on reconfigure.
    const retryCalls = counter(metrics, 'resilience4j_retry_calls_total', 'The number of calls', ['name', 'kind']);
    // prom-client calls a metric's `collect` before each scrape; the kit's counter helper takes none, so it is set
    // here. A second resilience registry of the service sets an equal one (it reads the same shared sources).
    (retryCalls as unknown as { collect: () => void }).collect = () => {
      retryCalls.reset();
      for (const r of [...all].flatMap((s) => s.retries())) {
        const m = r.metrics();
        retryCalls.inc(
          { name: r.name, kind: 'successful_without_retry' },
          m.numberOfSuccessfulCallsWithoutRetryAttempt,
        );
        retryCalls.inc({ name: r.name, kind: 'successful_with_retry' }, m.numberOfSuccessfulCallsWithRetryAttempt);
        retryCalls.inc({ name: r.name, kind: 'failed_without_retry' }, m.numberOfFailedCallsWithoutRetryAttempt);
        retryCalls.inc({ name: r.name, kind: 'failed_with_retry' }, m.numberOfFailedCallsWithRetryAttempt);
      }
    };
    const bulkheads = (): Bulkhead[] => [...all].flatMap((s) => s.bulkheads());
    scrapeGauge(
      metrics,
      'resilience4j_bulkhead_available_concurrent_calls',
      'The number of available permissions',
      ['name'],
      (g) => {
        for (const b of bulkheads()) g.set({ name: b.name }, b.availableConcurrentCalls);
      },
    );
    scrapeGauge(
      metrics,
      'resilience4j_bulkhead_max_allowed_concurrent_calls',
      'The maximum number of available permissions',
      ['name'],
      (g) => {
        for (const b of bulkheads()) g.set({ name: b.name }, b.settings.maxConcurrentCalls);
      },
    );
  }

  /** The meters one circuit breaker reports its calls to, bound once for its name. */
  circuitBreaker(name: string): CircuitBreakerMeters {
    const successful = this.#calls.labels({ name, kind: 'successful' });
    const failed = this.#calls.labels({ name, kind: 'failed' });
    const ignored = this.#calls.labels({ name, kind: 'ignored' });
    const notPermitted = this.#notPermitted.labels({ name, kind: 'not_permitted' });
    // Present at 0 from the start, as Micrometer registers them, so a rate() sees the first call.
    for (const kind of ['successful', 'failed', 'ignored']) this.#calls.zero({ name, kind });
    notPermitted.inc(0);
    return {
      call(kind, seconds) {
        (kind === 'successful' ? successful : kind === 'failed' ? failed : ignored).observe(seconds);
      },
      notPermitted: () => notPermitted.inc(),
    };
  }

  /** The counters one time limiter reports to, bound once for its name. */
  timeLimiter(name: string): TimeLimiterMeters {
    const successful = this.#timeLimiterCalls.labels({ name, kind: 'successful' });
    const failed = this.#timeLimiterCalls.labels({ name, kind: 'failed' });
    const timeout = this.#timeLimiterCalls.labels({ name, kind: 'timeout' });
    for (const c of [successful, failed, timeout]) c.inc(0);
    return {
      call(kind) {
        (kind === 'successful' ? successful : kind === 'failed' ? failed : timeout).inc();
      },
    };
  }
}

/**
 * A gauge family filled at scrape time from every source of the service: reset first, so instances reconfigured away
 * disappear. Made once per service; its collect reads the shared sources, so later registries need not set one.
 */
function scrapeGauge<L extends string>(
  metrics: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[],
  fill: (g: Gauge<L>) => void,
): void {
  gauge(metrics, name, help, labelNames, (g) => {
    g.reset();
    fill(g);
  });
}
