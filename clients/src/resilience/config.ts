// The configuration shape is Resilience4j's Spring Boot one (`resilience4j.<kind>.configs.<name>` and
// `resilience4j.<kind>.instances.<name>`, camelCase property names), so one YAML file served by the config server can
// tune Spring and Node services alike. Values may be numbers or the strings a property source carries ("50", "10s").
import { ResilienceError } from './errors.ts';

/** A duration: milliseconds as a number, or a string with a unit (`500ms`, `10s`, `1m`, `PT10S`; bare digits are ms). */
export type DurationValue = number | string;
type NumberValue = number | string;
type BooleanValue = boolean | string;
/** Error matchers: an error's `name`, a class name in its prototype chain, its `code`, or `Name:code`. */
type ErrorList = string | readonly string[];

export type CircuitBreakerStateName = 'CLOSED' | 'OPEN' | 'HALF_OPEN' | 'DISABLED' | 'FORCED_OPEN' | 'METRICS_ONLY';
export type SlidingWindowType = 'COUNT_BASED' | 'TIME_BASED';

/** `resilience4j.circuitbreaker.instances.<name>.*`, as written in configuration. */
export interface CircuitBreakerProperties {
  /** A name under `configs` to inherit from; `default` is inherited when it exists and this is unset. */
  readonly baseConfig?: string;
  readonly failureRateThreshold?: NumberValue;
  readonly slowCallRateThreshold?: NumberValue;
  readonly slowCallDurationThreshold?: DurationValue;
  readonly waitDurationInOpenState?: DurationValue;
  readonly permittedNumberOfCallsInHalfOpenState?: NumberValue;
  /** How long HALF_OPEN may wait for its trial calls before going back to OPEN; 0 waits for ever. */
  readonly maxWaitDurationInHalfOpenState?: DurationValue;
  readonly minimumNumberOfCalls?: NumberValue;
  /** Calls (COUNT_BASED) or seconds (TIME_BASED). */
  readonly slidingWindowSize?: NumberValue;
  readonly slidingWindowType?: SlidingWindowType | (string & {});
  readonly automaticTransitionFromOpenToHalfOpenEnabled?: BooleanValue;
  readonly recordExceptions?: ErrorList;
  readonly ignoreExceptions?: ErrorList;
  /** The state a new breaker starts in (Resilience4j 2.2's `initialState`). */
  readonly initialState?: 'CLOSED' | 'DISABLED' | 'FORCED_OPEN' | 'METRICS_ONLY' | (string & {});
  /** How many events `/actuator/circuitbreakerevents` keeps per breaker. */
  readonly eventConsumerBufferSize?: NumberValue;
  /** Show the breaker in the `circuitBreakers` health component. Default true (Resilience4j: false). */
  readonly registerHealthIndicator?: BooleanValue;
  /** Report OPEN as DOWN, taking the instance out of load balancers. Default false. */
  readonly allowHealthIndicatorToFail?: BooleanValue;
}

/** `resilience4j.retry.instances.<name>.*`. */
export interface RetryProperties {
  readonly baseConfig?: string;
  /** Attempts including the first call; 1 disables retries. */
  readonly maxAttempts?: NumberValue;
  readonly waitDuration?: DurationValue;
  readonly enableExponentialBackoff?: BooleanValue;
  readonly exponentialBackoffMultiplier?: NumberValue;
  readonly exponentialMaxWaitDuration?: DurationValue;
  readonly enableRandomizedWait?: BooleanValue;
  /** Each wait is drawn uniformly from [wait × (1 − factor), wait × (1 + factor)]. */
  readonly randomizedWaitFactor?: NumberValue;
  readonly retryExceptions?: ErrorList;
  /** Never retried; wins over retryExceptions. */
  readonly ignoreExceptions?: ErrorList;
}

/** `resilience4j.timelimiter.instances.<name>.*`. */
export interface TimeLimiterProperties {
  readonly baseConfig?: string;
  readonly timeoutDuration?: DurationValue;
  /** Abort the call's AbortSignal on timeout (Resilience4j cancels the future). Default true. */
  readonly cancelRunningFuture?: BooleanValue;
}

/** `resilience4j.bulkhead.instances.<name>.*` (the semaphore bulkhead). */
export interface BulkheadProperties {
  readonly baseConfig?: string;
  readonly maxConcurrentCalls?: NumberValue;
  /** How long a call may wait for a slot; 0 rejects at once. */
  readonly maxWaitDuration?: DurationValue;
}

