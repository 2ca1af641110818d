// A Zipkin server with in-memory storage on loopback, run from the cached executable jar.
import { spawn } from 'node:child_process';
import { freePort } from '../free-port.ts';
import { keepOutput, own, untilReady } from '../owned-process.ts';
import { ensureZipkinJar } from './jar.ts';

/** Spans an in-memory Zipkin keeps: with attribute values capped at 256 characters, well within its heap. */
const MAX_SPANS = 50_000;

export interface ZipkinOptions {
  /** The HTTP port (UI, API and collector). Default: a free port. */
  readonly port?: number;
  /** The one address it binds. Default `127.0.0.1`. */
  readonly host?: string;
  /** Receives each line Zipkin prints. Default: kept back, and the last lines given in a start-up error. */
  readonly log?: (line: string) => void;
  /** Where the jar is cached. Default `~/.cache/trellis`. */
  readonly cacheDir?: string;
  /** Maximum JVM heap. Default 256 MB. */
  readonly heapMb?: number;
  /** How long to wait for /health to say UP. Default 90 s (it takes about 4–8 s). */
  readonly startTimeoutMs?: number;
}

export interface Zipkin {
  /** `http://127.0.0.1:<port>`: the UI and `/api/v2/…`. */
  readonly url: string;
  /** `<url>/api/v2/spans`, where tracers POST spans (Spring's `management.zipkin.tracing.endpoint`). */
  readonly spansUrl: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the JVM (SIGTERM, then SIGKILL after 10 s); its spans go with it. */
  stop(): Promise<void>;
}

/** `1.2.3.4` as is, `::1` in brackets, for a URL. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function healthUp(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as { status?: unknown };
    return res.status === 200 && body.status === 'UP';
  } catch {
    return false;
  }
}

/**
 * Starts a Zipkin server (in-memory storage) bound to one loopback address, fetching its jar from Maven Central the
 * first time, and resolves once its /health says UP. Needs a JDK 17+ and Maven; nothing is containerised. The JVM is
 * killed with this process should it end without `stop()`.
 *
 * @example
 * const zipkin = await startZipkin();
 * // management.zipkin.tracing.endpoint=${zipkin.spansUrl}; then GET `${zipkin.url}/api/v2/trace/${traceId}`
 * await zipkin.stop();
 */
export async function startZipkin(options: ZipkinOptions = {}): Promise<Zipkin> {
  const jar = await ensureZipkinJar({ cacheDir: options.cacheDir });
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const heap = options.heapMb ?? 256;
  const child = spawn(
    'java',
    [
      `-Xmx${heap}m`,
      '-XX:+UseSerialGC',
      // The JVM's full tiered JIT: with only its quick compiler (TieredStopAtLevel=1) Zipkin spent about a fifth more
      // CPU per span it takes in, which a collector beside the services takes from them; it starts as fast either way.
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      '-jar',
      jar,
      // Armeria's listeners, not server.port (QUERY_PORT), decide where it binds; a list given here replaces the
      // jar's whole `armeria.ports`, so the port and protocol are restated beside the address.
      `--armeria.ports[0].ip=${host}`,
      `--armeria.ports[0].port=${port}`,
      '--armeria.ports[0].protocols[0]=http',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Zipkin configures itself from the environment (KAFKA_BOOTSTRAP_SERVERS, RABBIT_ADDRESSES, ES_HOSTS…): only
      // what the JVM needs passes, so a variable meant for something else cannot switch on a collector or storage.
      env: {
        PATH: process.env.PATH ?? '',
        ...(process.env.HOME === undefined ? {} : { HOME: process.env.HOME }),
        ...(process.env.JAVA_HOME === undefined ? {} : { JAVA_HOME: process.env.JAVA_HOME }),
        STORAGE_TYPE: 'mem',
        // The newest spans only, so memory stays within the heap whatever the landscape sends (Zipkin's default of
        // 500,000 outgrows 256 MB, and an in-memory Zipkin that runs out of heap exits).
        MEM_MAX_SPANS: String(MAX_SPANS),
        SELF_TRACING_ENABLED: 'false',
      },
    },
  );
  const tail: string[] = [];
  keepOutput(child, tail, options.log);
  const stopChild = own(child);
  const stop = async (): Promise<void> => {
    await stopChild(10_000);
  };
  const url = `http://${urlHost(host)}:${port}`;
  try {
    const timeoutMs = options.startTimeoutMs ?? 90_000;
    await untilReady(child, {
      probe: () => healthUp(url),
      timeoutMs,
      pollMs: 200,
      what: 'the Zipkin server',
      notReady: `did not report UP on ${url}/health`,
      tail,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, spansUrl: `${url}/api/v2/spans`, port, pid: child.pid ?? 0, stop };
}
