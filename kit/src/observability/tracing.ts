// A service's tracer (OpenTelemetry): W3C or B3 propagation as Micrometer Tracing does, sampling, Zipkin or OTLP export.
import { randomFillSync } from 'node:crypto';
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  INVALID_SPANID,
  INVALID_TRACEID,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type IdGenerator,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { Logger } from '../logger.ts';
import { failSpan } from './spans.ts';

export type TracingExporter = 'none' | 'zipkin' | 'otlp';
/** Spring Boot's `management.tracing.propagation.type`: W3C, B3 (one header) or B3_MULTI (X-B3-* headers). */
export type Propagation = 'w3c' | 'b3' | 'b3-multi';

export interface TracingSettings {
  readonly exporter: TracingExporter;
  /** Zipkin's span endpoint, Spring's `management.zipkin.tracing.endpoint`. */
  readonly zipkinEndpoint: string;
  /** The OTLP/HTTP traces endpoint, Spring's `management.otlp.tracing.endpoint`. */
  readonly otlpEndpoint: string;
  /** Share of new traces recorded, 0–1 (Spring's default 0.1); a caller's sampling decision is kept. */
  readonly samplingProbability: number;
  /** The format written on outgoing calls and messages; every format is read on incoming ones. */
  readonly propagation: Propagation;
  /** How long finished spans wait to be sent in one batch. Default 1000 ms, as Brave's reporter. */
  readonly exportDelayMs?: number;
}

/**
 * How long one export may take. A collector that is down must not hold a service's shutdown for the exporters'
 * default 10–30 s; the spans of that batch are lost either way.
 */
const EXPORT_TIMEOUT_MS = 3000;

/**
 * Spans sent in one export at most, and kept waiting at most (more are dropped), as Brave's reporter (Spring's)
 * batches up to 500 KB and queues 10,000. The SDK's 512 and 2,048 made a busy service post four times as often, and
 * a collector beside it (Zipkin's JVM) spent about a tenth more CPU per span taking them in.
 */
const EXPORT_BATCH_SPANS = 2048;
const QUEUED_SPANS = 10_000;

const SERVER_SPAN = { kind: SpanKind.SERVER } as const;

/** Longest attribute value kept on a span. */
const ATTRIBUTE_LENGTH_LIMIT = 256;

let contextManagerSet = false;

/**
 * OpenTelemetry's context follows async work through AsyncLocalStorage. One manager per process, set on the first
 * tracer: the landscape runs several services in one process.
 */
function ensureContextManager(): void {
  if (contextManagerSet) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerSet = true;
}

function exporterOf(settings: TracingSettings, serviceName: string): SpanExporter {
  if (settings.exporter === 'zipkin') return new ZipkinExporter({ url: settings.zipkinEndpoint, serviceName });
  return new OTLPTraceExporter({ url: settings.otlpEndpoint, timeoutMillis: EXPORT_TIMEOUT_MS });
}

/** The endpoint as it may be logged: without a user or password in it. */
function withoutUserInfo(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return '(unparsable endpoint)';
  }
}

/** How often a collector that keeps failing is reported: once a minute is enough to notice, not to flood. */
const FAILURE_REPORT_MS = 60_000;

/**
 * An exporter that says when spans could not be sent (OpenTelemetry drops them silently): a collector that is down or
 * refuses them shows in the service's log, at most once a minute.
 */
function reporting(exporter: SpanExporter, endpoint: string, log: Logger | undefined): SpanExporter {
  if (log === undefined) return exporter;
  const where = withoutUserInfo(endpoint);
  let lastReport = 0;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS && Date.now() - lastReport > FAILURE_REPORT_MS) {
          lastReport = Date.now();
          log.warn(
            { err: result.error, spans: spans.length, endpoint: where },
            'sending spans failed; they are dropped',
          );
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    ...(exporter.forceFlush === undefined ? {} : { forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve() }),
  };
}

