// What instrumented code needs of OpenTelemetry's API without loading its SDK (which loads only with tracing on).
import { SpanStatusCode, type Span } from '@opentelemetry/api';

export { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
export type { Attributes, Context, Span, TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/** Marks a span failed by `err`: Micrometer's `error` tag, OpenTelemetry's error status and exception event. */
export function failSpan(span: Span, err: unknown): void {
  const name = err instanceof Error ? err.name : 'Error';
  span.setStatus({ code: SpanStatusCode.ERROR, message: name });
  span.setAttribute('error.type', name);
}