export interface KindConfig<P> {
  readonly configs?: Readonly<Record<string, P>>;
  readonly instances?: Readonly<Record<string, P>>;
}

/**
 * The `resilience4j` subtree of a service's configuration.
 *
 * @example
 * const config: ResilienceConfig = {
 *   circuitbreaker: {
 *     configs: { default: { slidingWindowSize: 10, minimumNumberOfCalls: 5 } },
 *     instances: { product: { failureRateThreshold: 50, waitDurationInOpenState: '10s' } },
 *   },
 *   retry: { instances: { product: { maxAttempts: 3, waitDuration: '1s', ignoreExceptions: ['call_not_permitted'] } } },
 *   timelimiter: { instances: { product: { timeoutDuration: '2s' } } },
 * };
 */
export interface ResilienceConfig {
  readonly circuitbreaker?: KindConfig<CircuitBreakerProperties>;
  readonly retry?: KindConfig<RetryProperties>;
  readonly timelimiter?: KindConfig<TimeLimiterProperties>;
  readonly bulkhead?: KindConfig<BulkheadProperties>;
}

export interface CircuitBreakerSettings {
  readonly failureRateThreshold: number;
  readonly slowCallRateThreshold: number;
  readonly slowCallDurationThresholdMs: number;
  readonly waitDurationInOpenStateMs: number;
  readonly permittedNumberOfCallsInHalfOpenState: number;
  readonly maxWaitDurationInHalfOpenStateMs: number;
  readonly minimumNumberOfCalls: number;
  readonly slidingWindowSize: number;
  readonly slidingWindowType: SlidingWindowType;
  readonly automaticTransitionFromOpenToHalfOpenEnabled: boolean;
  readonly recordExceptions: readonly string[];
  readonly ignoreExceptions: readonly string[];
  readonly initialState: 'CLOSED' | 'DISABLED' | 'FORCED_OPEN' | 'METRICS_ONLY';
  readonly eventConsumerBufferSize: number;
  readonly registerHealthIndicator: boolean;
  readonly allowHealthIndicatorToFail: boolean;
}

export interface RetrySettings {
  readonly maxAttempts: number;
  readonly waitDurationMs: number;
  readonly enableExponentialBackoff: boolean;
  readonly exponentialBackoffMultiplier: number;
  readonly exponentialMaxWaitDurationMs: number;
  readonly enableRandomizedWait: boolean;
  readonly randomizedWaitFactor: number;
  readonly retryExceptions: readonly string[];
  readonly ignoreExceptions: readonly string[];
}

export interface TimeLimiterSettings {
  readonly timeoutDurationMs: number;
  readonly cancelRunningFuture: boolean;
}

export interface BulkheadSettings {
  readonly maxConcurrentCalls: number;
  readonly maxWaitDurationMs: number;
}

/** Resilience4j's defaults (see shared/reference/clients.md). */
export const CIRCUIT_BREAKER_DEFAULTS: CircuitBreakerSettings = Object.freeze({
  failureRateThreshold: 50,
  slowCallRateThreshold: 100,
  slowCallDurationThresholdMs: 60_000,
  waitDurationInOpenStateMs: 60_000,
  permittedNumberOfCallsInHalfOpenState: 10,
  maxWaitDurationInHalfOpenStateMs: 0,
  minimumNumberOfCalls: 100,
  slidingWindowSize: 100,
  slidingWindowType: 'COUNT_BASED',
  automaticTransitionFromOpenToHalfOpenEnabled: false,
  recordExceptions: [],
  ignoreExceptions: [],
  initialState: 'CLOSED',
  eventConsumerBufferSize: 100,
  registerHealthIndicator: true,
  allowHealthIndicatorToFail: false,
});

export const RETRY_DEFAULTS: RetrySettings = Object.freeze({
  maxAttempts: 3,
  waitDurationMs: 500,
  enableExponentialBackoff: false,
  // Resilience4j's IntervalFunction.DEFAULT_MULTIPLIER and DEFAULT_RANDOMIZATION_FACTOR.
  exponentialBackoffMultiplier: 1.5,
  exponentialMaxWaitDurationMs: Number.MAX_SAFE_INTEGER,
  enableRandomizedWait: false,
  randomizedWaitFactor: 0.5,
  retryExceptions: [],
  ignoreExceptions: [],
});

export const TIME_LIMITER_DEFAULTS: TimeLimiterSettings = Object.freeze({
  timeoutDurationMs: 1000,
  cancelRunningFuture: true,
});

