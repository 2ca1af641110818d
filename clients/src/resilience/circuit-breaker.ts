// Resilience4j's circuit breaker state machine. cockatiel's CircuitBreakerPolicy lets a single trial call through in
// half-open, tells its pluggable IBreaker nothing about call durations (so no slow-call rate), trips on `>` and has no
// DISABLED or METRICS_ONLY state; those are Resilience4j's rules, so the state machine is written here against them.
import type { Logger } from '@trellis/kit';
import { CIRCUIT_BREAKER_DEFAULTS, type CircuitBreakerSettings, type CircuitBreakerStateName } from './config.ts';
import { ResilienceError } from './errors.ts';
import { describeError, errorMatches } from './matchers.ts';
import { CountWindow, TimeWindow, type Outcome, type SlidingWindow } from './window.ts';

export type CircuitBreakerEventType =
  | 'SUCCESS'
  | 'ERROR'
  | 'IGNORED_ERROR'
  | 'NOT_PERMITTED'
  | 'STATE_TRANSITION'
  | 'RESET'
  | 'FAILURE_RATE_EXCEEDED'
  | 'SLOW_CALL_RATE_EXCEEDED';

/** One entry of `/actuator/circuitbreakerevents`, in Resilience4j's field names. */
export interface CircuitBreakerEvent {
  readonly circuitBreakerName: string;
  readonly type: CircuitBreakerEventType;
  /** ISO-8601. */
  readonly creationTime: string;
  readonly errorMessage?: string;
  readonly durationInMs?: number;
  /** For STATE_TRANSITION: `CLOSED_TO_OPEN`. */
  readonly stateTransition?: string;
}

/** The numbers `/actuator/circuitbreakers` and the health component show; rates are -1 below minimumNumberOfCalls. */
export interface CircuitBreakerMetrics {
  readonly failureRate: number;
  readonly slowCallRate: number;
  readonly bufferedCalls: number;
  readonly failedCalls: number;
  readonly slowCalls: number;
  readonly slowFailedCalls: number;
  readonly successfulCalls: number;
  readonly notPermittedCalls: number;
}

/** Predicates given in code, beside the error names configuration can give. */
export interface CircuitBreakerPredicates {
  /** Errors that count as failures (with recordExceptions, others count as successes). */
  readonly recordException?: (err: unknown) => boolean;
  /** Errors that count as neither success nor failure; wins over recordException. */
  readonly ignoreException?: (err: unknown) => boolean;
  /** Results that count as failures although the call returned, e.g. an HTTP response with a 5xx status. */
  readonly recordResult?: (value: unknown) => boolean;
}

/** Where a breaker reports each call for Resilience4j's Micrometer meters (see ResilienceMeters). */
export interface CircuitBreakerMeters {
  /** A permitted call ended: `resilience4j_circuitbreaker_calls_seconds{kind}`. */
  call(kind: 'successful' | 'failed' | 'ignored', seconds: number): void;
  /** `resilience4j_circuitbreaker_not_permitted_calls_total`: unlike metrics().notPermittedCalls, never reset. */
  notPermitted(): void;
}

export interface CircuitBreakerOptions extends CircuitBreakerPredicates {
  readonly name: string;
  readonly meters?: CircuitBreakerMeters | undefined;
  /** Resolved settings; missing ones take Resilience4j's defaults. */
  readonly settings?: Partial<CircuitBreakerSettings>;
  readonly logger?: Logger;
  /** Milliseconds since the epoch; Date.now by default (TIME_BASED windows bucket by epoch second). */
  readonly now?: () => number;
}

type EventFields = Omit<CircuitBreakerEvent, 'circuitBreakerName' | 'creationTime'>;

interface StoredEvent {
  readonly at: number;
  readonly fields: EventFields;
}

interface StateMetrics {
  readonly window: SlidingWindow;
  readonly minimumCalls: number;
  notPermitted: number;
}

/** What a permitted call carries back, so a call that began in an earlier state cannot decide the current one. */
interface Permission {
  readonly generation: number;
  readonly start: number;
}

const EVENT_TYPES_TO_SKIP_IN_LOG = new Set<CircuitBreakerEventType>([
  'SUCCESS',
  'ERROR',
  'IGNORED_ERROR',
  'NOT_PERMITTED',
]);

