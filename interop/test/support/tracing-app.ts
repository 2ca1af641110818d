// The traced Spring app of interop/spring-tracing as the observability tests drive it: build it, start it against a
// Zipkin and a downstream, stop it.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, mavenPackage, requireJdkAndMaven, startJava, stopJava, waitUntilUp, type JavaApp } from './jvm.ts';

/** The Maven project; `mvn package` leaves the app at `target/spring-tracing.jar`. */
export const TRACING_PROJECT = fileURLToPath(new URL('../../spring-tracing/', import.meta.url));
export const TRACING_JAR = join(TRACING_PROJECT, 'target', 'spring-tracing.jar');

export interface TracingAppOptions {
  /** Where the app sends its spans: a Zipkin's `/api/v2/spans` (`startZipkin().spansUrl`). */
  readonly zipkinSpansUrl: string;
  /** What GET /hello calls, with the trace context in its headers. */
  readonly downstreamUrl: string;
  /** `management.tracing.propagation.type`. Default W3C (`traceparent`). */
  readonly propagation?: 'W3C' | 'B3' | 'B3_MULTI';
  /** A directory for the build's and the JVM's logs. */
  readonly work: string;
}

export interface TracingApp {
  readonly jvm: JavaApp;
  /** `http://127.0.0.1:<port>`: GET /hello, /actuator/prometheus, /actuator/health. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Builds the app (once per pom change: Maven skips what is current) and starts it; resolves once its health is UP. */
export async function startTracingApp(options: TracingAppOptions): Promise<TracingApp> {
  requireJdkAndMaven();
  await mavenPackage(TRACING_PROJECT, join(options.work, 'mvn.log'));
  const port = await freePort();
  const jvm = startJava({
    args: ['-jar', TRACING_JAR],
    cwd: options.work,
    log: join(options.work, 'spring-tracing.log'),
    env: {
      SERVER_PORT: String(port),
      DOWNSTREAM_URL: options.downstreamUrl,
      MANAGEMENT_TRACING_EXPORT_ZIPKIN_ENDPOINT: options.zipkinSpansUrl,
      MANAGEMENT_TRACING_PROPAGATION_TYPE: options.propagation ?? 'W3C',
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(jvm, url);
  } catch (err) {
    await stopJava(jvm);
    throw err;
  }
  return { jvm, url, stop: () => stopJava(jvm) };
}