export const BULKHEAD_DEFAULTS: BulkheadSettings = Object.freeze({ maxConcurrentCalls: 25, maxWaitDurationMs: 0 });

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Reads a duration the way Spring Boot binds `java.time.Duration` (bare number = ms, simple units, ISO-8601). */
export function parseDuration(value: DurationValue, property: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
  } else {
    const text = value.trim();
    const simple = /^(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)?$/i.exec(text);
    if (simple?.[1] !== undefined) return Number(simple[1]) * (UNIT_MS[(simple[2] ?? 'ms').toLowerCase()] ?? 1);
    const iso = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/i.exec(text);
    if (iso !== null && text.length > 2) {
      return (Number(iso[1] ?? 0) * 3600 + Number(iso[2] ?? 0) * 60 + Number(iso[3] ?? 0)) * 1000;
    }
  }
  throw invalid(property, value, 'a duration such as 500ms, 10s, 1m or PT10S');
}

function invalid(property: string, value: unknown, accepts: string): ResilienceError {
  return new ResilienceError('invalid_config', `${property}: ${JSON.stringify(value)} is not ${accepts}`);
}

function num(value: NumberValue, property: string, min: number, max: number, integer: boolean): number {
  const n = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw invalid(property, value, `a ${integer ? 'whole ' : ''}number from ${min} to ${max}`);
  }
  return n;
}

function bool(value: BooleanValue, property: string): boolean {
  if (typeof value === 'boolean') return value;
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid(property, value, 'true or false');
}

function list(value: ErrorList, property: string): readonly string[] {
  // Spring binds a comma-separated string to a list; property sources flatten arrays to `name[0]`, `name[1]`.
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw invalid(property, value, 'a list of error names');
  return (value as readonly string[]).slice();
}

function choice<C extends string>(value: string, property: string, choices: readonly C[]): C {
  const found = choices.find((c) => c === value.trim().toUpperCase());
  if (found === undefined) throw invalid(property, value, `one of ${choices.join(', ')}`);
  return found;
}

/** YAML from a Spring shop may use kebab-case keys (`failure-rate-threshold`); Spring's relaxed binding accepts both. */
function normalize<P>(props: P | undefined): P | undefined {
  if (props === undefined || props === null || typeof props !== 'object') return props;
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [camel(k), v])) as P;
}

/** The layers of properties for one instance, most specific first: the instance, its base config (or `default`). */
function layers<P extends { baseConfig?: string }>(
  kind: KindConfig<P> | undefined,
  kindName: string,
  name: string,
): { merged: Partial<P>; path: (key: string) => string } {
  const instance = normalize(kind?.instances?.[name]);
  const baseName = instance?.baseConfig ?? 'default';
  const base = normalize(kind?.configs?.[baseName]);
  if (instance?.baseConfig !== undefined && base === undefined) {
    throw new ResilienceError(
      'invalid_config',
      `resilience4j.${kindName}.instances.${name}.baseConfig: no configs.${baseName} to inherit from`,
    );
  }
  // Spread drops nothing: later keys win, so the instance overrides its base config.
  const merged = { ...base, ...instance } as Partial<P>;
  const path = (key: string): string =>
    instance !== undefined && key in instance
      ? `resilience4j.${kindName}.instances.${name}.${key}`
      : `resilience4j.${kindName}.configs.${baseName}.${key}`;
  return { merged, path };
}

/** Whether configuration mentions this instance (or a default every instance inherits). */
export function isConfigured(kind: KindConfig<unknown> | undefined, name: string): boolean {
  return kind?.instances?.[name] !== undefined || kind?.configs?.['default'] !== undefined;
}