/**
 * A circuit breaker with Resilience4j's semantics: COUNT_BASED or TIME_BASED window, `>=` thresholds on failure and
 * slow-call rate once minimumNumberOfCalls are buffered, a limited number of trial calls in HALF_OPEN, optional
 * automatic OPEN → HALF_OPEN, and the manual states DISABLED, FORCED_OPEN and METRICS_ONLY.
 *
 * @example
 * const breaker = new CircuitBreaker({ name: 'product', settings: { slidingWindowSize: 10, minimumNumberOfCalls: 10 } });
 * const product = await breaker.execute(() => fetchProduct(1));
 */
export class CircuitBreaker {
  readonly name: string;
  readonly settings: CircuitBreakerSettings;
  readonly #predicates: CircuitBreakerPredicates;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #meters: CircuitBreakerMeters | undefined;
  #state: CircuitBreakerStateName = 'CLOSED';
  #metrics: StateMetrics;
  #generation = 0;
  #openedAt = 0;
  #halfOpenPermits = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Events as recorded; the ISO time is formatted when someone reads them, not on every call. */
  readonly #events: (StoredEvent | undefined)[];
  #eventsNext = 0;
  readonly #listeners = new Set<(event: CircuitBreakerEvent) => void>();

  constructor(options: CircuitBreakerOptions) {
    this.name = options.name;
    this.settings = Object.freeze({ ...CIRCUIT_BREAKER_DEFAULTS, ...options.settings });
    this.#predicates = {
      ...(options.recordException === undefined ? {} : { recordException: options.recordException }),
      ...(options.ignoreException === undefined ? {} : { ignoreException: options.ignoreException }),
      ...(options.recordResult === undefined ? {} : { recordResult: options.recordResult }),
    };
    this.#log = options.logger;
    this.#now = options.now ?? (() => Date.now());
    this.#meters = options.meters;
    this.#events = new Array<StoredEvent | undefined>(this.settings.eventConsumerBufferSize);
    this.#metrics = this.#windowMetrics();
    if (this.settings.initialState !== 'CLOSED') this.#transition(this.settings.initialState);
  }

  get state(): CircuitBreakerStateName {
    return this.#state;
  }

  /**
   * Runs a call if the breaker permits it and records its outcome; otherwise rejects with `call_not_permitted`.
   *
   * @example
   * await breaker.execute(() => http.request('http://review/review?productId=1'));
   */
  async execute<T>(fn: () => PromiseLike<T> | T, options: { recordResult?: (value: T) => boolean } = {}): Promise<T> {
    const permission = this.#acquire();
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      this.#onError(permission, err);
      throw err;
    }
    const recordResult = options.recordResult ?? this.#predicates.recordResult;
    this.#onSuccess(permission, recordResult?.(value) === true);
    return value;
  }

  /** Whether a call would be let through now, without taking a permission (a half-open trial slot). */
  isCallPermitted(): boolean {
    switch (this.#state) {
      case 'CLOSED':
      case 'DISABLED':
      case 'METRICS_ONLY':
        return true;
      case 'OPEN':
        return this.#now() - this.#openedAt >= this.settings.waitDurationInOpenStateMs;
      case 'HALF_OPEN':
        return this.#halfOpenPermits > 0;
      case 'FORCED_OPEN':
        return false;
    }
  }

  metrics(): CircuitBreakerMetrics {
    const s = this.#metrics.window.snapshot();
    const below = s.bufferedCalls === 0 || s.bufferedCalls < this.#metrics.minimumCalls;
    return {
      failureRate: below ? -1 : (s.failedCalls * 100) / s.bufferedCalls,
      slowCallRate: below ? -1 : (s.slowCalls * 100) / s.bufferedCalls,
      bufferedCalls: s.bufferedCalls,
      failedCalls: s.failedCalls,
      slowCalls: s.slowCalls,
      slowFailedCalls: s.slowFailedCalls,
      successfulCalls: s.bufferedCalls - s.failedCalls,
      notPermittedCalls: this.#metrics.notPermitted,
    };
  }

  /** The last events, oldest first (at most eventConsumerBufferSize). */
  events(): CircuitBreakerEvent[] {
    const size = this.#events.length;
    const out: CircuitBreakerEvent[] = [];
    for (let i = 0; i < size; i++) {
      const e = this.#events[(this.#eventsNext + i) % size];
      if (e !== undefined) out.push(this.#materialize(e));
    }
    return out;
  }

  /** Calls `listener` with every event; returns the function that stops it. */
  onEvent(listener: (event: CircuitBreakerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  transitionToClosedState(): void {
    this.#transition('CLOSED');
  }
  transitionToOpenState(): void {
    this.#transition('OPEN');
  }
  transitionToHalfOpenState(): void {
    this.#transition('HALF_OPEN');
  }
  transitionToDisabledState(): void {
    this.#transition('DISABLED');
  }
  transitionToForcedOpenState(): void {
    this.#transition('FORCED_OPEN');
  }
  transitionToMetricsOnlyState(): void {
    this.#transition('METRICS_ONLY');
  }

  /** Back to CLOSED with empty metrics, as after a deployment of the dependency. */
  reset(): void {
    if (this.#state !== 'CLOSED') this.#transition('CLOSED');
    else this.#metrics = this.#windowMetrics();
    this.#emit({ type: 'RESET' });
  }

  /** Stops the timers of automatic transitions, so a stopped service leaves nothing scheduled. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #windowMetrics(): StateMetrics {
    const s = this.settings;
    if (s.slidingWindowType === 'TIME_BASED') {
      return {
        window: new TimeWindow(s.slidingWindowSize, this.#now),
        minimumCalls: s.minimumNumberOfCalls,
        notPermitted: 0,
      };
    }
    // Resilience4j caps minimumNumberOfCalls at the window size: a 10-call window can never buffer 100 calls.
    return {
      window: new CountWindow(s.slidingWindowSize),
      minimumCalls: Math.min(s.minimumNumberOfCalls, s.slidingWindowSize),
      notPermitted: 0,
    };
  }

  #acquire(): Permission {
    switch (this.#state) {
      case 'CLOSED':
      case 'DISABLED':
      case 'METRICS_ONLY':
        return { generation: this.#generation, start: this.#now() };
      case 'OPEN':
        // Without automatic transition, the first call after the wait is what moves the breaker to HALF_OPEN.
        if (this.#now() - this.#openedAt >= this.settings.waitDurationInOpenStateMs) {
          this.#transition('HALF_OPEN');
          return this.#acquire();
        }
        break;
      case 'HALF_OPEN':
        if (this.#halfOpenPermits > 0) {
          this.#halfOpenPermits--;
          return { generation: this.#generation, start: this.#now() };
        }
        break;
      case 'FORCED_OPEN':
        break;
    }
    this.#metrics.notPermitted++;
    this.#meters?.notPermitted();
    this.#emit({ type: 'NOT_PERMITTED' });
    throw new ResilienceError(
      'call_not_permitted',
      `circuit breaker ${this.name} is ${this.#state} and does not permit further calls`,
      { instance: this.name },
    );
  }

  #onSuccess(permission: Permission, resultIsFailure: boolean): void {
    const duration = this.#now() - permission.start;
    if (resultIsFailure) {
      this.#record(permission, duration, true, {
        type: 'ERROR',
        durationInMs: duration,
        errorMessage: 'result recorded as failure',
      });
      return;
    }
    this.#record(permission, duration, false, { type: 'SUCCESS', durationInMs: duration });
  }

  #onError(permission: Permission, err: unknown): void {
    const duration = this.#now() - permission.start;
    const s = this.settings;
    const ignored = errorMatches(err, s.ignoreExceptions) || this.#predicates.ignoreException?.(err) === true;
    if (ignored) {
      // An ignored call gives its half-open trial slot back: it told nothing about the dependency.
      if (this.#state === 'HALF_OPEN' && permission.generation === this.#generation) this.#halfOpenPermits++;
      this.#meters?.call('ignored', duration / 1000);
      this.#emit({ type: 'IGNORED_ERROR', durationInMs: duration, errorMessage: describeError(err) });
      return;
    }
    const selective = s.recordExceptions.length > 0 || this.#predicates.recordException !== undefined;
    const failed =
      !selective || errorMatches(err, s.recordExceptions) || this.#predicates.recordException?.(err) === true;
    this.#record(
      permission,
      duration,
      failed,
      failed
        ? { type: 'ERROR', durationInMs: duration, errorMessage: describeError(err) }
        : { type: 'SUCCESS', durationInMs: duration },
    );
  }

  #record(permission: Permission, duration: number, failed: boolean, event: EventFields): void {
    this.#meters?.call(failed ? 'failed' : 'successful', duration / 1000);
    this.#emit(event);
    // DISABLED and FORCED_OPEN keep no metrics; a call from an earlier state must not decide this one.
    if (this.#state === 'DISABLED' || this.#state === 'FORCED_OPEN') return;
    if (permission.generation !== this.#generation) return;
    // Resilience4j: slow when the duration is strictly above slowCallDurationThreshold.
    const slow = duration > this.settings.slowCallDurationThresholdMs;
    const outcome: Outcome = failed ? (slow ? 'slow_failure' : 'failure') : slow ? 'slow_success' : 'success';
    const snapshot = this.#metrics.window.record(outcome);
    if (this.#state !== 'CLOSED' && this.#state !== 'HALF_OPEN') return;
    if (snapshot.bufferedCalls < this.#metrics.minimumCalls) return;
    const failureRate = (snapshot.failedCalls * 100) / snapshot.bufferedCalls;
    const slowCallRate = (snapshot.slowCalls * 100) / snapshot.bufferedCalls;
    const failing = failureRate >= this.settings.failureRateThreshold;
    const slowing = slowCallRate >= this.settings.slowCallRateThreshold;
    if (failing) this.#emit({ type: 'FAILURE_RATE_EXCEEDED' });
    if (slowing) this.#emit({ type: 'SLOW_CALL_RATE_EXCEEDED' });
    if (failing || slowing) this.#transition('OPEN');
    else if (this.#state === 'HALF_OPEN') this.#transition('CLOSED');
  }

  #transition(to: CircuitBreakerStateName): void {
    const from = this.#state;
    if (from === to) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#generation++;
    this.#state = to;
    const s = this.settings;
    switch (to) {
      case 'OPEN':
        // The metrics that tripped the breaker stay visible while it is open, as in Resilience4j.
        this.#openedAt = this.#now();
        if (s.automaticTransitionFromOpenToHalfOpenEnabled) {
          this.#timer = setTimeout(() => this.#transition('HALF_OPEN'), s.waitDurationInOpenStateMs).unref();
        }
        break;
      case 'HALF_OPEN':
        this.#halfOpenPermits = s.permittedNumberOfCallsInHalfOpenState;
        this.#metrics = {
          window: new CountWindow(s.permittedNumberOfCallsInHalfOpenState),
          minimumCalls: s.permittedNumberOfCallsInHalfOpenState,
          notPermitted: 0,
        };
        if (s.maxWaitDurationInHalfOpenStateMs > 0) {
          this.#timer = setTimeout(() => this.#transition('OPEN'), s.maxWaitDurationInHalfOpenStateMs).unref();
        }
        break;
      case 'CLOSED':
      case 'DISABLED':
      case 'FORCED_OPEN':
      case 'METRICS_ONLY':
        this.#metrics = this.#windowMetrics();
        break;
    }
    this.#emit({ type: 'STATE_TRANSITION', stateTransition: `${from}_TO_${to}` });
  }

  #emit(partial: EventFields): void {
    const stored: StoredEvent = { at: this.#now(), fields: partial };
    if (this.#events.length > 0) {
      this.#events[this.#eventsNext] = stored;
      this.#eventsNext = (this.#eventsNext + 1) % this.#events.length;
    }
    if (!EVENT_TYPES_TO_SKIP_IN_LOG.has(partial.type)) this.#logEvent(partial);
    if (this.#listeners.size > 0) {
      const event = this.#materialize(stored);
      for (const listener of this.#listeners) listener(event);
    }
  }

  #materialize(stored: StoredEvent): CircuitBreakerEvent {
    // Resilience4j's field order, so the JSON reads the same as a Spring service's.
    const { type, ...rest } = stored.fields;
    return { circuitBreakerName: this.name, type, creationTime: new Date(stored.at).toISOString(), ...rest };
  }

  #logEvent(event: EventFields): void {
    if (this.#log === undefined) return;
    if (event.type !== 'STATE_TRANSITION') {
      this.#log.debug({ circuitBreaker: this.name, event: event.type }, `circuit breaker ${this.name}: ${event.type}`);
      return;
    }
    const m = this.metrics();
    const fields = {
      circuitBreaker: this.name,
      stateTransition: event.stateTransition,
      failureRate: m.failureRate,
      slowCallRate: m.slowCallRate,
    };
    const message = `circuit breaker ${this.name} ${event.stateTransition?.replace('_TO_', ' -> ')}`;
    // Opening means calls are being refused: worth a warning; recovering and manual changes are information.
    if (this.#state === 'OPEN' || this.#state === 'FORCED_OPEN') this.#log.warn(fields, message);
    else this.#log.info(fields, message);
  }
}