function injectorOf(propagation: Propagation): TextMapPropagator {
  if (propagation === 'w3c') return new W3CTraceContextPropagator();
  return new B3Propagator({
    injectEncoding: propagation === 'b3' ? B3InjectEncoding.SINGLE_HEADER : B3InjectEncoding.MULTI_HEADER,
  });
}

/** Random bytes drawn at a time for ids: 256 trace ids' worth. */
const ID_POOL_BYTES = 4096;

/**
 * Random ids cut from a pool of random bytes turned into hex at once: one `randomFillSync` and one hex conversion
 * per 256 trace ids, where the SDK's RandomIdGenerator makes two to four `Math.random` calls and a hex conversion per
 * id, a noticeable part of a small request's tracing cost. Ids are taken in order and never reused.
 */
class IdPool {
  readonly #bytes = Buffer.allocUnsafe(ID_POOL_BYTES);
  #hex = '';
  #at = ID_POOL_BYTES;
  /**
   * What TraceIdRatioBasedSampler reads of the last trace id, the XOR of its four 32-bit words, taken from the bytes
   * rather than parsed back from the hex: the fast path of startServerSpan decides most roots on it.
   */
  lastTraceKey = 0;

  /** Where `bytes` fresh random bytes start in the pool, refilled when used up. */
  #take(bytes: number): number {
    if (this.#at + bytes > ID_POOL_BYTES) {
      randomFillSync(this.#bytes);
      this.#hex = this.#bytes.toString('hex');
      this.#at = 0;
    }
    const at = this.#at;
    this.#at += bytes;
    return at;
  }

  traceId(): string {
    const b = this.#bytes;
    for (;;) {
      const at = this.#take(16);
      const id = this.#hex.slice(at * 2, at * 2 + 32);
      if (id === INVALID_TRACEID) continue;
      this.lastTraceKey =
        (b.readUInt32BE(at) ^ b.readUInt32BE(at + 4) ^ b.readUInt32BE(at + 8) ^ b.readUInt32BE(at + 12)) >>> 0;
      return id;
    }
  }

  spanId(): string {
    for (;;) {
      const at = this.#take(8);
      const id = this.#hex.slice(at * 2, at * 2 + 16);
      if (id !== INVALID_SPANID) return id;
    }
  }
}

/** TraceIdRatioBasedSampler's bound for a probability (0–1): it samples a trace whose key is below it. */
function ratioBound(probability: number): number {
  const p = Number.isNaN(probability) ? 0 : Math.min(Math.max(probability, 0), 1);
  return p === 1 ? 2 ** 32 : Math.floor(p * 0xffffffff);
}

/**
 * The pool's ids, except a trace id chosen beforehand: a root span whose sampling was decided on that id before the
 * SDK made it (see Tracing.startServerSpan) gets the same id, so the SDK's decision is the same.
 */
class ChosenTraceIds implements IdGenerator {
  chosen: string | undefined;
  readonly pool = new IdPool();

  generateTraceId(): string {
    const chosen = this.chosen;
    this.chosen = undefined;
    return chosen ?? this.pool.traceId();
  }

  generateSpanId(): string {
    return this.pool.spanId();
  }
}

/**
 * The tracer of one service, with its own `service.name` (Zipkin's serviceName): the landscape's services share a
 * process but not a name. Each has a provider of its own, not the global one.
 */
