// The events binders' meters and spans: trace context carried in message headers as Spring Cloud Stream with
// Micrometer Tracing carries it (plain `traceparent` or `b3`), and per-destination counters and a processing timer.
import { performance } from 'node:perf_hooks';
import {
  boundCounter,
  boundTimer,
  context,
  counter,
  failSpan,
  SpanKind,
  timer,
  trace,
  type Observability,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracing,
} from '@trellis/kit';
import type { Outcome } from './processing.ts';
import type { BinderKind } from './types.ts';

/** OpenTelemetry's `messaging.system` of each binder (Micrometer's Kafka and Rabbit observations say the same). */
const SYSTEM: Readonly<Record<BinderKind, string>> = {
  kafka: 'kafka',
  rabbit: 'rabbitmq',
  embedded: 'trellis-embedded',
};

/** The `group` label of a consumer without a group: its generated queue or group id would make a label per run. */
export const ANONYMOUS_GROUP = 'anonymous';

/** Reads trace headers whichever case a producer wrote them in (Brave writes `X-B3-TraceId`, OpenTelemetry lowercase). */
function findKey(keys: Iterable<string>, wanted: string): string | undefined {
  for (const key of keys) if (key.length === wanted.length && key.toLowerCase() === wanted) return key;
  return undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** Message headers as an object (RabbitMQ's AMQP table, the embedded binder's JSON): strings, or bytes as UTF-8. */
export const recordGetter: TextMapGetter<Readonly<Record<string, unknown>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const direct = carrier[key];
    if (direct !== undefined) return text(direct);
    const found = findKey(Object.keys(carrier), key);
    return found === undefined ? undefined : text(carrier[found]);
  },
};

/** Header values an object carrier receives: plain strings, which Spring AMQP reads back as `String`. */
export const recordSetter: TextMapSetter<Record<string, unknown>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Kafka record headers: names and values are bytes; Spring's tracing reads and writes them as raw UTF-8. */
export const kafkaGetter: TextMapGetter<ReadonlyMap<Buffer, Buffer>> = {
  keys: (carrier) => [...carrier.keys()].map((k) => k.toString('utf8')),
  get: (carrier, key) => {
    for (const [name, value] of carrier) {
      if (name.length === key.length && name.toString('latin1').toLowerCase() === key) return value.toString('utf8');
    }
    return undefined;
  },
};

/**
 * Writes trace headers as raw UTF-8, outside `spring_json_header_types`, as Micrometer's KafkaRecordSenderContext does:
 * Spring's receiver reads them from the record, not through the header mapper.
 */
export const kafkaSetter: TextMapSetter<Map<Buffer, Buffer>> = {
  set: (carrier, key, value) => {
    carrier.set(Buffer.from(key), Buffer.from(value));
  },
};

/** Writes the current send's trace headers into a message's headers. */
export type TraceWriter = <C>(carrier: C, setter: TextMapSetter<C>) => void;

interface Inc {
  inc(): void;
}
interface Observe {
  observe(value: number): void;
}

/** What a producer records per send; undefined (not made) when both metrics and tracing are off. */
export class ProducerObserver {
  readonly tracing: Tracing | undefined;
  readonly #published: Inc | undefined;
  readonly #spanName: string;
  readonly #attributes: Readonly<Record<string, string>>;

