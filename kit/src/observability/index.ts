// Observability of a service: its meters and tracer, the settings that choose them, and the scope clients find them in.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../logger.ts';
import { setting, type SettingSpec, type SettingSpecs, type Settings } from '../settings.ts';
import { Metrics, type PrometheusAccess } from './metrics.ts';
import type { Propagation, Tracing, TracingExporter, TracingSettings } from './tracing.ts';

export { boundCounter, boundTimer } from './bound.ts';
export type { PrometheusAccess } from './metrics.ts';
export { counter, gauge, LATENCY_BUCKETS, Metrics, outcomeOf, timer } from './metrics.ts';
export type { Counter, Gauge, Histogram, Registry } from './metrics.ts';
export { context, failSpan, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TRACE_HEADERS } from './spans.ts';
export type { Attributes, Context, Span, TextMapGetter, TextMapSetter } from './spans.ts';
export type { Propagation, Tracing, TracingExporter, TracingSettings } from './tracing.ts';
export { methodLabel, observeRequests, setRequestException, setRequestRoute, springTemplate } from './server.ts';
export type { TraceTrust } from './server.ts';

/** What a service observes itself with; either part may be off. Clients made for the service record into it. */
export interface Observability {
  readonly metrics?: Metrics | undefined;
  readonly tracing?: Tracing | undefined;
}

export interface ObservabilitySettings {
  /** Serve /actuator/prometheus and record meters. Default true. */
  readonly metrics: boolean;
  /** Who may read /actuator/prometheus. Default `internal`. */
  readonly prometheusAccess?: PrometheusAccess;
  readonly tracing: TracingSettings;
}

/**
 * Creates a service's meters and tracer from its settings. OpenTelemetry's SDK and exporters load only when tracing
 * is on: a service without it starts without them.
 */
export async function createObservability(
  serviceName: string,
  settings: ObservabilitySettings | undefined,
  log?: Logger,
): Promise<Observability> {
  if (settings === undefined) return {};
  const tracing =
    settings.tracing.exporter === 'none'
      ? undefined
      : new (await import('./tracing.ts')).Tracing(serviceName, settings.tracing, log);
  return {
    ...(settings.metrics ? { metrics: new Metrics(serviceName, settings.prometheusAccess) } : {}),
    ...(tracing === undefined ? {} : { tracing }),
  };
}

const scope = new AsyncLocalStorage<Observability>();

/**
 * Runs `fn` with `observability` as the one clients made inside it record into (a discovery client, a binder, a
 * token client), unless they are handed one: a service's start-up runs its client set-up in its scope.
 */
export function withObservability<T>(observability: Observability, fn: () => T): T {
  return scope.run(observability, fn);
}

/** The observability of the scope a client is made in (see withObservability); none outside any. */
export function currentObservability(): Observability {
  return scope.getStore() ?? {};
}

const PROPAGATION: Readonly<Record<string, Propagation>> = {
  w3c: 'w3c',
  b3: 'b3',
  'b3-multi': 'b3-multi',
  b3_multi: 'b3-multi',
};

function propagationSetting(): SettingSpec<Propagation, true> {
  const spec: SettingSpec<Propagation, true> = {
    flag: 'tracing-propagation',
    env: 'MANAGEMENT_TRACING_PROPAGATION_TYPE',
    default: 'w3c',
    help: 'trace headers written on outgoing calls and messages: w3c (traceparent), b3 (one b3 header) or b3-multi (X-B3-*); all three are read',
    accepts: 'one of w3c, b3, b3-multi (or Spring’s W3C, B3, B3_MULTI)',
    parse: (raw) => {
      const found = PROPAGATION[raw.trim().toLowerCase()];
      if (found === undefined) throw new Error('not a propagation type');
      return found;
    },
  };
  return spec;
}

/** The settings every service shares for metrics and tracing, with Spring Boot's environment names where it has one. */
export function observabilitySettings() {
  return {
    metrics: setting.boolean({
      flag: 'metrics',
      env: 'TRELLIS_METRICS',
      default: true,
      help: 'record meters and serve them at /actuator/prometheus (Prometheus text or OpenMetrics)',
    }),
    prometheusAccess: setting.choice(['internal', 'any'] satisfies PrometheusAccess[], {
      flag: 'prometheus-access',
      env: 'TRELLIS_PROMETHEUS_ACCESS',
      default: 'internal',
      help:
        'who may read /actuator/prometheus: internal (loopback or a private network, not through a proxy such as the ' +
        'gateway) or any',
    }),
    tracing: setting.choice(['none', 'zipkin', 'otlp'] satisfies TracingExporter[], {
      flag: 'tracing',
      env: 'TRELLIS_TRACING',
      default: 'none',
      help: 'where spans go: none, zipkin (--zipkin-endpoint) or otlp (--otlp-endpoint, OTLP over HTTP)',
    }),
    zipkinEndpoint: setting.url({
      flag: 'zipkin-endpoint',
      // Spring Boot 3's name, and Boot 4's (which no longer reads the former).
      env: ['MANAGEMENT_ZIPKIN_TRACING_ENDPOINT', 'MANAGEMENT_TRACING_EXPORT_ZIPKIN_ENDPOINT'],
      default: 'http://localhost:9411/api/v2/spans',
      help: "Zipkin's span endpoint",
    }),
    otlpEndpoint: setting.url({
      flag: 'otlp-endpoint',
      env: ['MANAGEMENT_OTLP_TRACING_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
      default: 'http://localhost:4318/v1/traces',
      help: 'the OTLP/HTTP traces endpoint',
    }),
    samplingProbability: {
      flag: 'tracing-sampling-probability',
      env: 'MANAGEMENT_TRACING_SAMPLING_PROBABILITY',
      default: 0.1,
      help: 'share of new traces recorded, 0 to 1 (a caller’s decision is kept)',
      accepts: 'a number from 0 to 1',
      parse: (raw: string) => {
        const n = Number(raw.trim());
        if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error('not a probability');
        return n;
      },
    } as SettingSpec<number, true>,
    tracingPropagation: propagationSetting(),
  } satisfies SettingSpecs;
}

export type ObservabilitySettingValues = Settings<ReturnType<typeof observabilitySettings>>;

/** The parsed settings in the shape createService takes. */
export function observabilityOf(s: ObservabilitySettingValues): ObservabilitySettings {
  return {
    metrics: s.metrics,
    prometheusAccess: s.prometheusAccess,
    tracing: {
      exporter: s.tracing,
      zipkinEndpoint: s.zipkinEndpoint,
      otlpEndpoint: s.otlpEndpoint,
      samplingProbability: s.samplingProbability,
      propagation: s.tracingPropagation,
    },
  };
}