export class Tracing {
  readonly tracer: Tracer;
  readonly serviceName: string;
  readonly #provider: TracerProvider;
  // Read every format, as Micrometer Tracing consumes W3C, B3 and B3 multi by default; write the chosen one.
  readonly #extractor: TextMapPropagator = new CompositePropagator({
    propagators: [new B3Propagator(), new W3CTraceContextPropagator()],
  });
  readonly #injector: TextMapPropagator;
  readonly #ids = new ChosenTraceIds();
  /** The sampling bound of new traces, as TraceIdRatioBasedSampler's (see ratioBound). */
  readonly #rootBound: number;

  constructor(serviceName: string, settings: TracingSettings, log?: Logger) {
    ensureContextManager();
    this.serviceName = serviceName;
    this.#injector = injectorOf(settings.propagation);
    this.#rootBound = ratioBound(settings.samplingProbability);
    this.#provider = new TracerProvider({
      // Zipkin has the name as each span's localEndpoint (the exporter is given it); as a resource attribute it would
      // also go on every span as a `service.name` tag (Spring's spans have none), which the collector parses each time.
      resource: resourceFromAttributes(settings.exporter === 'zipkin' ? {} : { 'service.name': serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplingProbability) }),
      idGenerator: this.#ids,
      // Attribute values are cut at this length: a caller's long header or path must not make spans a collector
      // cannot hold (an outsider could otherwise exhaust an in-memory Zipkin), and a token cut short is no token.
      spanLimits: { attributeValueLengthLimit: ATTRIBUTE_LENGTH_LIMIT },
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: reporting(
            exporterOf(settings, serviceName),
            settings.exporter === 'zipkin' ? settings.zipkinEndpoint : settings.otlpEndpoint,
            log,
          ),
          scheduledDelayMillis: settings.exportDelayMs ?? 1000,
          exportTimeoutMillis: EXPORT_TIMEOUT_MS,
          maxExportBatchSize: EXPORT_BATCH_SPANS,
          maxQueueSize: QUEUED_SPANS,
        }),
      ],
    });
    this.tracer = this.#provider.getTracer('trellis');
  }

  /** The context a carrier's trace headers continue (W3C `traceparent`, `b3`, or `X-B3-*`); the root when none. */
  extract<C>(carrier: C, getter: TextMapGetter<C> = defaultTextMapGetter as TextMapGetter<C>): Context {
    return this.#extractor.extract(ROOT_CONTEXT, carrier, getter);
  }

  /** Writes the trace headers of `ctx` (the active context by default) into a carrier: HTTP headers, message headers. */
  inject<C>(
    carrier: C,
    ctx: Context = context.active(),
    setter: TextMapSetter<C> = defaultTextMapSetter as TextMapSetter<C>,
  ): void {
    this.#injector.inject(ctx, carrier, setter);
  }

  /**
   * Starts a request's SERVER span. A new trace that sampling drops (nine in ten at Spring's default) is made here as
   * the context alone, as the SDK would make it, without the SDK's per-span bookkeeping: the same sampler decides, on
   * the same trace id, which the SDK then takes for the traces it records.
   */
  startServerSpan(name: string, parent: Context): Span {
    if (parent !== ROOT_CONTEXT) return this.tracer.startSpan(name, SERVER_SPAN, parent);
    const traceId = this.#ids.pool.traceId();
    if (this.#ids.pool.lastTraceKey >= this.#rootBound) {
      return trace.wrapSpanContext({ traceId, spanId: this.#ids.pool.spanId(), traceFlags: TraceFlags.NONE });
    }
    this.#ids.chosen = traceId;
    return this.tracer.startSpan(name, SERVER_SPAN, ROOT_CONTEXT);
  }

  /** Starts a span, child of `parent` (the active context by default); the caller ends it. */
  startSpan(name: string, kind: SpanKind, attributes?: Attributes, parent: Context = context.active()): Span {
    return this.tracer.startSpan(name, { kind, ...(attributes === undefined ? {} : { attributes }) }, parent);
  }

  /**
   * Runs `fn` in a new span made active for it (child of `parent`, the active context by default) and ends the span
   * when `fn` settles, marking it an error when `fn` throws.
   */
  async inSpan<T>(
    name: string,
    kind: SpanKind,
    attributes: Attributes | undefined,
    fn: (span: Span) => Promise<T> | T,
    parent: Context = context.active(),
  ): Promise<T> {
    const span = this.startSpan(name, kind, attributes, parent);
    try {
      return await context.with(trace.setSpan(parent, span), () => fn(span));
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /** Sends the spans still waiting in the batch. */
  flush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  /** Flushes, then stops exporting: part of the service's shutdown. */
  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}
