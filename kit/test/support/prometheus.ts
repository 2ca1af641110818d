// A real Prometheus (Debian's, installed by `trellis setup`) for the metrics tests: its own config and storage in a
// temporary directory, on a free loopback port, never the service Debian may run on 9090.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepOutput, own } from '../../src/owned-process.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/free-port.ts';

export interface ScrapeTarget {
  /** The job label Prometheus gives its series. */
  readonly job: string;
  /** Where the target listens, e.g. `http://127.0.0.1:8080`; a path here is ignored (see metricsPath). */
  readonly url: string;
  /** Default `/actuator/prometheus`, Spring Boot's path and ours. */
  readonly metricsPath?: string;
  /** For an `https:` target served with a certificate of a CA of our own (the landscape's config server). */
  readonly caFile?: string;
}

export interface PrometheusOptions {
  readonly targets: readonly ScrapeTarget[];
  /** Default 1 s, so a test sees a value about a second after the target serves it. */
  readonly scrapeIntervalSeconds?: number;
  /** How long to wait for /-/ready. Default 30 s. */
  readonly startTimeoutMs?: number;
}

/** One series of an instant vector, as /api/v1/query answers it: its labels and `[unix seconds, "value"]`. */
export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

export interface Prometheus {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Runs an instant PromQL query; rejects with Prometheus's error for bad PromQL or a result that is not a vector. */
  query(promql: string): Promise<VectorSample[]>;
  /** Stops Prometheus and removes its config and storage. */
  stop(): Promise<void>;
}

interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: VectorSample[] };
}

/** Prometheus reads YAML, and JSON is YAML: no quoting rules of our own for job names or paths. */
function config(targets: readonly ScrapeTarget[], intervalSeconds: number): string {
  return JSON.stringify(
    {
      global: { scrape_interval: `${intervalSeconds}s`, evaluation_interval: `${intervalSeconds}s` },
      scrape_configs: targets.map((t) => {
        const url = new URL(t.url);
        return {
          job_name: t.job,
          scheme: url.protocol.replace(':', ''),
          metrics_path: t.metricsPath ?? '/actuator/prometheus',
          scrape_timeout: `${intervalSeconds}s`,
          static_configs: [{ targets: [url.host] }],
          ...(t.caFile === undefined ? {} : { tls_config: { ca_file: t.caFile } }),
        };
      }),
    },
    null,
    2,
  );
}

async function ready(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts `prometheus` scraping `targets` and resolves once it is ready.
 *
 * @example
 * const prometheus = await startPrometheus({ targets: [{ job: 'product', url: productUrl }] });
 * const [sample] = await prometheus.query('http_server_requests_seconds_count{job="product"}');
 */
export async function startPrometheus(options: PrometheusOptions): Promise<Prometheus> {
  const interval = options.scrapeIntervalSeconds ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'trellis-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, config(options.targets, interval));
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tail: string[] = [];
  keepOutput(child, tail);
  let exit: string | undefined;
  child.once(
    'error',
    (err) =>
      (exit =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'is not installed (trellis setup installs it)'
          : err.message),
  );
  child.once('exit', (code, signal) => (exit ??= `exited (${signal ?? `code ${code}`})`));
  const stopChild = own(child);
  const stop = async (): Promise<void> => {
    await stopChild(10_000);
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  while (!(await ready(url))) {
    if (exit !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus ${exit ?? `was not ready on ${url} in time`}: ${tail.slice(-5).join(' | ')}`);
    }
    await sleep(100);
  }
  return {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`);
      const answer = (await res.json()) as QueryAnswer;
      if (answer.status !== 'success' || answer.data === undefined) {
        throw new Error(`prometheus refused ${promql}: ${answer.error ?? res.status}`);
      }
      if (answer.data.resultType !== 'vector') {
        throw new Error(`${promql} is a ${answer.data.resultType}, not an instant vector`);
      }
      return answer.data.result;
    },
    stop,
  };
}