  constructor(binder: BinderKind, destination: string, observability: Observability) {
    this.tracing = observability.tracing;
    const metrics = observability.metrics;
    this.#published =
      metrics === undefined
        ? undefined
        : boundCounter(
            counter(metrics, 'trellis_events_published_total', 'Events a producer sent and the binder accepted', [
              'binder',
              'destination',
            ]),
            { binder, destination },
          );
    this.#spanName = `${destination} send`;
    this.#attributes = {
      'messaging.system': SYSTEM[binder],
      'messaging.destination.name': destination,
      'messaging.operation': 'send',
    };
  }

  /**
   * One send: `make` builds the message, writing the PRODUCER span's trace headers into it with `writeTrace` (given
   * only with tracing on); `send` sends it. The span (child of the active context) ends, and the counter counts, once
   * the binder has the message.
   */
  send<M>(make: (writeTrace: TraceWriter | undefined) => M, send: (message: M) => Promise<void>): Promise<void> {
    const tracing = this.tracing;
    let span: Span | undefined;
    let sent: Promise<void>;
    try {
      if (tracing === undefined) {
        sent = send(make(undefined));
      } else {
        const parent = context.active();
        const s = tracing.startSpan(this.#spanName, SpanKind.PRODUCER, this.#attributes, parent);
        span = s;
        const ctx = trace.setSpan(parent, s);
        sent = send(make((carrier, setter) => tracing.inject(carrier, ctx, setter)));
      }
    } catch (err) {
      if (span !== undefined) end(span, err);
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return sent.then(
      () => {
        this.#published?.inc();
        span?.end();
      },
      (err: unknown) => {
        if (span !== undefined) end(span, err);
        throw err;
      },
    );
  }
}

function end(span: Span, err: unknown): void {
  failSpan(span, err);
  span.end();
}

/** The error a dead outcome stands for, so the span names the handler's error class (`TypeError`) as Spring's does. */
function failureOf(outcome: Extract<Outcome, { kind: 'dead' }>): Error {
  const err = new Error(outcome.reason);
  err.name = outcome.errorClass;
  return err;
}

/** What a consumer records per delivery; undefined (not made) when both metrics and tracing are off. */
export class ConsumerObserver {
  readonly #tracing: Tracing | undefined;
  readonly #success: Inc | undefined;
  readonly #failure: Inc | undefined;
  readonly #deadLettered: Inc | undefined;
  readonly #seconds: Observe | undefined;
  readonly #spanName: string;
  readonly #attributes: Readonly<Record<string, string>>;

  constructor(binder: BinderKind, destination: string, group: string | undefined, observability: Observability) {
    this.#tracing = observability.tracing;
    const metrics = observability.metrics;
    const labels = { binder, destination, group: group ?? ANONYMOUS_GROUP };
    if (metrics !== undefined) {
      const consumed = counter(
        metrics,
        'trellis_events_consumed_total',
        'Events a consumer finished with: success, or failure after its last attempt',
        ['binder', 'destination', 'group', 'outcome'],
      );
      this.#success = boundCounter(consumed, { ...labels, outcome: 'success' });
      this.#failure = boundCounter(consumed, { ...labels, outcome: 'failure' });
      this.#deadLettered = boundCounter(
        counter(
          metrics,
          'trellis_events_dead_lettered_total',
          "Events moved to their group's dead-letter queue or topic",
          ['binder', 'destination', 'group'],
        ),
        labels,
      );
      this.#seconds = boundTimer(
        timer(
          metrics,
          'trellis_events_processing_seconds',
          'Time from the first attempt of an event to its outcome, retries and their backoff included',
          ['binder', 'destination', 'group'],
        ),
        labels,
      );
    }
    this.#spanName = `${destination} process`;
    this.#attributes = {
      'messaging.system': SYSTEM[binder],
      'messaging.destination.name': destination,
      'messaging.operation': 'process',
      ...(group === undefined ? {} : { 'messaging.consumer.group.name': group }),
    };
  }

  /**
   * Runs one delivery's handling (`work`, every attempt) in a CONSUMER span continuing the trace in its headers and
   * active while the handler runs, so the handler's own calls and log lines join the trace; then counts the outcome.
   * Stays synchronous when `work` is.
   */
  run<C>(carrier: C, getter: TextMapGetter<C>, work: () => Outcome | Promise<Outcome>): Outcome | Promise<Outcome> {
    const started = performance.now();
    let span: Span | undefined;
    let outcome: Outcome | Promise<Outcome>;
    try {
      if (this.#tracing === undefined) {
        outcome = work();
      } else {
        const parent = this.#tracing.extract(carrier, getter);
        const s = this.#tracing.startSpan(this.#spanName, SpanKind.CONSUMER, this.#attributes, parent);
        span = s;
        outcome = context.with(trace.setSpan(parent, s), work);
      }
    } catch (err) {
      // runHandler settles every handler failure as an outcome; this is a bug in the binder, not the handler.
      if (span !== undefined) end(span, err);
      throw err;
    }
    if (outcome instanceof Promise) {
      return outcome.then(
        (o) => this.#finish(o, started, span),
        (err: unknown) => {
          if (span !== undefined) end(span, err);
          throw err;
        },
      );
    }
    return this.#finish(outcome, started, span);
  }

  #finish(outcome: Outcome, started: number, span: Span | undefined): Outcome {
    switch (outcome.kind) {
      case 'done':
        this.#success?.inc();
        this.#seconds?.observe((performance.now() - started) / 1000);
        span?.end();
        break;
      case 'dead':
        this.#failure?.inc();
        this.#seconds?.observe((performance.now() - started) / 1000);
        if (span !== undefined) end(span, failureOf(outcome));
        break;
      case 'abandoned':
        // Delivered again later, where it is counted; this span only says the consumer let go of it.
        span?.setAttribute('messaging.trellis.abandoned', true);
        span?.end();
        break;
    }
    return outcome;
  }

  /** The message went to the group's dead-letter queue or topic (its headers, trace ones included, kept). */
  deadLettered(): void {
    this.#deadLettered?.inc();
  }
}

/** The observers a binder makes its producers and consumers with; none when the service observes nothing. */
export class BinderObservation {
  readonly #binder: BinderKind;
  readonly #observability: Observability;
  readonly #on: boolean;

  constructor(binder: BinderKind, observability: Observability) {
    this.#binder = binder;
    this.#observability = observability;
    this.#on = observability.metrics !== undefined || observability.tracing !== undefined;
  }

  producer(destination: string): ProducerObserver | undefined {
    return this.#on ? new ProducerObserver(this.#binder, destination, this.#observability) : undefined;
  }

  consumer(destination: string, group: string | undefined): ConsumerObserver | undefined {
    return this.#on ? new ConsumerObserver(this.#binder, destination, group, this.#observability) : undefined;
  }
}
