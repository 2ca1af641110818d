// The client side of a service's observability: Micrometer's http_client_requests_seconds and a CLIENT span per request.
import {
  boundTimer,
  currentObservability,
  failSpan,
  outcomeOf,
  SpanKind,
  SpanStatusCode,
  timer,
  trace,
  TRACE_HEADERS,
  context,
  type Histogram,
  type Observability,
  type Span,
  type Tracing,
} from '@trellis/kit';

type ClientLabel = 'method' | 'uri' | 'status' | 'outcome' | 'exception' | 'error' | 'client_name';

/** Headers as undici takes them. */
export type OutgoingHeaders = Record<string, string | string[]>;

/** One outgoing request being observed: its headers, then exactly one of `end` or `fail`. */
export interface ClientExchange {
  /** `given` (never changed) with this exchange's trace headers in place of any trace headers it had. */
  headers(given: Readonly<Record<string, string | readonly string[]>> | null | undefined): OutgoingHeaders | null;
  /** The answer's status arrived: the request is timed up to its response headers, as Micrometer does. */
  end(status: number): void;
  /** No answer: Micrometer's `status="CLIENT_ERROR"`, `outcome="UNKNOWN"`, the error's class as `exception`. */
  fail(err: unknown): void;
}

interface Bound {
  observe(seconds: number): void;
}

/** The name Micrometer's `exception` tag would give `err`: its class name. */
function exceptionOf(err: unknown): string {
  return err instanceof Error ? err.constructor.name : 'Error';
}

/**
 * Observes a client's outgoing HTTP requests into a service's meters and tracer. Made once per client, with the
 * observability given or the one of the scope the client is made in; `undefined` when that has neither meters nor
 * tracing, so an unobserved client pays one branch per request.
 *
 * @example
 * const observer = HttpClientObserver.of(options.observability);
 * const exchange = observer?.start('GET', url, 'review', '/review?productId={id}');
 * const res = await dispatcher.request({ ..., headers: exchange === undefined ? headers : exchange.headers(headers) });
 * exchange?.end(res.statusCode);
 */
export class HttpClientObserver {
  readonly #tracing: Tracing | undefined;
  readonly #requests: Histogram<ClientLabel> | undefined;
  /** One bound child per label set (see boundTimer). */
  readonly #children = new Map<string, Bound>();

  private constructor(observability: Observability) {
    this.#tracing = observability.tracing;
    this.#requests =
      observability.metrics === undefined
        ? undefined
        : timer(observability.metrics, 'http_client_requests_seconds', 'Duration of HTTP client requests', [
            'method',
            'uri',
            'status',
            'outcome',
            'exception',
            'error',
            'client_name',
          ]);
  }

  /** An observer for `observability` (default: the current scope's), or undefined when it observes nothing. */
  static of(observability?: Observability): HttpClientObserver | undefined {
    const o = observability ?? currentObservability();
    if (o.metrics === undefined && o.tracing === undefined) return undefined;
    return new HttpClientObserver(o);
  }

  /**
   * Starts observing one request to `url`. `clientName` is Micrometer's `client.name` (the service id or host), `uri`
   * the request's template (`/product/{id}`) or `none`: never the raw path, which would make a series per id. The
   * span's parent is the active context (the server request being answered).
   */
  start(method: string, url: URL, clientName: string, uri: string): ClientExchange {
    const started = performance.now();
    const tracing = this.#tracing;
    let span: Span | undefined;
    if (tracing !== undefined) {
      const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      // The URL without its query or user info: a query may carry tokens.
      span = tracing.startSpan(method, SpanKind.CLIENT, {
        'http.request.method': method,
        'server.address': url.hostname,
        'server.port': port,
        'url.full': `${url.origin}${url.pathname}`,
      });
    }
    const record = (status: string, outcome: string, exception: string): void => {
      const histogram = this.#requests;
      if (histogram === undefined) return;
      const key = `${method} ${status} ${exception} ${clientName} ${uri}`;
      let child = this.#children.get(key);
      if (child === undefined) {
        // Micrometer's `error` tag repeats the exception's name (`none` without one).
        child = boundTimer(histogram, {
          method,
          uri,
          status,
          outcome,
          exception,
          error: exception,
          client_name: clientName,
        });
        this.#children.set(key, child);
      }
      child.observe((performance.now() - started) / 1000);
    };
    let done = false;
    return {
      headers(given) {
        if (tracing === undefined || span === undefined) return given === undefined ? null : (given as OutgoingHeaders);
        const out: OutgoingHeaders = {};
        if (given !== null && given !== undefined) {
          for (const [name, value] of Object.entries(given)) {
            if (!TRACE_HEADERS.has(name.toLowerCase())) out[name] = value as string | string[];
          }
        }
        tracing.inject(out, trace.setSpan(context.active(), span));
        return out;
      },
      end(status) {
        if (done) return;
        done = true;
        record(String(status), outcomeOf(status), 'none');
        if (span === undefined) return;
        if (span.isRecording()) {
          span.setAttribute('http.response.status_code', status);
          // OpenTelemetry's rule for client spans: any 4xx or 5xx is an error of the call.
          if (status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      },
      fail(err) {
        if (done) return;
        done = true;
        record('CLIENT_ERROR', 'UNKNOWN', exceptionOf(err));
        if (span === undefined) return;
        failSpan(span, err);
        span.end();
      },
    };
  }
}
