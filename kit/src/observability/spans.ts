// What instrumented code needs of OpenTelemetry's API without loading its SDK (which loads only with tracing on).
import { SpanStatusCode, type Span } from '@opentelemetry/api';

export { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
/**
 * The trace headers of every format a service reads (W3C, B3 single and multi), lower-case. A request that carries
 * them from elsewhere has them replaced by the caller's own, never sent beside them: the callee would see two traces,
 * or a client could plant a trace id of its choosing.
 */
export const TRACE_HEADERS: ReadonlySet<string> = new Set([
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
]);

export type { Attributes, Context, Span, TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/** Marks a span failed by `err`: Micrometer's `error` tag, OpenTelemetry's error status and exception event. */
export function failSpan(span: Span, err: unknown): void {
  const name = err instanceof Error ? err.name : 'Error';
  span.setStatus({ code: SpanStatusCode.ERROR, message: name });
  span.setAttribute('error.type', name);
}
