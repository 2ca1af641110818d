// `const { tracesUrl, spans, stop } = await startOtelCollector()`: a real OpenTelemetry Collector for the OTLP tests.
export { flattenSpans, startOtelCollector } from './server.ts';
export type { AttributeValue, FlatSpan, OtelCollector, OtelCollectorOptions } from './server.ts';
export { ensureOtelCollector, OTELCOL_MIN_GO, OTELCOL_VERSION, otelCollectorPath } from './build.ts';
export type { OtelCollectorBuildOptions } from './build.ts';
