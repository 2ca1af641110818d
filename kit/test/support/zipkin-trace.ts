// Reading a trace back from a real Zipkin's /api/v2/trace/{id}, polling until the spans a test waits for have arrived.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObservabilitySettings, Propagation } from '@trellis/kit';

/** A span as Zipkin's v2 API answers it, the fields the tests read. */
export interface ZipkinSpan {
  readonly traceId: string;
  readonly id: string;
  readonly parentId?: string;
  readonly name?: string;
  readonly kind?: string;
  readonly localEndpoint?: { readonly serviceName?: string };
  readonly tags?: Readonly<Record<string, string>>;
}

/** A trace as Zipkin answered it: its spans, and the JSON text they came in (to search for what must not leak). */
export interface ZipkinTrace {
  readonly spans: ZipkinSpan[];
  readonly json: string;
}

export interface TraceSpansOptions {
  /** Wait until the trace has at least this many spans. Default 1. */
  readonly atLeast?: number;
  /** Wait until this also holds for the spans (e.g. a SERVER span of each service). */
  readonly until?: (spans: readonly ZipkinSpan[]) => boolean;
  /** How long to poll. Default 15 s. */
  readonly timeoutMs?: number;
  /** The pause between two reads. Default 100 ms. */
  readonly intervalMs?: number;
  /** Runs before each read, e.g. to flush the test's own tracer. */
  readonly beforeRead?: () => Promise<unknown>;
  /**
   * At the timeout, resolve with the spans last read (none if Zipkin had the trace at no read) instead of rejecting,
   * for a test whose own assertions say better what is missing. Default false.
   */
  readonly resolveOnTimeout?: boolean;
}

/** One read of `traceId` from the Zipkin at `zipkinUrl` (`http://host:port`); undefined unless Zipkin answers 200. */
export async function readTrace(zipkinUrl: string, traceId: string): Promise<ZipkinTrace | undefined> {
  const res = await fetch(`${zipkinUrl}/api/v2/trace/${traceId}`);
  if (res.status !== 200) {
    await res.body?.cancel();
    return undefined;
  }
  const json = await res.text();
  return { spans: JSON.parse(json) as ZipkinSpan[], json };
}

/**
 * Polls the Zipkin at `zipkinUrl` until trace `traceId` has `atLeast` spans and `until` holds for them (spans reach
 * Zipkin in batches, some time after they end), and resolves with the trace as read then. Rejects at the timeout,
 * naming the spans it last saw, unless `resolveOnTimeout`.
 */
export async function pollTrace(
  zipkinUrl: string,
  traceId: string,
  options: TraceSpansOptions = {},
): Promise<ZipkinTrace> {
  const atLeast = options.atLeast ?? 1;
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last: ZipkinTrace = { spans: [], json: '' };
  for (;;) {
    await options.beforeRead?.();
    last = (await readTrace(zipkinUrl, traceId)) ?? { spans: [], json: '' };
    if (last.spans.length >= atLeast && (options.until?.(last.spans) ?? true)) return last;
    if (Date.now() > deadline) {
      if (options.resolveOnTimeout === true) return last;
      const seen = last.spans.map((s) => `${s.localEndpoint?.serviceName ?? ''} ${s.kind ?? 'LOCAL'} ${s.name ?? ''}`);
      const condition = options.until === undefined ? '' : ' meeting the condition';
      throw new Error(
        `trace ${traceId} did not reach ${atLeast} span(s)${condition} in Zipkin; it has: ${JSON.stringify(seen)}`,
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/**
 * The spans of trace `traceId` once the Zipkin at `zipkinUrl` has `atLeast` of them and `until` holds (see pollTrace).
 *
 * @example
 * const spans = await traceSpans(zipkin.url, TRACE_ID, { atLeast: 2 });
 * const server = spans.find((s) => s.kind === 'SERVER');
 */
export async function traceSpans(
  zipkinUrl: string,
  traceId: string,
  options: TraceSpansOptions = {},
): Promise<ZipkinSpan[]> {
  return (await pollTrace(zipkinUrl, traceId, options)).spans;
}

/**
 * Observability settings that send every span to `spansUrl` (a test's Zipkin) within 100 ms, with metrics on: what
 * the tracing tests give createObservability, in the W3C format unless `propagation` says.
 */
export function zipkinObservability(spansUrl: string, propagation: Propagation = 'w3c'): ObservabilitySettings {
  return {
    metrics: true,
    tracing: {
      exporter: 'zipkin',
      zipkinEndpoint: spansUrl,
      otlpEndpoint: '',
      samplingProbability: 1,
      propagation,
      exportDelayMs: 100,
    },
  };
}

/** The command-line form of zipkinObservability: the flags that make a component export every span to `spansUrl`. */
export function zipkinTracingFlags(spansUrl: string, propagation: Propagation = 'w3c'): string[] {
  return [
    '--tracing',
    'zipkin',
    '--zipkin-endpoint',
    spansUrl,
    '--tracing-sampling-probability',
    '1',
    '--tracing-propagation',
    propagation,
  ];
}
