// An OpenTelemetry Collector on loopback that takes OTLP/HTTP spans and writes them to a file the tests read back.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptsConnections, freePort } from '../free-port.ts';
import { keepOutput, own, untilReady } from '../owned-process.ts';
import { ensureOtelCollector } from './build.ts';

export interface OtelCollectorOptions {
  /** The OTLP/HTTP port. Default: a free port. */
  readonly port?: number;
  /** Receives each line the collector prints. Default: kept back, and the last lines given in a start-up error. */
  readonly log?: (line: string) => void;
  /** Where the binary is cached. Default `~/.cache/trellis`. */
  readonly cacheDir?: string;
  /** How long to wait for the receiver to accept connections. Default 30 s (it takes well under one). */
  readonly startTimeoutMs?: number;
}

export type AttributeValue = string | number | boolean | readonly AttributeValue[] | undefined;

/** One span as the collector received it, out of OTLP's resource → scope → span nesting. */
export interface FlatSpan {
  /** 32 hex digits. */
  readonly traceId: string;
  /** 16 hex digits. */
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  /** The resource's `service.name`. */
  readonly serviceName: string | undefined;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

export interface OtelCollector {
  /** `http://127.0.0.1:<port>/v1/traces`, Spring's `management.otlp.tracing.endpoint`. */
  readonly tracesUrl: string;
  readonly port: number;
  readonly pid: number;
  /** Every span received so far (the file exporter flushes every 100 ms; poll for late ones). */
  spans(): Promise<FlatSpan[]>;
  /** Stops the collector (SIGTERM, then SIGKILL after 10 s) and deletes its span file. */
  stop(): Promise<void>;
}

/** OTLP/JSON's AnyValue: one field set; 64-bit integers arrive as strings. */
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        attributes?: KeyValue[];
      }[];
    }[];
  }[];
}

function valueOf(value: AnyValue | undefined): AttributeValue {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

function attributesOf(list: readonly KeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

/** The spans of the file exporter's JSON lines, one export request a line; a line still being written is skipped. */
export function flattenSpans(text: string): FlatSpan[] {
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const spans: FlatSpan[] = [];
  for (const line of complete.split('\n')) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as ExportRequest;
    for (const resourceSpans of request.resourceSpans ?? []) {
      const serviceName = attributesOf(resourceSpans.resource?.attributes)['service.name'];
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        for (const span of scopeSpans.spans ?? []) {
          spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId === undefined || span.parentSpanId === '' ? undefined : span.parentSpanId,
            name: span.name,
            kind: span.kind ?? 0,
            serviceName: typeof serviceName === 'string' ? serviceName : undefined,
            attributes: attributesOf(span.attributes),
          });
        }
      }
    }
  }
  return spans;
}

/**
 * Starts an OpenTelemetry Collector whose only listener is the OTLP/HTTP receiver on 127.0.0.1 (no gRPC, and its own
 * metrics off, so nothing binds :8888), writing every span to a temporary file that `spans()` reads. Builds the
 * collector the first time (see `ensureOtelCollector`); the process is killed with this one should it end without
 * `stop()`.
 *
 * @example
 * const collector = await startOtelCollector();
 * // --tracing otlp --otlp-endpoint ${collector.tracesUrl}; then (await collector.spans()).filter(…)
 * await collector.stop();
 */
export async function startOtelCollector(options: OtelCollectorOptions = {}): Promise<OtelCollector> {
  const binary = await ensureOtelCollector({ cacheDir: options.cacheDir });
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'trellis-otelcol-'));
  const spansFile = join(dir, 'spans.jsonl');
  // JSON is YAML, and needs no escaping of the temporary path.
  const config = {
    receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${port}` } } } },
    exporters: { file: { path: spansFile, format: 'json', flush_interval: '100ms' } },
    service: {
      telemetry: { metrics: { level: 'none' } },
      pipelines: { traces: { receivers: ['otlp'], exporters: ['file'] } },
    },
  };
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  // Only PATH and HOME pass: the collector expands ${env:…} in its config and reads OTEL_* variables itself.
  const child = spawn(binary, ['--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', ...(process.env.HOME === undefined ? {} : { HOME: process.env.HOME }) },
  });
  const tail: string[] = [];
  keepOutput(child, tail, options.log);
  const stopChild = own(child);
  const stop = async (): Promise<void> => {
    await stopChild(10_000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilReady(child, {
      probe: () => acceptsConnections('127.0.0.1', port),
      timeoutMs: options.startTimeoutMs ?? 30_000,
      pollMs: 100,
      what: 'the OpenTelemetry Collector',
      notReady: `did not accept connections on 127.0.0.1:${port}`,
      tail,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const spans = async (): Promise<FlatSpan[]> => {
    const text = await readFile(spansFile, 'utf8').catch((err: unknown) => {
      // Nothing exported yet: the exporter creates the file on its first write.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    });
    return flattenSpans(text);
  };
  return { tracesUrl: `http://127.0.0.1:${port}/v1/traces`, port, pid: child.pid ?? 0, spans, stop };
}