/** Resolves a circuit breaker instance's settings: the instance, its base config, then Resilience4j's defaults. */
export function circuitBreakerSettings(config: ResilienceConfig, name: string): CircuitBreakerSettings {
  const { merged: p, path } = layers(config.circuitbreaker, 'circuitbreaker', name);
  const d = CIRCUIT_BREAKER_DEFAULTS;
  const pct = (v: NumberValue | undefined, key: string, def: number): number =>
    v === undefined ? def : num(v, path(key), Number.MIN_VALUE, 100, false);
  const int = (v: NumberValue | undefined, key: string, def: number, min = 1): number =>
    v === undefined ? def : num(v, path(key), min, 1_000_000, true);
  const dur = (v: DurationValue | undefined, key: string, def: number): number =>
    v === undefined ? def : parseDuration(v, path(key));
  const settings: CircuitBreakerSettings = {
    failureRateThreshold: pct(p.failureRateThreshold, 'failureRateThreshold', d.failureRateThreshold),
    slowCallRateThreshold: pct(p.slowCallRateThreshold, 'slowCallRateThreshold', d.slowCallRateThreshold),
    slowCallDurationThresholdMs: dur(
      p.slowCallDurationThreshold,
      'slowCallDurationThreshold',
      d.slowCallDurationThresholdMs,
    ),
    waitDurationInOpenStateMs: dur(p.waitDurationInOpenState, 'waitDurationInOpenState', d.waitDurationInOpenStateMs),
    permittedNumberOfCallsInHalfOpenState: int(
      p.permittedNumberOfCallsInHalfOpenState,
      'permittedNumberOfCallsInHalfOpenState',
      d.permittedNumberOfCallsInHalfOpenState,
    ),
    maxWaitDurationInHalfOpenStateMs: dur(
      p.maxWaitDurationInHalfOpenState,
      'maxWaitDurationInHalfOpenState',
      d.maxWaitDurationInHalfOpenStateMs,
    ),
    minimumNumberOfCalls: int(p.minimumNumberOfCalls, 'minimumNumberOfCalls', d.minimumNumberOfCalls),
    slidingWindowSize: int(p.slidingWindowSize, 'slidingWindowSize', d.slidingWindowSize),
    slidingWindowType:
      p.slidingWindowType === undefined
        ? d.slidingWindowType
        : choice(p.slidingWindowType, path('slidingWindowType'), ['COUNT_BASED', 'TIME_BASED'] as const),
    automaticTransitionFromOpenToHalfOpenEnabled:
      p.automaticTransitionFromOpenToHalfOpenEnabled === undefined
        ? d.automaticTransitionFromOpenToHalfOpenEnabled
        : bool(p.automaticTransitionFromOpenToHalfOpenEnabled, path('automaticTransitionFromOpenToHalfOpenEnabled')),
    recordExceptions: p.recordExceptions === undefined ? [] : list(p.recordExceptions, path('recordExceptions')),
    ignoreExceptions: p.ignoreExceptions === undefined ? [] : list(p.ignoreExceptions, path('ignoreExceptions')),
    initialState:
      p.initialState === undefined
        ? d.initialState
        : choice(p.initialState, path('initialState'), ['CLOSED', 'DISABLED', 'FORCED_OPEN', 'METRICS_ONLY'] as const),
    eventConsumerBufferSize: int(p.eventConsumerBufferSize, 'eventConsumerBufferSize', d.eventConsumerBufferSize, 0),
    registerHealthIndicator:
      p.registerHealthIndicator === undefined
        ? d.registerHealthIndicator
        : bool(p.registerHealthIndicator, path('registerHealthIndicator')),
    allowHealthIndicatorToFail:
      p.allowHealthIndicatorToFail === undefined
        ? d.allowHealthIndicatorToFail
        : bool(p.allowHealthIndicatorToFail, path('allowHealthIndicatorToFail')),
  };
  return Object.freeze(settings);
}

/** Resolves a retry instance's settings. */
export function retrySettings(config: ResilienceConfig, name: string): RetrySettings {
  const { merged: p, path } = layers(config.retry, 'retry', name);
  const d = RETRY_DEFAULTS;
  const settings: RetrySettings = {
    maxAttempts: p.maxAttempts === undefined ? d.maxAttempts : num(p.maxAttempts, path('maxAttempts'), 1, 1000, true),
    waitDurationMs:
      p.waitDuration === undefined ? d.waitDurationMs : parseDuration(p.waitDuration, path('waitDuration')),
    enableExponentialBackoff:
      p.enableExponentialBackoff === undefined
        ? d.enableExponentialBackoff
        : bool(p.enableExponentialBackoff, path('enableExponentialBackoff')),
    exponentialBackoffMultiplier:
      p.exponentialBackoffMultiplier === undefined
        ? d.exponentialBackoffMultiplier
        : num(p.exponentialBackoffMultiplier, path('exponentialBackoffMultiplier'), 1, 1000, false),
    exponentialMaxWaitDurationMs:
      p.exponentialMaxWaitDuration === undefined
        ? d.exponentialMaxWaitDurationMs
        : parseDuration(p.exponentialMaxWaitDuration, path('exponentialMaxWaitDuration')),
    enableRandomizedWait:
      p.enableRandomizedWait === undefined
        ? d.enableRandomizedWait
        : bool(p.enableRandomizedWait, path('enableRandomizedWait')),
    randomizedWaitFactor:
      p.randomizedWaitFactor === undefined
        ? d.randomizedWaitFactor
        : num(p.randomizedWaitFactor, path('randomizedWaitFactor'), 0, 1, false),
    retryExceptions: p.retryExceptions === undefined ? [] : list(p.retryExceptions, path('retryExceptions')),
    ignoreExceptions: p.ignoreExceptions === undefined ? [] : list(p.ignoreExceptions, path('ignoreExceptions')),
  };
  return Object.freeze(settings);
}

