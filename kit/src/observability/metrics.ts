// A service's meters (prom-client) under Micrometer's names, and their rendering for /actuator/prometheus.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { boundTimer } from './bound.ts';
import { addWorkerRegistry, scrapeAllWorkers } from '../workers.ts';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Latency buckets in seconds, 1 ms to 10 s: the spread a Spring dashboard's percentile panels expect. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Who may read /actuator/prometheus: `internal` (the default) answers callers on loopback or a private network that
 * came through no proxy (a Prometheus beside the service); `any` answers everyone.
 */
export type PrometheusAccess = 'internal' | 'any';

/** Micrometer's `outcome` tag, from an HTTP status. */
export function outcomeOf(status: number): string {
  if (status >= 500) return 'SERVER_ERROR';
  if (status >= 400) return 'CLIENT_ERROR';
  if (status >= 300) return 'REDIRECTION';
  if (status >= 200) return 'SUCCESS';
  if (status >= 100) return 'INFORMATIONAL';
  return 'UNKNOWN';
}

type ServerLabel = 'method' | 'uri' | 'status' | 'outcome' | 'exception' | 'error';

/**
 * The meters of one service: its own registry, tagged `application` as Spring Boot's
 * `management.metrics.tags.application` does, so one Prometheus tells the landscape's services apart. Servers and
 * clients add their families to `registry`; label values are always templates, names or small enums, never raw paths,
 * instance ids or tokens.
 */
export class Metrics {
  readonly registry: Registry<RegistryContentType>;
  readonly #serverRequests: Histogram<ServerLabel>;
  /** One bound child per label set (see boundTimer). */
  readonly #serverChildren = new Map<string, { observe(value: number): void }>();
  #rendering: Promise<unknown> = Promise.resolve();
  readonly #rendered = new Map<boolean, Promise<{ contentType: string; body: string }>>();
  /** Who may read the scrape: the `--prometheus-access` setting. */
  readonly access: PrometheusAccess;

  constructor(application: string, access: PrometheusAccess = 'internal') {
    this.access = access;
    this.registry = new Registry<RegistryContentType>();
    this.registry.setDefaultLabels({ application });
    collectDefaultMetrics({ register: this.registry });
    this.#serverRequests = new Histogram({
      name: 'http_server_requests_seconds',
      help: 'Duration of HTTP server request handling',
      labelNames: ['method', 'uri', 'status', 'outcome', 'exception', 'error'],
      buckets: [...LATENCY_BUCKETS],
      registers: [this.registry],
    });
    micrometerProcessGauges(this.registry);
    // With --workers, a scrape lands on one worker and answers for all of them.
    addWorkerRegistry(this.registry);
  }

  /** Records one answered request; `uri` is the route template (`/eureka/apps/{appName}`), never the raw path. */
  serverRequest(method: string, uri: string, status: number, exception: string, seconds: number): void {
    const key = `${method} ${status} ${exception} ${uri}`;
    let child = this.#serverChildren.get(key);
    if (child === undefined) {
      child = boundTimer(this.#serverRequests, {
        method,
        uri,
        status: String(status),
        outcome: outcomeOf(status),
        exception,
        // Micrometer's `error` tag repeats the exception's name (`none` without one).
        error: exception,
      });
      this.#serverChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /**
   * The scrape in Prometheus text format, or OpenMetrics when asked. prom-client fixes the format per registry, so
   * renders take turns: two scrapes in different formats never see each other's setting.
   */
  render(openMetrics: boolean): Promise<{ contentType: string; body: string }> {
    const all = scrapeAllWorkers(openMetrics);
    // Without an answer from the primary, this worker's own figures are better than no scrape.
    if (all !== undefined) return all.catch(() => this.#renderOwn(openMetrics));
    return this.#renderOwn(openMetrics);
  }

  #renderOwn(openMetrics: boolean): Promise<{ contentType: string; body: string }> {
    // Scrapes that arrive while one is being rendered share it: a scrape costs milliseconds of the process's only
    // thread, so many callers at once get the same figures instead of a queue of renderings.
    const inFlight = this.#rendered.get(openMetrics);
    if (inFlight !== undefined) return inFlight;
    const next = this.#rendering.then(async () => {
      this.registry.setContentType(openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
      const body = await this.registry.metrics();
      return { contentType: this.registry.contentType, body };
    });
    this.#rendering = next.catch(() => undefined);
    this.#rendered.set(openMetrics, next);
    void next.finally(() => this.#rendered.delete(openMetrics)).catch(() => undefined);
    return next;
  }
}

