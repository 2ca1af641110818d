// The events binders' metrics and trace propagation, checked the same way on every binder: spans read back from a
// real Zipkin, meters from the service registry's scrape, trace headers from the messages themselves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, createObservability, SpanKind, trace, withObservability, type Observability } from '@trellis/kit';
import { startZipkin, type Zipkin } from '@trellis/kit/zipkin-server';
import type { EventBinder, EventMessage } from '../../src/events/index.ts';
import { uniqueName, waitFor } from './helpers.ts';
import { sampleValue } from '../../../kit/test/support/scrape.ts';
import { traceSpans, zipkinObservability, type ZipkinSpan } from '../../../kit/test/support/zipkin-trace.ts';

/** Makes a binder; it must take the observability of the scope it is made in when `observability` is not given. */
export type MakeBinder = (observability?: Observability) => Promise<EventBinder>;

const SYSTEM = { embedded: 'trellis-embedded', rabbit: 'rabbitmq', kafka: 'kafka' } as const;

export interface SuiteOptions {
  /** How long a delivery may take (a Kafka group join takes seconds). Default 30 s. */
  readonly timeoutMs?: number;
  /** Removes what the tests declared on a shared broker. */
  readonly cleanup?: (destinations: readonly string[]) => Promise<void>;
}

export function observabilitySuite(
  kind: EventBinder['kind'],
  makeBinder: MakeBinder,
  options: SuiteOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const destinations: string[] = [];
  const name = (prefix: string): string => {
    const d = uniqueName(prefix);
    destinations.push(d);
    return d;
  };
  describe(`${kind} binder observability`, () => {
    let zipkin: Zipkin;
    let obs: Observability;
    let binder: EventBinder;
    const binders: EventBinder[] = [];

    beforeAll(async () => {
      zipkin = await startZipkin();
      obs = await createObservability('events-test', zipkinObservability(zipkin.spansUrl));
      // Made inside the service's scope without being handed it, as a service's start-up makes its clients.
      binder = await withObservability(obs, () => makeBinder());
      binders.push(binder);
    }, 180_000);

    afterAll(async () => {
      await Promise.all(binders.map((b) => b.close()));
      await options.cleanup?.(destinations);
      await obs?.tracing?.shutdown();
      await zipkin?.stop();
    }, 60_000);

    async function scrape(): Promise<string> {
      return (await obs.metrics!.render(false)).body;
    }

    async function traceOf(traceId: string, count: number): Promise<ZipkinSpan[]> {
      return traceSpans(zipkin.url, traceId, {
        atLeast: count,
        timeoutMs: 20_000,
        intervalMs: 20,
        beforeRead: () => obs.tracing!.flush(),
      });
    }

    it(
      'carries the producer span in traceparent and makes it the parent of an active consumer span',
      async () => {
        const d = name('traced');
        const seen: { traceId: string | undefined; headers: EventMessage<unknown>['headers'] }[] = [];
        const consumer = await binder.consume<{ n: number }>({
          destination: d,
          group: 'g',
          handler: (message) => {
            // The handler's own work (an outgoing call, a log line) sees the consumer span as the active one.
            seen.push({
              traceId: trace.getSpan(context.active())?.spanContext().traceId,
              headers: message.headers,
            });
          },
        });
        const producer = await binder.producer<{ n: number }>({ destination: d, requiredGroups: ['g'] });
        const root = obs.tracing!.startSpan('place order', SpanKind.INTERNAL);
        const traceId = root.spanContext().traceId;
        await context.with(trace.setSpan(context.active(), root), () => producer.send({ n: 1 }));
        root.end();
        await waitFor(() => seen.length === 1, timeoutMs, 'the delivery');
        await consumer.close();

        expect(seen[0]?.traceId).toBe(traceId);
        expect(String(seen[0]?.headers.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

        const spans = await traceOf(traceId, 3);
        const send = spans.find((s) => s.name === `${d} send`);
        const process = spans.find((s) => s.name === `${d} process`);
        expect(send).toMatchObject({ kind: 'PRODUCER', parentId: root.spanContext().spanId });
        expect(send?.tags).toMatchObject({
          'messaging.system': SYSTEM[kind],
          'messaging.destination.name': d,
          'messaging.operation': 'send',
        });
        expect(process).toMatchObject({ kind: 'CONSUMER', parentId: send?.id });
        expect(process?.tags).toMatchObject({
          'messaging.system': SYSTEM[kind],
          'messaging.destination.name': d,
          'messaging.consumer.group.name': 'g',
        });
        expect(String(seen[0]?.headers.traceparent)).toContain(`-${send?.id}-`);

        const metrics = await scrape();
        const labels = { application: 'events-test', binder: kind, destination: d };
        expect(sampleValue(metrics, 'trellis_events_published_total', labels)).toBe(1);
        expect(
          sampleValue(metrics, 'trellis_events_consumed_total', { ...labels, group: 'g', outcome: 'success' }),
        ).toBe(1);
        expect(sampleValue(metrics, 'trellis_events_processing_seconds_count', { ...labels, group: 'g' })).toBe(1);
        expect(sampleValue(metrics, 'trellis_events_consumed_total', { ...labels, outcome: 'failure' })).toBe(0);
        expect(sampleValue(metrics, 'trellis_events_dead_lettered_total', { ...labels, group: 'g' })).toBe(0);
      },
      timeoutMs * 2,
    );

    it(
      'counts a handler that keeps throwing as a failure and a dead letter, fails its span and keeps its trace headers',
      async () => {
        const d = name('failing');
        let attempts = 0;
        const consumer = await binder.consume<{ n: number }>({
          destination: d,
          group: 'g',
          maxAttempts: 2,
          backoff: { initialIntervalMs: 10 },
          handler: () => {
            attempts++;
            throw new RangeError('no such order');
          },
        });
        const producer = await binder.producer<{ n: number }>({ destination: d, requiredGroups: ['g'] });
        const root = obs.tracing!.startSpan('place order', SpanKind.INTERNAL);
        const traceId = root.spanContext().traceId;
        await context.with(trace.setSpan(context.active(), root), () => producer.send({ n: 1 }));
        root.end();
        const labels = { binder: kind, destination: d, group: 'g' };
        await waitFor(
          async () => sampleValue(await scrape(), 'trellis_events_dead_lettered_total', labels) === 1,
          timeoutMs,
          'the dead-letter counter',
        );
        await consumer.close();
        expect(attempts).toBe(2);

        const metrics = await scrape();
        expect(sampleValue(metrics, 'trellis_events_consumed_total', { ...labels, outcome: 'failure' })).toBe(1);
        expect(sampleValue(metrics, 'trellis_events_consumed_total', { ...labels, outcome: 'success' })).toBe(0);

        const spans = await traceOf(traceId, 3);
        const process = spans.find((s) => s.name === `${d} process`);
        expect(process?.tags).toMatchObject({ 'otel.status_code': 'ERROR', error: 'RangeError' });

        // A replayed dead letter continues the trace it was sent in.
        const letters = await binder.deadLetters(d, 'g').list();
        expect(letters).toHaveLength(1);
        expect(String(letters[0]?.headers.traceparent)).toContain(traceId);
      },
      timeoutMs * 2,
    );

    it(
      "joins a trace a Spring producer started with a single b3 header (Brave's B3 propagation)",
      async () => {
        const d = name('b3');
        // A producer that observes nothing stands in for a Spring app with B3 propagation: only our header travels.
        const plain = await makeBinder({});
        binders.push(plain);
        const traceIds: (string | undefined)[] = [];
        const consumer = await binder.consume<{ n: number }>({
          destination: d,
          group: 'g',
          handler: () => void traceIds.push(trace.getSpan(context.active())?.spanContext().traceId),
        });
        const producer = await plain.producer<{ n: number }>({ destination: d, requiredGroups: ['g'] });
        const traceId = '463ac35c9f6413ad48485a3953bb6124';
        await producer.send({ n: 1 }, { headers: { b3: `${traceId}-0020000000000001-1` } });
        await waitFor(() => traceIds.length === 1, timeoutMs, 'the delivery');
        await consumer.close();
        expect(traceIds[0]).toBe(traceId);

        const spans = await traceOf(traceId, 1);
        expect(spans.find((s) => s.name === `${d} process`)).toMatchObject({ parentId: '0020000000000001' });
        // The producer that observes nothing recorded nothing: the service's scope is not a global.
        expect(sampleValue(await scrape(), 'trellis_events_published_total', { destination: d })).toBeUndefined();
      },
      timeoutMs * 2,
    );
  });
}