/** Resolves a time limiter instance's settings. */
export function timeLimiterSettings(config: ResilienceConfig, name: string): TimeLimiterSettings {
  const { merged: p, path } = layers(config.timelimiter, 'timelimiter', name);
  const timeoutDurationMs =
    p.timeoutDuration === undefined
      ? TIME_LIMITER_DEFAULTS.timeoutDurationMs
      : parseDuration(p.timeoutDuration, path('timeoutDuration'));
  if (timeoutDurationMs <= 0) throw invalid(path('timeoutDuration'), p.timeoutDuration, 'a duration above 0');
  return Object.freeze({
    timeoutDurationMs,
    cancelRunningFuture:
      p.cancelRunningFuture === undefined
        ? TIME_LIMITER_DEFAULTS.cancelRunningFuture
        : bool(p.cancelRunningFuture, path('cancelRunningFuture')),
  });
}

/** Resolves a bulkhead instance's settings. */
export function bulkheadSettings(config: ResilienceConfig, name: string): BulkheadSettings {
  const { merged: p, path } = layers(config.bulkhead, 'bulkhead', name);
  return Object.freeze({
    maxConcurrentCalls:
      p.maxConcurrentCalls === undefined
        ? BULKHEAD_DEFAULTS.maxConcurrentCalls
        : num(p.maxConcurrentCalls, path('maxConcurrentCalls'), 1, 1_000_000, true),
    maxWaitDurationMs:
      p.maxWaitDuration === undefined
        ? BULKHEAD_DEFAULTS.maxWaitDurationMs
        : parseDuration(p.maxWaitDuration, path('maxWaitDuration')),
  });
}

/** kebab-case (Spring's canonical property form) to camelCase; camelCase stays as it is. */
function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Builds a {@link ResilienceConfig} from flat properties as the config server serves them
 * (`resilience4j.circuitbreaker.instances.product.failure-rate-threshold=50`), with kebab-case or camelCase keys and
 * lists as `name[0]`, `name[1]`. Keys outside `prefix` are ignored.
 *
 * @example
 * resilienceConfigFromProperties({ 'resilience4j.retry.instances.product.max-attempts': '2' });
 * // { retry: { instances: { product: { maxAttempts: '2' } } } }
 */
export function resilienceConfigFromProperties(
  properties: Readonly<Record<string, unknown>>,
  prefix = 'resilience4j',
): ResilienceConfig {
  const root: Record<string, unknown> = {};
  const lead = `${prefix}.`;
  for (const [key, value] of Object.entries(properties)) {
    if (!key.startsWith(lead)) continue;
    const parts = key.slice(lead.length).split('.');
    // kind . (configs|instances) . name . property[index]
    if (parts.length !== 4) continue;
    const [kind, group, name, last] = parts as [string, string, string, string];
    const m = /^([\w-]+)(?:\[(\d+)\])?$/.exec(last);
    if (m?.[1] === undefined) continue;
    const kindObj = (root[kind] ??= {}) as Record<string, Record<string, Record<string, unknown>>>;
    const groupObj = (kindObj[group] ??= {});
    const props = (groupObj[name] ??= {});
    const prop = camel(m[1]);
    if (m[2] === undefined) {
      props[prop] = value;
    } else {
      const arr = Array.isArray(props[prop]) ? (props[prop] as unknown[]) : [];
      arr[Number(m[2])] = value;
      props[prop] = arr;
    }
  }
  for (const kind of Object.values(root) as Record<string, Record<string, Record<string, unknown>>>[]) {
    for (const group of Object.values(kind)) {
      for (const props of Object.values(group)) {
        for (const [k, v] of Object.entries(props)) if (Array.isArray(v)) props[k] = v.filter((x) => x !== undefined);
      }
    }
  }
  return root;
}