/** The process gauges Spring's dashboards chart by Micrometer's names, beside prom-client's own `process_*` ones. */
function micrometerProcessGauges(registry: Registry<RegistryContentType>): void {
  const started = Date.now() - process.uptime() * 1000;
  new Gauge({
    name: 'process_uptime_seconds',
    help: 'The uptime of the process',
    registers: [registry],
    // With --workers the scrape sums the workers' meters; an uptime or a limit is no sum.
    aggregator: 'max',
    collect() {
      this.set(process.uptime());
    },
  });
  new Gauge({
    name: 'system_cpu_count',
    help: 'The number of processors available to the process',
    registers: [registry],
    aggregator: 'first',
    collect() {
      this.set(cpus().length);
    },
  });
  // Micrometer's file descriptor gauges (Linux: /proc), beside prom-client's process_open_fds.
  new Gauge({
    name: 'process_files_open_files',
    help: 'The open file descriptor count',
    registers: [registry],
    collect() {
      try {
        this.set(readdirSync('/proc/self/fd').length);
      } catch {
        // not Linux: no reading
      }
    },
  });
  new Gauge({
    name: 'process_files_max_files',
    help: 'The maximum file descriptor count',
    registers: [registry],
    aggregator: 'first',
    collect() {
      try {
        const limit = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
        if (limit !== undefined) this.set(Number(limit));
      } catch {
        // not Linux: no reading
      }
    },
  });
  // CPU share since the previous scrape, 0–1 of the whole machine, as Micrometer's process_cpu_usage.
  let last = { at: started, usage: 0 };
  new Gauge({
    name: 'process_cpu_usage',
    help: 'The recent cpu usage for the process',
    registers: [registry],
    collect() {
      const now = Date.now();
      const { user, system } = process.cpuUsage();
      const usage = (user + system) / 1000;
      const elapsed = (now - last.at) * cpus().length;
      this.set(elapsed > 0 ? Math.min(1, Math.max(0, (usage - last.usage) / elapsed)) : 0);
      last = { at: now, usage };
    },
  });
}

/** A counter family on `metrics`' registry, made once per name (a second service component may ask again). */
export function counter<L extends string>(
  metrics: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const existing = metrics.registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Counter<L>;
  return new Counter({ name, help, labelNames: [...labelNames], registers: [metrics.registry] });
}

/** A gauge family on `metrics`' registry, made once per name. */
export function gauge<L extends string>(
  metrics: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[],
  collect?: (gauge: Gauge<L>) => void,
): Gauge<L> {
  const existing = metrics.registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Gauge<L>;
  return new Gauge({
    name,
    help,
    labelNames: [...labelNames],
    registers: [metrics.registry],
    ...(collect === undefined
      ? {}
      : {
          collect(this: Gauge<L>) {
            collect(this);
          },
        }),
  });
}

/** A latency histogram family (seconds, LATENCY_BUCKETS) on `metrics`' registry, made once per name. */
export function timer<L extends string>(
  metrics: Metrics,
  name: string,
  help: string,
  labelNames: readonly L[],
): Histogram<L> {
  const existing = metrics.registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Histogram<L>;
  return new Histogram({
    name,
    help,
    labelNames: [...labelNames],
    buckets: [...LATENCY_BUCKETS],
    registers: [metrics.registry],
  });
}
