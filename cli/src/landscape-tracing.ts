// The tracing of `trellis up`: with `--tracing zipkin` and Zipkin's default endpoint, a real Zipkin started for the
// landscape (from @trellis/kit/zipkin-server) unless one already answers there, and every trace recorded.
import type { Logger, Running } from '@trellis/kit';

export interface LandscapeTracingOptions {
  readonly tracing: string;
  readonly zipkinEndpoint: string;
  /** The port of a Zipkin started here: 9411, where Spring apps and Zipkin's docs look. */
  readonly zipkinPort: number;
  /** Whether the user chose a sampling probability; otherwise a development landscape records every trace. */
  readonly samplingChosen: boolean;
  readonly logger: Logger;
}

export interface LandscapeTracing {
  /** Settings that override every component's (the Zipkin endpoint, the sampling probability). */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly notes: readonly string[];
  /** The Zipkin `trellis up` started, to stop with the landscape. */
  readonly zipkin?: Running;
}

const DEFAULT_ZIPKIN = 'http://localhost:9411/api/v2/spans';

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Where the landscape's spans go. Only `--tracing zipkin` with the default endpoint starts anything: another endpoint,
 * or OTLP, names a collector the user runs.
 *
 * @example
 * const t = await landscapeTracing({ tracing: 'zipkin', zipkinEndpoint: DEFAULT, zipkinPort: 9411, samplingChosen: false, logger });
 * // t.settings.zipkinEndpoint === 'http://127.0.0.1:9411/api/v2/spans'; t.zipkin stops it
 */
export async function landscapeTracing(o: LandscapeTracingOptions): Promise<LandscapeTracing> {
  if (o.tracing === 'none') return { settings: {}, notes: [] };
  // One request's whole path is what a developer looks for; Spring's 0.1 would miss nine walkthroughs in ten.
  const sampling = o.samplingChosen ? {} : { samplingProbability: 1 };
  if (o.tracing !== 'zipkin' || o.zipkinEndpoint !== DEFAULT_ZIPKIN) {
    return { settings: sampling, notes: [`tracing: spans to ${o.tracing === 'zipkin' ? o.zipkinEndpoint : 'OTLP'}`] };
  }
  const ui = `http://127.0.0.1:${o.zipkinPort}`;
  if (await answers(`${ui}/health`)) {
    return {
      settings: { ...sampling, zipkinEndpoint: `${ui}/api/v2/spans` },
      notes: [`tracing: spans to the Zipkin already at ${ui} (its UI shows each request's trace)`],
    };
  }
  const { startZipkin } = await import('@trellis/kit/zipkin-server');
  o.logger.info({ port: o.zipkinPort }, 'starting Zipkin');
  const zipkin = await startZipkin(o.zipkinPort === 0 ? {} : { port: o.zipkinPort });
  return {
    settings: { ...sampling, zipkinEndpoint: zipkin.spansUrl },
    notes: [
      `tracing: Zipkin ${zipkin.url} started for this landscape (in memory); open it to see each request's trace`,
    ],
    zipkin: { name: 'zipkin', endpoints: [], stop: () => zipkin.stop() },
  };
}
